import ArgumentParser
import SkiffDeploy

/// `skiff stop-env`: stops the deployed instance's jobs through its agent (BOSH CLI 7 `stop-env`).
struct StopEnv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop-env",
        abstract: "Stop the jobs of the environment a BOSH create-env manifest describes; the VM and disk stay."
    )

    @OptionGroup var environment: EnvironmentArguments

    func run() async throws {
        try await environment.run { options, sink in
            try await EnvironmentStartStop(options: options, sink: sink).stopEnv()
        }
    }
}
