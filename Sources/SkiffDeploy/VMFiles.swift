import Foundation
import SkiffCloud

/// Where an error's files inside a VM are on this host, for clouds whose VMs' files are here (the local cloud).
enum VMFiles {
    /// The note added to a message that names files under `/var/vcap` inside VM `vmCID`, or nil.
    static func note(for message: String, vmCID: String, cloud: any CloudProvider) -> String? {
        guard message.contains("/var/vcap/"), let locator = cloud as? any VMFileLocating,
            let root = locator.hostRoot(vmCID: vmCID)
        else { return nil }
        return "(those paths are inside the VM; on this host under \(root))"
    }

    /// Runs `body`; a failed step whose error names files inside the VM gets where they are on this host.
    static func locating<T>(
        vmCID: String, cloud: any CloudProvider, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as StageError {
            let text = "\(error.cause)"
            guard let note = note(for: text, vmCID: vmCID, cloud: cloud) else { throw error }
            throw StageError(stage: error.stage, cause: DeployError(.agent, text + " " + note))
        }
    }
}
