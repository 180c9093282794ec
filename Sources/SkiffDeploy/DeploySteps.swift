import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffManifest

/// The stemcell, VM and disk steps of create-env and delete-env. Each cloud change is recorded through the journal:
/// an id is recorded before a creation whose result a kill could lose (so a re-run finds what it made), and a
/// record is removed only after the thing it describes is gone.
struct DeploySteps: Sendable {
    let journal: StateJournal
    let cloud: any CloudProvider
    let agent: any AgentConnection
    let stages: Stages
    let skipDrain: Bool

    /// The same steps reporting at another depth.
    func with(_ stages: Stages) -> DeploySteps {
        DeploySteps(journal: journal, cloud: cloud, agent: agent, stages: stages, skipDrain: skipDrain)
    }

    var state: DeploymentState { journal.state }

    // MARK: - Interrupted creations

    /// Finds what an interrupted run created but did not record (a VM, a stemcell, a disk) and records it, so it
    /// is deleted like any other; forgets the pending id when there is nothing to find.
    func adoptInterrupted() async throws {
        if state.currentVMCID.isEmpty, let pending = state.skiff.pendingAgentID {
            let orphan = try await (cloud as? any AgentIDLookup)?.findVM(agentID: pending)
            try journal.record("vm-adopted") {
                if let orphan { $0.currentVMCID = orphan }
                $0.skiff.pendingAgentID = nil
            }
        } else if state.skiff.pendingAgentID != nil {
            try journal.record("vm-adopted") { $0.skiff.pendingAgentID = nil }
        }
        let lookup = cloud as? any InterruptedCreationLookup
        if let pending = state.skiff.pendingStemcell {
            let cid = try await lookup?.findStemcell(creationID: pending.creationID)
            try journal.record("stemcell-adopted") {
                if let cid {
                    $0.stemcells.append(
                        .init(
                            id: UUID().uuidString.lowercased(), name: pending.name, version: pending.version,
                            apiVersion: pending.apiVersion, cid: cid))
                }
                $0.skiff.pendingStemcell = nil
            }
        }
        if let pending = state.skiff.pendingDisk {
            let cid = try await lookup?.findDisk(creationID: pending.creationID)
            try journal.record("disk-adopted") {
                if let cid {
                    $0.disks.append(
                        .init(
                            id: UUID().uuidString.lowercased(), cid: cid, size: pending.size,
                            cloudProperties: pending.cloudProperties))
                }
                $0.skiff.pendingDisk = nil
            }
        }
    }

    // MARK: - Stemcell

    /// Uploads the stemcell unless a record of its name and version exists.
    func uploadStemcell(_ stemcell: StemcellArchive) async throws -> DeploymentState.Stemcell {
        let name = "Uploading stemcell '\(stemcell.name)/\(stemcell.version)'"
        if let existing = state.stemcells.first(where: { $0.name == stemcell.name && $0.version == stemcell.version }) {
            try await stages.step(name) { throw SkipStep("Stemcell already uploaded") }
            return existing
        }
        let lookup = cloud as? any InterruptedCreationLookup
        let creationID = UUID().uuidString.lowercased()
        if lookup != nil {
            try journal.record("stemcell-pending") {
                $0.skiff.pendingStemcell = .init(
                    creationID: creationID, name: stemcell.name, version: stemcell.version,
                    apiVersion: stemcell.apiVersion)
            }
        }
        let cid = try await stages.step(name) {
            try await journal.cloud("create_stemcell") {
                if let lookup {
                    try await lookup.createStemcell(
                        imagePath: stemcell.imagePath, cloudProperties: stemcell.cloudProperties,
                        creationID: creationID)
                } else {
                    try await cloud.createStemcell(
                        imagePath: stemcell.imagePath, cloudProperties: stemcell.cloudProperties)
                }
            }
        }
        guard let cid, !cid.isEmpty else { throw DeployError(.cloud, "create_stemcell returned an empty cid") }
        let record = DeploymentState.Stemcell(
            id: UUID().uuidString.lowercased(), name: stemcell.name, version: stemcell.version,
            apiVersion: stemcell.apiVersion, cid: cid)
        try journal.record("stemcell") {
            $0.stemcells.append(record)
            $0.skiff.pendingStemcell = nil
        }
        return record
    }

    /// Deletes every stemcell but the current one.
    func deleteUnusedStemcells() async throws {
        for unused in state.stemcells where unused.id != state.currentStemcellID {
            try await deleteStemcell(unused, label: "Deleting unused stemcell")
        }
    }

    func deleteStemcell(_ stemcell: DeploymentState.Stemcell, label: String) async throws {
        try await stages.step("\(label) '\(stemcell.cid)'") {
            do {
                try await journal.cloud("delete_stemcell") { try await cloud.deleteStemcell(stemcell.cid) }
            } catch let error as CloudError where error.type == .stemcellNotFound {
                throw SkipStep("Stemcell not found")
            }
        }
        try journal.record("stemcell-deleted") {
            $0.stemcells.removeAll { $0.id == stemcell.id }
            if $0.currentStemcellID == stemcell.id { $0.currentStemcellID = "" }
        }
    }

    // MARK: - VM

    /// Creates the VM; its agent id is recorded first, so a VM whose cid a kill lost is found again.
    func createVM(stemcell: DeploymentState.Stemcell, manifest: DeploymentManifest) async throws {
        let agentID = UUID().uuidString.lowercased()
        var vmEnv = manifest.vmEnv
        if !manifest.tags.isEmpty {
            var bosh = vmEnv["bosh"]?.objectValue ?? [:]
            bosh["tags"] = .object(manifest.tags.mapValues { .string($0) })
            vmEnv["bosh"] = .object(bosh)
        }
        try journal.record("vm-pending") { $0.skiff.pendingAgentID = agentID }
        let created = try await stages.step(
            "Creating VM for instance '\(manifest.instanceGroup)/0' from stemcell '\(stemcell.cid)'"
        ) {
            try await journal.cloud("create_vm") {
                try await cloud.createVM(
                    agentID: agentID, stemcellCID: stemcell.cid, cloudProperties: manifest.vmCloudProperties,
                    networks: manifest.cpiNetworks, diskCIDs: [], env: vmEnv)
            }
        }
        guard let created else { throw DeployError(.cloud, "create_vm returned no VM") }
        guard !created.cid.isEmpty else { throw DeployError(.cloud, "create_vm returned an empty VM cid") }
        try journal.record("vm") {
            $0.currentVMCID = created.cid
            $0.currentStemcellID = stemcell.id
            $0.skiff.currentAgentID = agentID
            $0.skiff.pendingAgentID = nil
        }
        var metadata = [
            "deployment": manifest.name, "job": manifest.instanceGroup, "instance_group": manifest.instanceGroup,
            "index": "0", "director": "skiff", "name": "\(manifest.instanceGroup)/0",
            "created_at": ISO8601DateFormatter().string(from: Date()),
        ]
        metadata.merge(manifest.tags) { _, tag in tag }
        do {
            try await cloud.setVMMetadata(created.cid, metadata: metadata)
        } catch let error as CloudError where error.type == .notImplemented {
            // Optional for a CPI.
        }
    }

    /// Stops the instance (when its VM exists) and deletes the current VM; `tolerant` goes on when stopping fails,
    /// as delete-env does.
    func deleteVM(tolerant: Bool = false) async throws {
        let cid = state.currentVMCID
        if try await cloud.hasVM(cid) {
            do {
                try await Shutdown.run(vmCID: cid, agent: agent, skipDrain: skipDrain, stages: stages)
            } catch let error where tolerant {
                stages.sink.line("  Stopping the instance failed (\(error)); deleting the VM anyway")
            }
        }
        try await stages.step("Deleting VM '\(cid)'") {
            do {
                try await journal.cloud("delete_vm") { try await cloud.deleteVM(cid) }
            } catch let error as CloudError where error.type == .vmNotFound {
                throw SkipStep("VM not found")
            }
        }
        try journal.record("vm-deleted") {
            $0.currentVMCID = ""
            $0.currentStemcellID = ""
            $0.skiff.currentAgentID = nil
        }
    }

    // MARK: - Disk

    /// Carries out the plan's disk action on the current VM, then deletes disks no longer used.
    func deployDisk(_ action: DeployPlan.DiskAction, manifest: DeploymentManifest) async throws {
        let vm = state.currentVMCID
        switch action {
        case .none, .refuseMigration:
            return
        case .keep(let cid, _):
            try await attach(cid, vm: vm)
        case .create, .migrate:
            let old = state.currentDisk
            let record = try await createDisk(sizeMiB: manifest.diskSize, cloudProperties: manifest.diskCloudProperties)
            if let old { try await attach(old.cid, vm: vm) }
            try await attach(record.cid, vm: vm)
            if let old {
                try await stages.step("Migrating disk content from '\(old.cid)' to '\(record.cid)'") {
                    try await agent.migrateDisk()
                }
            }
            try journal.record("disk-current") { $0.currentDiskID = record.id }
            if let old {
                try await stages.step("Detaching disk '\(old.cid)'") {
                    try await agent.removePersistentDisk(cid: old.cid)
                    try await journal.cloud("detach_disk") { try await cloud.detachDisk(vmCID: vm, diskCID: old.cid) }
                }
            }
        }
        for unused in state.disks where unused.id != state.currentDiskID {
            try await deleteDisk(unused, label: "Deleting unused disk")
        }
    }

    /// Creates a disk; its creation id is recorded first when the cloud can find a disk by it.
    func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue]) async throws -> DeploymentState.Disk {
        let vm = state.currentVMCID
        let lookup = cloud as? any InterruptedCreationLookup
        let creationID = UUID().uuidString.lowercased()
        if lookup != nil {
            try journal.record("disk-pending") {
                $0.skiff.pendingDisk = .init(creationID: creationID, size: sizeMiB, cloudProperties: cloudProperties)
            }
        }
        let cid = try await stages.step("Creating disk") {
            try await journal.cloud("create_disk") {
                if let lookup {
                    try await lookup.createDisk(
                        sizeMiB: sizeMiB, cloudProperties: cloudProperties, vmCID: vm, creationID: creationID)
                } else {
                    try await cloud.createDisk(sizeMiB: sizeMiB, cloudProperties: cloudProperties, vmCID: vm)
                }
            }
        }
        guard let cid, !cid.isEmpty else { throw DeployError(.cloud, "create_disk returned an empty disk cid") }
        let record = DeploymentState.Disk(
            id: UUID().uuidString.lowercased(), cid: cid, size: sizeMiB, cloudProperties: cloudProperties)
        try journal.record("disk") {
            $0.disks.append(record)
            $0.skiff.pendingDisk = nil
        }
        return record
    }

    func attach(_ disk: String, vm: String) async throws {
        try await stages.step("Attaching disk '\(disk)' to VM '\(vm)'") {
            let hint = try await journal.cloud("attach_disk") { try await cloud.attachDisk(vmCID: vm, diskCID: disk) }
            try await agent.waitUntilReady(timeout: .seconds(600), delay: .milliseconds(50))
            if !hint.isNull { try await agent.addPersistentDisk(cid: disk, hint: hint) }
            try await agent.mountDisk(cid: disk)
        }
    }

    func deleteDisk(_ disk: DeploymentState.Disk, label: String) async throws {
        try await stages.step("\(label) '\(disk.cid)'") {
            do {
                try await journal.cloud("delete_disk") { try await cloud.deleteDisk(disk.cid) }
            } catch let error as CloudError where error.type == .diskNotFound {
                throw SkipStep("Disk not found")
            }
        }
        try journal.record("disk-deleted") {
            $0.disks.removeAll { $0.id == disk.id }
            if $0.currentDiskID == disk.id { $0.currentDiskID = "" }
        }
    }
}

/// The instance step: render and upload the jobs, compile packages, apply, start, wait until running.
enum InstanceStep {
    static func update(
        _ prepared: EnvironmentDeployer.Prepared, agent: any AgentConnection, stages: Stages, work: WorkDirectory
    ) async throws {
        let manifest = prepared.environment.manifest
        let instance = "\(manifest.instanceGroup)/0"
        let networksJSON = CPINetwork.json(manifest.cpiNetworks)

        // The initial apply tells the agent its networks; its state then names its addresses.
        _ = try await agent.apply(
            ApplySpec(
                deployment: manifest.name, name: manifest.instanceGroup, index: 0, id: "0", az: "unknown",
                packages: [:], networks: networksJSON, job: .init(name: manifest.instanceGroup, templates: []),
                renderedTemplatesArchive: nil, configurationHash: nil))
        _ = try await agent.getState()

        let rendered = try await stages.step("Rendering job templates") {
            try await JobArchive.renderAndUpload(prepared, agent: agent, work: work)
        }
        guard let rendered else { throw DeployError(.template, "no templates were rendered") }

        var compiled: [String: ApplySpec.BlobRef] = [:]
        for package in try PackageOrder.sorted(prepared) {
            try await stages.step("Compiling package '\(package.name)/\(package.fingerprint)'") {
                let upload = try await agent.uploadBlob(file: package.archive.path)
                var dependencies: [String: ApplySpec.BlobRef] = [:]
                for name in package.dependencies { dependencies[name] = compiled[name] }
                let result = try await agent.compilePackage(
                    blobstoreID: upload.id, sha1: package.sha1, name: package.name, version: package.fingerprint,
                    dependencies: dependencies)
                compiled[package.name] = ApplySpec.BlobRef(
                    name: package.name, version: package.fingerprint, sha1: result.sha1,
                    blobstoreID: result.blobstoreID)
            }
        }

        let spec = ApplySpec(
            deployment: manifest.name, name: manifest.instanceGroup, index: 0, id: "0", az: "unknown",
            packages: compiled, networks: networksJSON,
            job: .init(name: manifest.instanceGroup, templates: rendered.templates),
            renderedTemplatesArchive: .init(blobstoreID: rendered.blobstoreID, sha1: rendered.digest),
            configurationHash: rendered.digest)
        try await stages.step("Updating instance '\(instance)'") {
            try await agent.stop()
            _ = try await agent.apply(spec)
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
