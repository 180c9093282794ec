import Foundation
import SkiffAgentClient
import SkiffCloud

/// The agent calls create-env and delete-env make, so that a deploy can be run against the real agent client
/// (`AgentClient`, HTTPS mbus) or an in-process agent in tests.
public protocol AgentConnection: Sendable {
    /// Pings until the agent answers or `timeout` passes.
    func waitUntilReady(timeout: Duration, delay: Duration) async throws
    /// `get_state`.
    func getState() async throws -> AgentState
    /// `apply`.
    func apply(_ spec: ApplySpec) async throws -> JSONValue
    /// `start`.
    func start() async throws
    /// `stop`.
    func stop() async throws
    /// `drain` (shutdown).
    func drain() async throws
    /// `run_script NAME`.
    func runScript(_ name: String) async throws
    /// `compile_package`.
    func compilePackage(
        blobstoreID: String, sha1: String, name: String, version: String, dependencies: [String: ApplySpec.BlobRef]
    ) async throws -> CompiledPackage
    /// `add_persistent_disk`.
    func addPersistentDisk(cid: String, hint: JSONValue) async throws
    /// `remove_persistent_disk`.
    func removePersistentDisk(cid: String) async throws
    /// `mount_disk`.
    func mountDisk(cid: String) async throws
    /// `unmount_disk`.
    func unmountDisk(cid: String) async throws
    /// `list_disk`.
    func listDisk() async throws -> [String]
    /// `migrate_disk`.
    func migrateDisk() async throws
    /// Uploads a file to the agent's blobstore; returns its id and digest.
    func uploadBlob(file: String) async throws -> (id: String, digest: String)
    /// Closes the connection.
    func shutdown() async
}

extension AgentConnection {
    /// Polls `get_state` until the agent reports `running` (the manifest's `update_watch_time` is `limit`), or fails
    /// naming the processes that are not. Jobs usually run within tens of milliseconds of `start`, so the first ask
    /// comes at once and the pause doubles from 10 ms to 250 ms (bosh asks every second).
    func waitUntilRunning(instance: String, limit: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var pause = Duration.milliseconds(10)
        while true {
            try Task.checkCancellation()
            let state = try await getState()
            if state.jobState == "running" { return }
            if clock.now >= deadline {
                let stopped = state.processes.filter { $0.state != "running" }.map { "\($0.name) (\($0.state))" }
                let detail = stopped.isEmpty ? "" : "; processes not running: \(stopped.joined(separator: ", "))"
                throw DeployError(
                    .agent, "instance '\(instance)' is not running: job state '\(state.jobState)'\(detail)")
            }
            try await Task.sleep(for: min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(250))
        }
    }
}

extension AgentClient: AgentConnection {
    /// `get_state` (not full).
    public func getState() async throws -> AgentState { try await getState(full: false) }

}
