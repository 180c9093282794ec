import ArgumentParser
import Foundation

/// The `skiff` command: BOSH's director-less workflow, IPv6 first.
@main
struct Skiff: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Deploy one IPv6-ready VM from a BOSH create-env manifest, without a director.",
        discussion: """
            skiff reads the same manifests, vars files and ops files as the BOSH CLI's create-env, \
            delete-env and interpolate commands, and speaks the same CPI and agent protocols.
            """,
        version: version,
        subcommands: [
            IP.self, Interpolate.self, CreateEnv.self, DeleteEnv.self, StopEnv.self, StartEnv.self, CPI.self,
            Local.self,
            AgentCommand.self, AWS.self, Render.self, StemcellCommand.self,
        ]
    )

    @OptionGroup(title: "Global options (accepted anywhere on the command line)") var global: GlobalOptions

    /// Parses the command line and runs the subcommand. The BOSH CLI's global flags may stand anywhere; a usage
    /// error exits 1, as bosh does (not sysexits' 64).
    static func main() async {
        let (global, arguments) = GlobalFlags.extract(from: Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            GlobalFlags.current = global
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }
}
