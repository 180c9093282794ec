import Foundation
import SkiffAgentClient
import SkiffCore

/// `stop-env` and `start-env` (BOSH CLI 7): the deployed instance's jobs stopped or started through its agent.
/// The VM, its disk and the cloud are left alone; no CPI is involved. As in the BOSH CLI, a missing state file is
/// not an error: there is nothing to stop or start.
public struct EnvironmentStartStop: Sendable {
    let options: EnvironmentOptions
    let stages: Stages

    /// A runner reporting to `sink`.
    public init(options: EnvironmentOptions, sink: any ProgressSink) {
        self.options = options
        self.stages = Stages(sink: sink)
    }

    /// Runs the pre-stop scripts, drains (unless `skipDrain`), stops the jobs and runs the post-stop scripts.
    /// Returns false when there was no state file.
    @discardableResult
    public func stopEnv() async throws -> Bool {
        try await withInstance("stopping deployment") { agent, instance, _, stages in
            try await stages.step("Running the pre-stop scripts '\(instance)'") {
                try await agent.runScript("pre-stop")
            }
            if !options.skipDrain {
                try await stages.step("Draining jobs on instance '\(instance)'") { try await agent.drain() }
            }
            try await stages.step("Stopping jobs on instance '\(instance)'") { try await agent.stop() }
            try await stages.step("Running the post-stop scripts '\(instance)'") {
                try await agent.runScript("post-stop")
            }
        }
    }

    /// Runs the pre-start scripts, starts the jobs, waits until they run (the manifest's `update.update_watch_time`)
    /// and runs the post-start scripts. Returns false when there was no state file.
    @discardableResult
    public func startEnv() async throws -> Bool {
        try await withInstance("starting deployment") { agent, instance, manifest, stages in
            try await stages.step("Starting instance '\(instance)'") {
                try await agent.runScript("pre-start")
                try await agent.start()
            }
            try await stages.step("Waiting for instance '\(instance)' to be running") {
                try await agent.waitUntilRunning(
                    instance: instance, limit: .milliseconds(max(manifest.watchTime.upperBound, 1_000)))
            }
            try await stages.step("Running the post-start scripts '\(instance)'") {
                try await agent.runScript("post-start")
            }
        }
    }

    /// Reads the state (locked while working) and the manifest, reaches the instance's agent, and runs `body`.
    private func withInstance(
        _ group: String,
        _ body: @Sendable (AgentClient, String, DeploymentManifest, Stages) async throws -> Void
    ) async throws -> Bool {
        let store = StateStore(url: options.stateURL)
        stages.sink.line("Deployment manifest: '\(options.manifestURL.path)'")
        stages.sink.line("Deployment state: '\(store.url.path)'")
        guard store.exists else {
            stages.sink.line("")
            stages.sink.line("No deployment state file found.")
            return false
        }
        try store.lock()
        defer { store.unlock() }
        guard let state = try store.load(), !state.currentVMCID.isEmpty else {
            throw DeployError(.state, "no deployed VM is recorded; run create-env first", at: store.url.path)
        }
        let environment = try await stages.group("validating") { stages in
            try await stages.step("Validating deployment manifest") { try LoadedEnvironment.load(options) }
        }
        guard let environment else { throw DeployError(.manifest, "the manifest could not be read") }
        let manifest = environment.manifest
        let instance = "\(manifest.instanceGroup)/0"
        let agent = try manifest.agentClient(directorID: state.directorID)
        do {
            try await stages.group(group) { stages in
                try await stages.step("Waiting for the agent on VM '\(state.currentVMCID)'") {
                    do {
                        try await agent.waitUntilReady(timeout: .seconds(30), delay: .milliseconds(100))
                    } catch {
                        throw DeployError(.agent, "the agent on VM '\(state.currentVMCID)' does not answer: \(error)")
                    }
                }
                try await body(agent, instance, manifest, stages)
            }
        } catch {
            await agent.shutdown()
            throw error
        }
        await agent.shutdown()
        return true
    }
}
