import ArgumentParser
import SkiffDeploy

/// `skiff start-env`: starts the deployed instance's jobs through its agent and waits until they run (BOSH CLI 7
/// `start-env`).
struct StartEnv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-env",
        abstract: "Start the jobs of the environment a BOSH create-env manifest describes and wait until they run."
    )

    @OptionGroup var environment: EnvironmentArguments

    func run() async throws {
        try await environment.run { options, sink in
            try await EnvironmentStartStop(options: options, sink: sink).startEnv()
        }
    }
}
