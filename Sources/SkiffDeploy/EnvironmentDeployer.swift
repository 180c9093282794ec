import Crypto
import Foundation
import SkiffAgent
import SkiffCloud
import SkiffLocalCloud
import SkiffManifest
import SkiffNet
import SkiffTemplates

/// What a create-env run did.
public struct DeployResult: Sendable {
    /// True when nothing had changed and the deploy was skipped.
    public var skipped: Bool
    /// The URLs the health check verified (IPv6 literals in brackets).
    public var urls: [String]
    /// The VM's cid.
    public var vmCID: String
}

/// create-env: validate → skip if unchanged → upload stemcell → create VM → wait for the agent → disk → apply →
/// start → wait until running → health check → record. State is written after every step that changes the cloud.
public struct EnvironmentDeployer: Sendable {
    let options: EnvironmentOptions
    let stages: Stages

    /// A deployer reporting to `sink`.
    public init(options: EnvironmentOptions, sink: any ProgressSink) {
        self.options = options
        self.stages = Stages(sink: sink)
    }

    /// Runs create-env.
    public func createEnv() async throws -> DeployResult {
        let store = StateStore(url: options.stateURL)
        stages.sink.line("Deployment manifest: '\(options.manifestURL.path)'")
        stages.sink.line("Deployment state: '\(store.url.path)'")
        try store.lock()
        defer { store.unlock() }
        var state = try store.load() ?? DeploymentState()
        if !store.exists { try store.save(state) }

        let work = try WorkDirectory(installationID: state.installationID)
        defer { work.remove() }

        // Validating: manifest, releases, stemcell.
        let prepared = try await stages.group("validating") { stages in
            try await prepare(stages, work: work)
        }
        let env = prepared.environment
        let agentWait = try AgentWait.timeout(env.manifest.cloudProvider.properties)

        if !options.recreate && isUnchanged(state, prepared) {
            stages.sink.line("")
            stages.sink.line("No deployment, stemcell or release changes. Skipping deploy.")
            return DeployResult(skipped: true, urls: state.skiff.urls, vmCID: state.currentVMCID)
        }

        let (cloud, cpiName) = try await CloudSelection.make(
            env.manifest, options: options, releases: prepared.releases, state: state, stages: stages, work: work.url)
        if let previous = state.skiff.cpi, previous != cpiName, !state.isEmpty {
            throw DeployError(
                .state, "the state was made by the '\(previous)' cloud, but the manifest names '\(cpiName)'", at: store.url.path)
        }
        state.skiff.cpi = cpiName
        try store.save(state)
        if cloud is LocalCloud, let disk = state.currentDisk, env.manifest.diskSize > 0,
            disk.size != env.manifest.diskSize || disk.cloudProperties != env.manifest.diskCloudProperties
        {
            // The local cloud mounts one disk at /var/vcap/store, so the agent could not copy the old disk's content
            // to a new one: refuse before anything changes rather than lose it.
            throw DeployError(
                .cloud,
                "the persistent disk '\(disk.cid)' would have to be migrated (its size or cloud_properties changed), "
                    + "which the local cloud cannot do; keep disk_size and cloud_properties as they were, or delete-env first")
        }

        // Uploading the stemcell.
        let stemcell = prepared.stemcell
        let stemcellRecord: DeploymentState.Stemcell
        if let existing = state.stemcells.first(where: { $0.name == stemcell.name && $0.version == stemcell.version }) {
            try await stages.step("Uploading stemcell '\(stemcell.name)/\(stemcell.version)'") {
                throw SkipStep("Stemcell already uploaded")
            }
            stemcellRecord = existing
        } else {
            let cid = try await stages.step("Uploading stemcell '\(stemcell.name)/\(stemcell.version)'") {
                try await cloud.createStemcell(imagePath: stemcell.imagePath, cloudProperties: stemcell.cloudProperties)
            }
            let record = DeploymentState.Stemcell(
                id: UUID().uuidString.lowercased(), name: stemcell.name, version: stemcell.version,
                apiVersion: stemcell.apiVersion, cid: cid ?? "")
            state.stemcells.append(record)
            try store.save(state)
            stemcellRecord = record
        }

        let agent = try env.manifest.agentClient(directorID: state.directorID)
        defer { Task { await agent.shutdown() } }

        let urls = try await stages.group("deploying") { stages in
            // A failed deploy must always deploy again: clear the record first.
            state.currentManifestSHA = ""
            state.currentReleaseIDs = []
            try store.save(state)
            try Task.checkCancellation()

            try await Self.adoptInterruptedVM(&state, store: store, cloud: cloud)
            if !state.currentVMCID.isEmpty {
                try await deleteInstance(&state, store: store, cloud: cloud, agent: agent, stages: stages)
            }
            try Task.checkCancellation()
            try await createVM(&state, store: store, cloud: cloud, stemcell: stemcellRecord, env: env, stages: stages)
            try Task.checkCancellation()
            try await stages.step("Waiting for the agent on VM '\(state.currentVMCID)' to be ready") {
                try await AgentWait.wait(agent, vmCID: state.currentVMCID, timeout: agentWait, options: options)
            }
            try Task.checkCancellation()
            try await deployDisk(&state, store: store, cloud: cloud, agent: agent, env: env, stages: stages)
            try Task.checkCancellation()
            try await updateInstance(prepared, agent: agent, stages: stages, work: work)
            try Task.checkCancellation()
            let urls = try await HealthCheck.run(env.manifest, stages: stages)

            let releaseRecords = prepared.releases.map {
                DeploymentState.ReleaseRecord(id: UUID().uuidString.lowercased(), name: $0.name, version: $0.version)
            }
            state.releases = releaseRecords
            state.currentReleaseIDs = releaseRecords.map(\.id)
            state.currentManifestSHA = env.sha512
            state.skiff.urls = urls
            try store.save(state)
            return urls
        }

        for unused in state.stemcells where unused.id != state.currentStemcellID {
            try await stages.step("Deleting unused stemcell '\(unused.cid)'") {
                do {
                    try await cloud.deleteStemcell(unused.cid)
                } catch let error as CloudError where error.type == .stemcellNotFound {
                    throw SkipStep("Stemcell not found")
                }
            }
            state.stemcells.removeAll { $0.id == unused.id }
            try store.save(state)
        }
        return DeployResult(skipped: false, urls: urls, vmCID: state.currentVMCID)
    }

    // MARK: - Validating

    struct Prepared: Sendable {
        var environment: LoadedEnvironment
        var releases: [Release]
        var stemcell: StemcellArchive
    }

    func prepare(_ stages: Stages, work: WorkDirectory) async throws -> Prepared {
        let environment = try await stages.step("Validating deployment manifest") {
            try LoadedEnvironment.load(options)
        }
        guard let environment else { throw DeployError(.manifest, "the manifest could not be read") }
        try environment.checkMbusCredentials()
        let manifest = environment.manifest
        var releases: [Release] = []
        for reference in manifest.releases {
            let release = try await stages.step("Validating release '\(reference.name)'") {
                let url = try await environment.localFile(for: reference.url, digest: reference.sha1)
                let release = try ReleaseReader.read(at: url, workDirectory: work.url.appendingPathComponent("releases/\(reference.name)"))
                if release.name != reference.name {
                    throw DeployError(
                        .release, "release name '\(reference.name)' does not match the name in the release, '\(release.name)'",
                        at: url.path)
                }
                return release
            }
            if let release { releases.append(release) }
        }
        for (index, job) in manifest.jobs.enumerated() {
            guard let release = releases.first(where: { $0.name == job.release }) else { continue }
            if release.jobs[job.name] == nil {
                let field = FieldPath([.key(environment.document.value["instance_groups"] != nil ? "instance_groups" : "jobs"), .index(0), .key(environment.document.value["instance_groups"] != nil ? "jobs" : "templates"), .index(index)])
                let location = environment.document.location(of: field).map { "\($0.file):\($0.line)" }
                throw DeployError(
                    .manifest,
                    "\(field): release '\(release.name)' has no job named '\(job.name)' (it has: \(release.jobs.keys.sorted().joined(separator: ", ")))",
                    at: location)
            }
        }
        let stemcell = try await stages.step("Validating stemcell") {
            try await resolveStemcell(manifest.stemcellURL, sha1: manifest.stemcellSHA1, environment: environment, work: work)
        }
        guard let stemcell else { throw DeployError(.stemcell, "the stemcell could not be read") }
        return Prepared(environment: environment, releases: releases, stemcell: stemcell)
    }

    func resolveStemcell(
        _ url: String, sha1: String?, environment: LoadedEnvironment, work: WorkDirectory
    ) async throws -> StemcellArchive {
        if url == "skiff://local" {
            let directory = work.url.appendingPathComponent("builtin-stemcell")
            try LocalStemcellSource.write(to: directory.path)
            return try StemcellArchive.read(at: directory, workDirectory: work.url)
        }
        if url.lowercased().hasPrefix("skiff://") {
            throw DeployError(.stemcell, "the only built-in stemcell is skiff://local", at: url)
        }
        let path = try await environment.localFile(for: url, digest: sha1)
        return try StemcellArchive.read(at: path, workDirectory: work.url)
    }

    func isUnchanged(_ state: DeploymentState, _ prepared: Prepared) -> Bool {
        guard !state.currentManifestSHA.isEmpty, state.currentManifestSHA == prepared.environment.sha512,
            !state.currentVMCID.isEmpty, let stemcell = state.currentStemcell,
            stemcell.name == prepared.stemcell.name, stemcell.version == prepared.stemcell.version,
            !state.releases.isEmpty, state.releases.count == prepared.releases.count
        else { return false }
        return prepared.releases.allSatisfy { release in
            state.releases.contains { $0.name == release.name && $0.version == release.version }
        }
    }

    // MARK: - VM

    /// Records the VM of a `create_vm` that was interrupted after the VM existed but before its cid was saved,
    /// so that it is deleted like any current VM instead of being leaked.
    static func adoptInterruptedVM(_ state: inout DeploymentState, store: StateStore, cloud: any CloudProvider) async throws {
        guard state.currentVMCID.isEmpty, let pending = state.skiff.pendingAgentID,
            let lookup = cloud as? any AgentIDLookup
        else { return }
        if let orphan = try await lookup.findVM(agentID: pending) {
            state.currentVMCID = orphan
        }
        state.skiff.pendingAgentID = nil
        try store.save(state)
    }

    func createVM(
        _ state: inout DeploymentState, store: StateStore, cloud: any CloudProvider, stemcell: DeploymentState.Stemcell,
        env: LoadedEnvironment, stages: Stages
    ) async throws {
        let manifest = env.manifest
        let agentID = UUID().uuidString.lowercased()
        var vmEnv = manifest.vmEnv
        if !manifest.tags.isEmpty {
            var bosh = vmEnv["bosh"]?.objectValue ?? [:]
            bosh["tags"] = .object(manifest.tags.mapValues { .string($0) })
            vmEnv["bosh"] = .object(bosh)
        }
        state.skiff.pendingAgentID = agentID
        try store.save(state)
        let created = try await stages.step(
            "Creating VM for instance '\(manifest.instanceGroup)/0' from stemcell '\(stemcell.cid)'"
        ) {
            try await cloud.createVM(
                agentID: agentID, stemcellCID: stemcell.cid, cloudProperties: manifest.vmCloudProperties,
                networks: manifest.cpiNetworks, diskCIDs: [], env: vmEnv)
        }
        guard let created else { throw DeployError(.cloud, "create_vm returned no VM") }
        guard !created.cid.isEmpty else { throw DeployError(.cloud, "create_vm returned an empty VM cid") }
        state.currentVMCID = created.cid
        state.currentStemcellID = stemcell.id
        state.skiff.currentAgentID = agentID
        state.skiff.pendingAgentID = nil
        try store.save(state)
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

    /// Stops and deletes the current VM, as a redeploy does first.
    func deleteInstance(
        _ state: inout DeploymentState, store: StateStore, cloud: any CloudProvider, agent: AgentClient, stages: Stages
    ) async throws {
        let cid = state.currentVMCID
        if try await cloud.hasVM(cid) {
            try await Shutdown.run(vmCID: cid, agent: agent, skipDrain: options.skipDrain, stages: stages)
        }
        try await stages.step("Deleting VM '\(cid)'") {
            do {
                try await cloud.deleteVM(cid)
            } catch let error as CloudError where error.type == .vmNotFound {
                throw SkipStep("VM not found")
            }
        }
        state.currentVMCID = ""
        state.currentStemcellID = ""
        state.skiff.currentAgentID = nil
        try store.save(state)
    }

    // MARK: - Disk

    func deployDisk(
        _ state: inout DeploymentState, store: StateStore, cloud: any CloudProvider, agent: AgentClient,
        env: LoadedEnvironment, stages: Stages
    ) async throws {
        let manifest = env.manifest
        let vm = state.currentVMCID
        guard manifest.diskSize > 0 else { return }
        let old = state.currentDisk
        let reuse = old.map { $0.size == manifest.diskSize && $0.cloudProperties == manifest.diskCloudProperties } ?? false
        if let old, reuse {
            try await attach(old.cid, vm: vm, cloud: cloud, agent: agent, stages: stages)
        } else {

            let cid = try await stages.step("Creating disk") {
                try await cloud.createDisk(sizeMiB: manifest.diskSize, cloudProperties: manifest.diskCloudProperties, vmCID: vm)
            }
            guard let cid, !cid.isEmpty else { throw DeployError(.cloud, "create_disk returned an empty disk cid") }
            let record = DeploymentState.Disk(
                id: UUID().uuidString.lowercased(), cid: cid, size: manifest.diskSize,
                cloudProperties: manifest.diskCloudProperties)
            state.disks.append(record)
            try store.save(state)
            if let old {
                try await attach(old.cid, vm: vm, cloud: cloud, agent: agent, stages: stages)
            }
            try await attach(cid, vm: vm, cloud: cloud, agent: agent, stages: stages)
            if let old {
                try await stages.step("Migrating disk content from '\(old.cid)' to '\(cid)'") {
                    try await agent.migrateDisk()
                }
            }
            state.currentDiskID = record.id
            try store.save(state)
            if let old {
                try await stages.step("Detaching disk '\(old.cid)'") {
                    try await agent.removePersistentDisk(cid: old.cid)
                    try await cloud.detachDisk(vmCID: vm, diskCID: old.cid)
                }
            }
        }
        for unused in state.disks where unused.id != state.currentDiskID {
            try await stages.step("Deleting unused disk '\(unused.cid)'") {
                do {
                    try await cloud.deleteDisk(unused.cid)
                } catch let error as CloudError where error.type == .diskNotFound {
                    throw SkipStep("Disk not found")
                }
            }
            state.disks.removeAll { $0.id == unused.id }
            try store.save(state)
        }
    }

    func attach(_ disk: String, vm: String, cloud: any CloudProvider, agent: AgentClient, stages: Stages) async throws {
        try await stages.step("Attaching disk '\(disk)' to VM '\(vm)'") {
            let hint = try await cloud.attachDisk(vmCID: vm, diskCID: disk)
            try await agent.waitUntilReady(timeout: .seconds(600), delay: .milliseconds(50))
            if !hint.isNull { try await agent.addPersistentDisk(cid: disk, hint: hint) }
            try await agent.mountDisk(cid: disk)
        }
    }

    // MARK: - Jobs

    func updateInstance(_ prepared: Prepared, agent: AgentClient, stages: Stages, work: WorkDirectory) async throws {
        let manifest = prepared.environment.manifest
        let instance = "\(manifest.instanceGroup)/0"
        let networksJSON = CPINetwork.json(manifest.cpiNetworks)

        // The initial apply tells the agent its networks; its state then names its addresses.
        _ = try await agent.apply(ApplySpec(
            deployment: manifest.name, name: manifest.instanceGroup, index: 0, id: "0", az: "unknown", packages: [:],
            networks: networksJSON, job: .init(name: manifest.instanceGroup, templates: []),
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
                    name: package.name, version: package.fingerprint, sha1: result.sha1, blobstoreID: result.blobstoreID)
            }
        }

        let spec = ApplySpec(
            deployment: manifest.name, name: manifest.instanceGroup, index: 0, id: "0", az: "unknown", packages: compiled,
            networks: networksJSON,
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
            let deadline = ContinuousClock.now + .milliseconds(max(manifest.watchTime.upperBound, 1_000))
            var last = ""
            while ContinuousClock.now < deadline {
                try Task.checkCancellation()
                let state = try await agent.getState()
                if state.jobState == "running" { return }
                last = state.jobState
                try await Task.sleep(for: .milliseconds(50))
            }
            let failing = try await agent.getState().processes.filter { $0.state != "running" }.map { "\($0.name) (\($0.state))" }
            throw DeployError(
                .agent, "instance '\(instance)' is not running: job state '\(last)'"
                    + (failing.isEmpty ? "" : "; processes not running: \(failing.joined(separator: ", "))"))
        }
        try await stages.step("Running the post-start scripts '\(instance)'") {
            try await agent.runScript("post-start")
        }
    }
}

/// The agent-side shutdown of an instance before its VM is deleted.
enum Shutdown {
    static func run(vmCID: String, agent: AgentClient, skipDrain: Bool, stages: Stages) async throws {
        let reachable = try await stages.step("Waiting for the agent on VM '\(vmCID)'") { () -> Bool in
            do {
                try await agent.waitUntilReady(timeout: .seconds(10), delay: .milliseconds(100))
                return true
            } catch {
                throw SkipStep("Gave up waiting for agent: \(error)")
            }
        }
        guard reachable == true else { return }
        try await stages.step("Running the pre-stop scripts 'unknown/0'") { try await agent.runScript("pre-stop") }
        if !skipDrain {
            try await stages.step("Draining jobs on instance 'unknown/0'") { try await agent.drain() }
        }
        try await stages.step("Stopping jobs on instance 'unknown/0'") { try await agent.stop() }
        try await stages.step("Running the post-stop scripts 'unknown/0'") { try await agent.runScript("post-stop") }
        for disk in try await agent.listDisk() {
            try await stages.step("Unmounting disk '\(disk)'") { try await agent.unmountDisk(cid: disk) }
        }
    }
}

/// Packages in dependency order, those the instance's jobs need.
enum PackageOrder {
    static func sorted(_ prepared: EnvironmentDeployer.Prepared) throws -> [ReleasePackage] {
        var wanted: [String: ReleasePackage] = [:]
        for job in prepared.environment.manifest.jobs {
            guard let release = prepared.releases.first(where: { $0.name == job.release }),
                let releaseJob = release.jobs[job.name]
            else { continue }
            try collect(releaseJob.packages, in: release, into: &wanted)
        }
        return try order(wanted)
    }

    /// The named packages of one release and everything they depend on, dependencies first.
    static func sorted(names: [String], in release: Release) throws -> [ReleasePackage] {
        var wanted: [String: ReleasePackage] = [:]
        try collect(names, in: release, into: &wanted)
        return try order(wanted)
    }

    private static func collect(_ names: [String], in release: Release, into wanted: inout [String: ReleasePackage]) throws {
        var queue = names
        while let name = queue.popLast() {
            guard wanted[name] == nil else { continue }
            guard let package = release.packages[name] else {
                throw DeployError(.release, "package '\(name)' is needed but release '\(release.name)' lacks it")
            }
            wanted[name] = package
            queue.append(contentsOf: package.dependencies)
        }
    }

    private static func order(_ wanted: [String: ReleasePackage]) throws -> [ReleasePackage] {
        var ordered: [ReleasePackage] = []
        var done = Set<String>()
        var visiting = Set<String>()
        func visit(_ name: String) throws {
            guard !done.contains(name), let package = wanted[name] else { return }
            guard visiting.insert(name).inserted else {
                throw DeployError(.release, "package '\(name)' depends on itself through its dependencies")
            }
            for dependency in package.dependencies.sorted() { try visit(dependency) }
            visiting.remove(name)
            done.insert(name)
            ordered.append(package)
        }
        for name in wanted.keys.sorted() { try visit(name) }
        return ordered
    }
}

/// A scratch folder for one run (unpacked releases, rendered jobs), removed when the run ends.
struct WorkDirectory: Sendable {
    let url: URL

    init(installationID: String) throws {
        Self.removeStale(installationID: installationID)
        url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-\(installationID)-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw DeployError(.io, "cannot create a work folder: \(error.localizedDescription)", at: url.path)
        }
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Removes work folders that killed runs of the same environment left behind; the caller holds the state lock,
    /// so no other run of this environment is using them.
    static func removeStale(installationID: String) {
        let temporary = FileManager.default.temporaryDirectory
        let prefix = "skiff-\(installationID)-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where entry.hasPrefix(prefix) {
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(entry))
        }
    }
}
