import ArgumentParser
import Foundation
import Synchronization

/// The BOSH CLI's global flags, as `skiff --help` lists them. They are accepted anywhere on the command line
/// (`skiff -n create-env …`, `skiff create-env … --no-color`): ``GlobalFlags/extract(from:)`` takes them out of the
/// arguments before the subcommand is parsed.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .customLong("no-color"), help: "Toggle colorized output off.")
    var noColor = false

    @Flag(name: .customLong("tty"), help: "Force TTY-like output (colours) even when stdout is not a terminal.")
    var tty = false

    @Flag(
        name: [.customShort("n"), .customLong("non-interactive")],
        help: "Don't ask for user input (skiff never asks; accepted as the BOSH CLI does).")
    var nonInteractive = false
}

/// The global flags of this run.
struct GlobalFlags: Sendable {
    var noColor = false
    var tty = false
    var nonInteractive = false

    /// The flags of this run, set once by the main entry before the subcommand runs.
    static var current: GlobalFlags {
        get { shared.withLock { $0 } }
        set { shared.withLock { $0 = newValue } }
    }
    private static let shared = Mutex(GlobalFlags())

    /// The global flags the arguments hold (before any `--`), and the arguments without them.
    static func extract(from arguments: [String]) -> (GlobalFlags, [String]) {
        var flags = GlobalFlags()
        var rest: [String] = []
        var literal = false
        for argument in arguments {
            if literal {
                rest.append(argument)
                continue
            }
            switch argument {
            case "--":
                literal = true
                rest.append(argument)
            case "--no-color": flags.noColor = true
            case "--tty": flags.tty = true
            case "-n", "--non-interactive": flags.nonInteractive = true
            default: rest.append(argument)
            }
        }
        return (flags, rest)
    }

    /// Whether progress may use colours: a terminal (or `--tty`), no `--no-color` and no `NO_COLOR`.
    var colorOutput: Bool {
        !noColor && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && (tty || isatty(STDOUT_FILENO) == 1)
    }
}
