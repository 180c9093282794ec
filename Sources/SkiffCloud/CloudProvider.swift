/// A cloud, as BOSH sees it through the CPI API v2: one async method per CPI method.
///
/// Implementations throw ``CloudError``; any other error is reported as `Unknown` by ``CPIDispatcher``.
/// The request's context is available as ``CPIContext/current`` while a dispatched call runs.
public protocol CloudProvider: Sendable {
    /// `info`: the API version and stemcell formats.
    func info() async throws -> CPIInfo
    /// `create_stemcell`: imports the image at `imagePath`; returns the stemcell cid.
    func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String
    /// `delete_stemcell`.
    func deleteStemcell(_ stemcellCID: String) async throws
    /// `create_vm`: returns the VM cid and the networks as configured.
    func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM
    /// `delete_vm`; a missing VM throws `VMNotFound`.
    func deleteVM(_ vmCID: String) async throws
    /// `has_vm`.
    func hasVM(_ vmCID: String) async throws -> Bool
    /// `reboot_vm`.
    func rebootVM(_ vmCID: String) async throws
    /// `set_vm_metadata`.
    func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws
    /// `set_disk_metadata`; the default implementation throws `NotImplemented`, which callers ignore.
    func setDiskMetadata(_ diskCID: String, metadata: [String: String]) async throws
    /// `create_disk`: returns the disk cid.
    func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String
    /// `attach_disk`: returns the disk hint for the agent (API v2).
    func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue
    /// `detach_disk`.
    func detachDisk(vmCID: String, diskCID: String) async throws
    /// `delete_disk`; a missing disk throws `DiskNotFound`.
    func deleteDisk(_ diskCID: String) async throws
    /// `has_disk`.
    func hasDisk(_ diskCID: String) async throws -> Bool
    /// `get_disks`: the cids of the disks attached to the VM.
    func getDisks(vmCID: String) async throws -> [String]
}

extension CloudProvider {
    /// Not implemented unless the provider says otherwise.
    public func setDiskMetadata(_ diskCID: String, metadata: [String: String]) async throws {
        throw CloudError.notImplemented("set_disk_metadata")
    }
}

/// The CPI methods skiff knows, by wire name.
public enum CPIMethod: String, Sendable, CaseIterable {
    case info
    case createStemcell = "create_stemcell"
    case deleteStemcell = "delete_stemcell"
    case createVM = "create_vm"
    case deleteVM = "delete_vm"
    case hasVM = "has_vm"
    case rebootVM = "reboot_vm"
    case setVMMetadata = "set_vm_metadata"
    case setDiskMetadata = "set_disk_metadata"
    case createDisk = "create_disk"
    case attachDisk = "attach_disk"
    case detachDisk = "detach_disk"
    case deleteDisk = "delete_disk"
    case hasDisk = "has_disk"
    case getDisks = "get_disks"
}

/// A cloud that can find a VM by the agent id it was created with. create-env uses it to find a VM whose
/// `create_vm` was interrupted before its cid reached the state file, so that VM is deleted, not leaked.
public protocol AgentIDLookup: CloudProvider {
    /// The cid of the VM created for `agentID`, or nil if there is none.
    func findVM(agentID: String) async throws -> String?
}
