import ArgumentParser
import Foundation
import SkiffDeploy

/// `skiff delete-env`: removes everything create-env made for a manifest.
struct DeleteEnv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-env",
        abstract: "Delete the environment a BOSH create-env manifest describes: VM, disk, stemcell and state file."
    )

    @Argument(help: "The manifest the environment was created from.", completion: .file())
    var manifest: String

    @OptionGroup var vars: VarsOptions
    @OptionGroup var environment: EnvironmentFlags

    @Flag(name: .customLong("force"), help: "Succeed when there is no state file (nothing to delete).")
    var force = false

    func run() async throws {
        let options = EnvironmentOptions(
            manifestPath: manifest, statePath: environment.state, opsFiles: vars.opsFiles, variables: vars.flags,
            skipDrain: environment.skipDrain, force: force, skiffExecutable: skiffExecutablePath)
        let sink = environment.sink
        try await reportingErrors {
            _ = try await cancellableOnSignals {
                try await EnvironmentDeleter(options: options, sink: sink).deleteEnv()
            }
        }
        if let json = sink as? JSONProgress {
            json.emit(["event": "succeeded"])
        } else {
            sink.line("")
            sink.line("Succeeded")
        }
    }
}
