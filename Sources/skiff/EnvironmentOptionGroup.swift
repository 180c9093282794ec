import ArgumentParser
import Foundation
import SkiffDeploy

/// The flags create-env and delete-env share with the BOSH CLI: state, drain, output.
struct EnvironmentFlags: ParsableArguments {
    @Option(name: .customLong("state"), help: "State file path (default: <manifest>-state.json beside the manifest).")
    var state: String?

    @Flag(name: .customLong("skip-drain"), help: "Skip running drain scripts.")
    var skipDrain = false

    @Flag(name: .customLong("json"), help: "Report progress as JSON lines, for programs.")
    var json = false

    /// The progress reporter the flags ask for.
    var sink: any ProgressSink {
        json ? JSONProgress.standardOutput() : TextProgress.standardOutput()
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
    defer { sources.forEach { $0.cancel() } }
    return try await task.value
}
