import ArgumentParser
import Foundation
import SkiffDeploy

/// The flags create-env and delete-env share with the BOSH CLI: state, drain, output.
struct EnvironmentFlags: ParsableArguments {
    @Option(
        name: .customLong("state"), help: "State file path (default: <manifest>-state.json beside the manifest).",
        completion: .file())
    var state: String?

    @Flag(name: .customLong("skip-drain"), help: "Skip running drain scripts.")
    var skipDrain = false

    @Flag(name: .customLong("json"), help: "Report progress as JSON lines, for programs.")
    var json = false

    /// The progress reporter the flags ask for; colours as the global `--no-color` and `--tty` say.
    var sink: any ProgressSink {
        if json { return JSONProgress.standardOutput() }
        return TextProgress(color: GlobalFlags.current.colorOutput) { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    /// Ends a successful run: `Succeeded`, or the `succeeded` event with `--json`.
    func reportSucceeded(_ sink: any ProgressSink) {
        if let json = sink as? JSONProgress {
            json.emit(["event": "succeeded"])
        } else {
            sink.line("")
            sink.line("Succeeded")
        }
    }
}

/// The running `skiff` binary, which local-cloud VMs start as their agent.
var skiffExecutablePath: String {
    let path = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    return FileManager.default.fileExists(atPath: path) ? path : CommandLine.arguments[0]
}

/// Runs `body` as a task that SIGINT and SIGTERM cancel; the deploy then stops at the next step, state written.
func cancellableOnSignals<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await body() }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let sources = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            printError("skiff: interrupted; stopping after the current step (state is saved)")
            task.cancel()
        }
        source.resume()
        return source
    }
    defer { for source in sources { source.cancel() } }
    return try await task.value
}

/// What stop-env and start-env take: the manifest the environment was created from, its variables and ops
/// files, and the state flags.
struct EnvironmentArguments: ParsableArguments {
    @Argument(help: "The manifest the environment was created from.", completion: .file())
    var manifest: String

    @OptionGroup var vars: VarsOptions
    @OptionGroup var flags: EnvironmentFlags

    /// The library's options for these arguments.
    var options: EnvironmentOptions {
        EnvironmentOptions(
            manifestPath: manifest, statePath: flags.state, opsFiles: vars.opsFiles, variables: vars.flags,
            skipDrain: flags.skipDrain, skiffExecutable: skiffExecutablePath)
    }

    /// Runs `body` (cancelled by SIGINT or SIGTERM) with the options and the progress reporter, then reports
    /// success; any error is one line on stderr and exit status 1.
    func run(_ body: @escaping @Sendable (EnvironmentOptions, any ProgressSink) async throws -> Void) async throws {
        let options = self.options
        let sink = flags.sink
        try await reportingErrors {
            try await cancellableOnSignals { try await body(options, sink) }
        }
        flags.reportSucceeded(sink)
    }
}
