/// What a cloud can and cannot do beyond the CPI methods, so that create-env decides from facts about the cloud
/// rather than from which cloud it is.
public struct CloudCapabilities: Sendable, Hashable {
    /// Whether a VM can have a second persistent disk attached while the first is, so the agent can copy the old
    /// disk's content to a new one (a disk migration when `disk_size` or its `cloud_properties` change).
    public var migratesDisks: Bool

    /// Capabilities; by default those of any CPI that implements the API fully.
    public init(migratesDisks: Bool = true) {
        self.migratesDisks = migratesDisks
    }

    /// What create-env assumes of a CPI that says nothing (an external CPI executable).
    public static let standard = CloudCapabilities()
}

/// A cloud that describes itself and checks a VM request before anything changes.
public protocol CloudCapabilityReporting: CloudProvider {
    /// What the cloud can do.
    var capabilities: CloudCapabilities { get }

    /// Checks without changing anything that `create_vm` with these arguments could succeed here: privileges, host
    /// programs, network shapes and addresses. Errors are in the cloud's own words.
    func preflight(networks: [String: CPINetwork], cloudProperties: [String: JSONValue]) async throws
}

/// A cloud that can find a stemcell or disk by an id chosen before `create_stemcell` or `create_disk` was sent, so
/// that one created by a call interrupted before its cid was recorded is found and removed instead of leaked.
public protocol InterruptedCreationLookup: CloudProvider {
    /// `create_stemcell`, keeping `creationID` with the stemcell.
    func createStemcell(
        imagePath: String, cloudProperties: [String: JSONValue], creationID: String
    ) async throws -> String
    /// The cid of the stemcell created with `creationID`, or nil if there is none.
    func findStemcell(creationID: String) async throws -> String?
    /// `create_disk`, keeping `creationID` with the disk.
    func createDisk(
        sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?, creationID: String
    ) async throws -> String
    /// The cid of the disk created with `creationID`, or nil if there is none.
    func findDisk(creationID: String) async throws -> String?
}

extension CloudProvider {
    /// The cloud's capabilities, ``CloudCapabilities/standard`` unless it reports its own.
    public var reportedCapabilities: CloudCapabilities {
        (self as? any CloudCapabilityReporting)?.capabilities ?? .standard
    }
}

/// A cloud whose VMs' files are on this machine, so an error that names a file inside a VM (a job's log) can also
/// say where the operator finds it.
public protocol VMFileLocating: CloudProvider {
    /// The host directory that is the root filesystem of VM `vmCID`, or nil if it has none here.
    func hostRoot(vmCID: String) -> String?
    /// False once VM `vmCID`'s first process has ended (nothing in it can answer any more); nil if unknown.
    func isRunning(vmCID: String) -> Bool?
    /// The file where VM `vmCID`'s first process wrote what it printed, if there is one on this host.
    func consoleLog(vmCID: String) -> String?
    /// The agent's log of VM `vmCID` on this host, if there is one.
    func agentLog(vmCID: String) -> String?
}

extension VMFileLocating {
    /// skiff's agent's log: `/var/vcap/bosh/log/agent.log` under the VM's root.
    public func agentLog(vmCID: String) -> String? {
        hostRoot(vmCID: vmCID).map { $0 + "/var/vcap/bosh/log/agent.log" }
    }
}
