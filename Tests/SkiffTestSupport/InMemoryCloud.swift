import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffDeploy

/// A cloud in memory: stemcells, VMs and disks are records in a dictionary, so create-env and delete-env run in
/// milliseconds without root. It implements every capability create-env uses (finding a VM by agent id, a stemcell
/// or disk by creation id, a preflight) and keeps a log of the CPI calls.
public final class InMemoryCloud: CloudProvider, AgentIDLookup, InterruptedCreationLookup, CloudCapabilityReporting,
    @unchecked Sendable
{
    /// A VM.
    public struct VM: Sendable, Hashable {
        public var cid: String
        public var agentID: String
        public var stemcell: String
        public var disks: [String]
        public var metadata: [String: String]
    }

    /// A disk.
    public struct Disk: Sendable, Hashable {
        public var cid: String
        public var sizeMiB: Int
        public var vm: String?
        public var creationID: String?
    }

    private let lock = NSLock()
    private var _stemcells: [String: String?] = [:]
    private var _vms: [String: VM] = [:]
    private var _disks: [String: Disk] = [:]
    private var _calls: [String] = []
    private var counter = 0

    /// What the cloud says it can do.
    public let capabilities: CloudCapabilities
    /// A preflight failure to report, if any (e.g. "needs root").
    public let preflightFailure: String?

    /// An empty cloud.
    public init(capabilities: CloudCapabilities = .standard, preflightFailure: String? = nil) {
        self.capabilities = capabilities
        self.preflightFailure = preflightFailure
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func nextID(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)-\(counter)"
    }

    /// The CPI calls made, by wire name, in order.
    public var calls: [String] { locked { _calls } }
    /// The stemcell cids.
    public var stemcells: [String] { locked { _stemcells.keys.sorted() } }
    /// The VMs.
    public var vms: [VM] { locked { _vms.values.sorted { $0.cid < $1.cid } } }
    /// The disks.
    public var disks: [Disk] { locked { _disks.values.sorted { $0.cid < $1.cid } } }
    /// Everything the cloud holds, one line each; empty when nothing is left.
    public var census: [String] {
        locked {
            _stemcells.keys.sorted().map { "stemcell \($0)" } + _vms.keys.sorted().map { "vm \($0)" }
                + _disks.keys.sorted().map { "disk \($0)" }
        }
    }
    /// A fingerprint of the whole cloud, to compare before and after.
    public var snapshot: String {
        locked {
            "\(_stemcells.keys.sorted()) \(_vms.values.sorted { $0.cid < $1.cid }) \(_disks.values.sorted { $0.cid < $1.cid })"
        }
    }

    private func log(_ call: String) { _calls.append(call) }

    public func info() async throws -> CPIInfo { CPIInfo(apiVersion: 2, stemcellFormats: ["memory"]) }

    public func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String {
        locked {
            log("create_stemcell")
            let cid = nextID("sc")
            _stemcells[cid] = .some(nil)
            return cid
        }
    }

    public func createStemcell(
        imagePath: String, cloudProperties: [String: JSONValue], creationID: String
    ) async throws -> String {
        locked {
            log("create_stemcell")
            let cid = nextID("sc")
            _stemcells[cid] = creationID
            return cid
        }
    }

    public func findStemcell(creationID: String) async throws -> String? {
        locked { _stemcells.first { $0.value == creationID }?.key }
    }

    public func deleteStemcell(_ stemcellCID: String) async throws {
        try locked {
            log("delete_stemcell")
            guard _stemcells.removeValue(forKey: stemcellCID) != nil else {
                throw CloudError.stemcellNotFound(stemcellCID)
            }
        }
    }

    public func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM {
        try locked {
            log("create_vm")
            guard _stemcells[stemcellCID] != nil else { throw CloudError.cloud("stemcell \(stemcellCID) not found") }
            let cid = nextID("vm")
            _vms[cid] = VM(cid: cid, agentID: agentID, stemcell: stemcellCID, disks: [], metadata: [:])
            return CreatedVM(cid: cid, networks: networks)
        }
    }

    public func findVM(agentID: String) async throws -> String? {
        locked { _vms.values.first { $0.agentID == agentID }?.cid }
    }

    public func deleteVM(_ vmCID: String) async throws {
        try locked {
            log("delete_vm")
            guard let vm = _vms.removeValue(forKey: vmCID) else { throw CloudError.vmNotFound(vmCID) }
            for disk in vm.disks { _disks[disk]?.vm = nil }
        }
    }

    public func hasVM(_ vmCID: String) async throws -> Bool { locked { _vms[vmCID] != nil } }

    public func rebootVM(_ vmCID: String) async throws {
        try locked { guard _vms[vmCID] != nil else { throw CloudError.vmNotFound(vmCID) } }
    }

    public func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {
        try locked {
            guard _vms[vmCID] != nil else { throw CloudError.vmNotFound(vmCID) }
            _vms[vmCID]?.metadata.merge(metadata) { $1 }
        }
    }

    public func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String {
        locked {
            log("create_disk")
            let cid = nextID("disk")
            _disks[cid] = Disk(cid: cid, sizeMiB: sizeMiB, vm: nil, creationID: nil)
            return cid
        }
    }

    public func createDisk(
        sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?, creationID: String
    ) async throws -> String {
        locked {
            log("create_disk")
            let cid = nextID("disk")
            _disks[cid] = Disk(cid: cid, sizeMiB: sizeMiB, vm: nil, creationID: creationID)
            return cid
        }
    }

    public func findDisk(creationID: String) async throws -> String? {
        locked { _disks.values.first { $0.creationID == creationID }?.cid }
    }

    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        try locked {
            log("attach_disk")
            guard _vms[vmCID] != nil else { throw CloudError.vmNotFound(vmCID) }
            guard let disk = _disks[diskCID] else { throw CloudError.diskNotFound(diskCID) }
            if disk.vm == vmCID { return ["path": "/var/vcap/store"] }
            if let other = disk.vm { throw CloudError.cloud("disk \(diskCID) is attached to VM \(other)") }
            if !capabilities.migratesDisks, let other = _vms[vmCID]?.disks.first {
                throw CloudError.cloud("VM \(vmCID) already has disk \(other)")
            }
            _disks[diskCID]?.vm = vmCID
            _vms[vmCID]?.disks.append(diskCID)
            return ["path": "/var/vcap/store"]
        }
    }

    public func detachDisk(vmCID: String, diskCID: String) async throws {
        try locked {
            log("detach_disk")
            guard _vms[vmCID] != nil else { throw CloudError.vmNotFound(vmCID) }
            _vms[vmCID]?.disks.removeAll { $0 == diskCID }
            _disks[diskCID]?.vm = nil
        }
    }

    public func deleteDisk(_ diskCID: String) async throws {
        try locked {
            log("delete_disk")
            guard let disk = _disks[diskCID] else { throw CloudError.diskNotFound(diskCID) }
            if let vm = disk.vm, _vms[vm] != nil { throw CloudError.cloud("disk \(diskCID) is attached to \(vm)") }
            _disks.removeValue(forKey: diskCID)
        }
    }

    public func hasDisk(_ diskCID: String) async throws -> Bool { locked { _disks[diskCID] != nil } }

    public func getDisks(vmCID: String) async throws -> [String] {
        try locked {
            guard let vm = _vms[vmCID] else { throw CloudError.vmNotFound(vmCID) }
            return vm.disks
        }
    }

    public func preflight(networks: [String: CPINetwork], cloudProperties: [String: JSONValue]) async throws {
        if let preflightFailure { throw CloudError.cloud(preflightFailure) }
    }
}

/// An agent in the test process: it answers every call create-env and delete-env make, keeps what was applied and
/// which disks are mounted, and logs the calls.
public final class InMemoryAgent: AgentConnection, @unchecked Sendable {
    private let lock = NSLock()
    private var _calls: [String] = []
    private var _applied: ApplySpec?
    private var _mounted: [String] = []
    private var running = false

    /// A fresh agent.
    public init() {}

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The calls made, by method name, in order.
    public var calls: [String] { locked { _calls } }
    /// The last full apply spec.
    public var applied: ApplySpec? { locked { _applied } }

    private func log(_ call: String) { locked { _calls.append(call) } }

    public func waitUntilReady(timeout: Duration, delay: Duration) async throws { log("ping") }

    public func getState() async throws -> AgentState {
        log("get_state")
        let state = locked { running ? "running" : "stopped" }
        return try AgentState(["job_state": .string(state), "agent_id": "in-memory"])
    }

    public func apply(_ spec: ApplySpec) async throws -> JSONValue {
        locked {
            _calls.append("apply")
            _applied = spec
        }
        return "applied"
    }

    public func start() async throws {
        locked {
            _calls.append("start")
            running = true
        }
    }

    public func stop() async throws {
        locked {
            _calls.append("stop")
            running = false
        }
    }

    public func drain() async throws { log("drain") }

    public func runScript(_ name: String) async throws { log("run_script \(name)") }

    public func compilePackage(
        blobstoreID: String, sha1: String, name: String, version: String, dependencies: [String: ApplySpec.BlobRef]
    ) async throws -> CompiledPackage {
        log("compile_package \(name)")
        return CompiledPackage(blobstoreID: "compiled-\(name)", sha1: sha1)
    }

    public func addPersistentDisk(cid: String, hint: JSONValue) async throws { log("add_persistent_disk") }

    public func removePersistentDisk(cid: String) async throws { log("remove_persistent_disk") }

    public func mountDisk(cid: String) async throws {
        locked {
            _calls.append("mount_disk")
            if !_mounted.contains(cid) { _mounted.append(cid) }
        }
    }

    public func unmountDisk(cid: String) async throws {
        locked {
            _calls.append("unmount_disk")
            _mounted.removeAll { $0 == cid }
        }
    }

    public func listDisk() async throws -> [String] { locked { _mounted } }

    public func migrateDisk() async throws { log("migrate_disk") }

    public func uploadBlob(file: String) async throws -> (id: String, digest: String) {
        guard FileManager.default.fileExists(atPath: file) else {
            throw CloudError.cloud("blob \(file) does not exist")
        }
        log("upload_blob")
        return (UUID().uuidString.lowercased(), "sha256:0")
    }

    public func shutdown() async {}
}

extension DeployConnector {
    /// A connector to an in-memory cloud and agent.
    public static func inMemory(_ cloud: InMemoryCloud, agent: InMemoryAgent) -> DeployConnector {
        DeployConnector(
            capabilities: { _ in cloud.capabilities },
            cloud: { _ in (provider: cloud as any CloudProvider, name: "memory") },
            agent: { _, _ in agent as any AgentConnection })
    }
}
