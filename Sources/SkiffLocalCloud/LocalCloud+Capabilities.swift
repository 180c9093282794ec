import Foundation
import SkiffCloud

extension LocalCloud: CloudCapabilityReporting {
    /// The local cloud mounts one disk at /var/vcap/store, so it cannot attach a second disk to migrate content.
    public var capabilities: CloudCapabilities { CloudCapabilities(migratesDisks: false) }

    /// Checks root, the host programs and the networks as `create_vm` would, changing nothing.
    public func preflight(networks: [String: CPINetwork], cloudProperties: [String: JSONValue]) async throws {
        let tools = try hostTools()
        let plan = try NetworkPlan(networks: networks)
        if let existing = try network(tools).load(plan.name), Host.linkExists(existing.bridge) {
            try plan.check(against: existing)
        }
        if let command = cloudProperties["agent_command"] {
            // The command runs inside the VM, from its stemcell's root, so only its shape can be checked here.
            guard let words = command.arrayValue?.compactMap(\.stringValue), !words.isEmpty else {
                throw CloudError.cloud("cloud_properties.agent_command must be a non-empty list of strings")
            }
        }
    }
}

extension LocalCloud: InterruptedCreationLookup {
    /// Imports the stemcell, recording `creationID` with it.
    public func createStemcell(
        imagePath: String, cloudProperties: [String: JSONValue], creationID: String
    ) async throws -> String {
        try await importStemcell(imagePath: imagePath, cloudProperties: cloudProperties, uploadID: creationID)
    }

    /// The stemcell imported with `creationID`, if any; half-imported ones are removed on the way.
    public func findStemcell(creationID: String) async throws -> String? {
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        await collectGarbage()
        for cid in Files.list(layout.stemcells) {
            let record = try Files.load(StemcellRecord.self, from: layout.stemcell(cid) + "/stemcell.json")
            if let record, record.uploadID == creationID { return record.cid }
        }
        return nil
    }

    /// Creates the disk, recording `creationID` with it.
    public func createDisk(
        sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?, creationID: String
    ) async throws -> String {
        try await makeDisk(sizeMiB: sizeMiB, creationID: creationID)
    }

    /// The disk created with `creationID`, if any.
    public func findDisk(creationID: String) async throws -> String? {
        for cid in Files.list(layout.disks) {
            if let record = try loadDisk(cid), record.creationID == creationID { return record.cid }
        }
        return nil
    }
}

extension LocalCloud: VMFileLocating {
    /// `STATE_DIR/vms/CID/root`, the VM's root filesystem as mounted on the host while the VM exists.
    public func hostRoot(vmCID: String) -> String? {
        Self.isSafeName(vmCID) ? layout.vm(vmCID) + "/root" : nil
    }

    /// Whether the VM's init (tini, its container's first process) is alive.
    public func isRunning(vmCID: String) -> Bool? {
        guard let record = try? loadVM(vmCID), let pid = record.holderPID else { return nil }
        return Host.isAlive(pid)
    }

    /// `STATE_DIR/vms/CID/console.log`.
    public func consoleLog(vmCID: String) -> String? {
        Self.isSafeName(vmCID) ? layout.vm(vmCID) + "/console.log" : nil
    }

    /// skiff's agent's `agent.log`, or, in a VM of the real bosh-agent, runit's `/var/vcap/bosh/log/current`.
    public func agentLog(vmCID: String) -> String? {
        guard let root = hostRoot(vmCID: vmCID) else { return nil }
        let runit = root + "/var/vcap/bosh/log/current"
        return servesMetadata(vmCID: vmCID) && Files.exists(runit)
            ? runit : root + "/var/vcap/bosh/log/agent.log"
    }
}
