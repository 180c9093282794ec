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

extension AgentClient: AgentConnection {
    /// `get_state` (not full).
    public func getState() async throws -> AgentState { try await getState(full: false) }

}
