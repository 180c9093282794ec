import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffCore
import SkiffLocalCloud
import SkiffManifest

/// What a create-env run did.
public struct DeployResult: Sendable {
    /// True when nothing had changed and the deploy was skipped.
    public var skipped: Bool
    /// The URLs the health check verified (IPv6 literals in brackets).
    public var urls: [String]
    /// The VM's cid.
    public var vmCID: String
}

/// create-env: validate → plan (render every job, check the cloud's prerequisites) → upload stemcell → VM →
/// disk → instance → health check → record. The plan is computed before anything changes, and `--dry-run` prints it;
/// every change to the state goes through one ``StateJournal``.
public struct EnvironmentDeployer: Sendable {
    let options: EnvironmentOptions
    let stages: Stages
    let connector: DeployConnector
    let kill: KillSwitch

    /// A deployer reporting to `sink`, with the manifest's cloud and agent unless `connector` says otherwise.
    public init(
        options: EnvironmentOptions, sink: any ProgressSink, connector: DeployConnector = .standard,
        kill: KillSwitch = .environment
    ) {
        self.options = options
        self.stages = Stages(sink: sink)
        self.connector = connector
        self.kill = kill
    }

    /// The plan of a create-env, changing nothing: no state file, vars store, lock or cloud call.
    public func plan() async throws -> DeployPlan {
        let store = StateStore(url: options.stateURL)
        stages.sink.line("Deployment manifest: '\(options.manifestURL.path)'")
        stages.sink.line("Deployment state: '\(store.url.path)'")
        let state = try store.load() ?? DeploymentState()
        let work = try WorkDirectory(installationID: state.installationID, removingStale: false)
        defer { work.remove() }
        let prepared = try await stages.group("validating") { stages in
            try await prepare(stages, work: work)
        }
        return try DeployPlanner.plan(
            state: state, prepared: prepared, capabilities: connector.capabilities(prepared.environment.manifest),
            recreate: options.recreate, recreateDisks: options.recreatePersistentDisks)
    }

    /// Runs create-env.
    public func createEnv() async throws -> DeployResult {
        let store = StateStore(url: options.stateURL)
        stages.sink.line("Deployment manifest: '\(options.manifestURL.path)'")
        stages.sink.line("Deployment state: '\(store.url.path)'")
        try store.lock()
        defer { store.unlock() }
        store.removeStaleTemporaryFiles()
        StateStore.removeStaleVarsStoreFiles(options.variables.varsStore)
        StateStore.removeStaleVarsStoreFiles(options.defaultVarsStorePath)
        let loaded = try store.load() ?? DeploymentState()

        let work = try WorkDirectory(installationID: loaded.installationID)
        defer { work.remove() }

        // Validating: manifest, releases, stemcell; then the plan, which renders every job.
        let prepared = try await stages.group("validating") { stages in
            try await prepare(stages, work: work)
        }
        let env = prepared.environment
        let agentWait = try AgentWait.timeout(env.manifest.cloudProvider.properties)
        let plan = try DeployPlanner.plan(
            state: loaded, prepared: prepared, capabilities: connector.capabilities(env.manifest),
            recreate: options.recreate, recreateDisks: options.recreatePersistentDisks)
        if plan.isUnchanged {
            stages.sink.line("")
            stages.sink.line("No deployment, stemcell or release changes. Skipping deploy.")
            if loaded.stemcells.contains(where: { $0.id != loaded.currentStemcellID }) {
                // A deploy killed after it was recorded left the stemcell it replaced: finish its cleanup.
                let agent = try connector.agent(env.manifest, loaded.directorID)
                defer { Task { await agent.shutdown() } }
                let (cloud, _) = try await connector.cloud(
                    CloudRequest(
                        manifest: env.manifest, options: options, releases: prepared.releases,
                        installationID: loaded.installationID, directorID: loaded.directorID, stages: stages,
                        work: work.url))
                let journal = StateJournal(store: store, state: loaded, kill: kill)
                try await DeploySteps(journal: journal, cloud: cloud, agent: agent, stages: stages, skipDrain: false)
                    .deleteUnusedStemcells()
            }
            return DeployResult(skipped: true, urls: loaded.skiff.urls, vmCID: loaded.currentVMCID)
        }
        if let refusal = plan.refusal { throw refusal }

        // Everything that can be checked before the first change: the mbus URL, the cloud's prerequisites.
        let agent = try connector.agent(env.manifest, loaded.directorID)
        defer { Task { await agent.shutdown() } }
        let (cloud, cpiName) = try await connector.cloud(
            CloudRequest(
                manifest: env.manifest, options: options, releases: prepared.releases,
                installationID: loaded.installationID, directorID: loaded.directorID, stages: stages, work: work.url))
        if let previous = loaded.skiff.cpi, previous != cpiName, !loaded.isEmpty {
            throw DeployError(
                .state, "the state was made by the '\(previous)' cloud, but the manifest names '\(cpiName)'",
                at: store.url.path)
        }
        if let checked = cloud as? any CloudCapabilityReporting {
            do {
                try await checked.preflight(
                    networks: env.manifest.cpiNetworks, cloudProperties: env.manifest.vmCloudProperties)
            } catch let error as CloudError {
                throw DeployError(.cloud, error.message, at: SourceLocation(field: "cloud_provider (\(cpiName))"))
            }
        }

        // From here on, things change; the journal writes the vars store and the state before the first one.
        let journal = StateJournal(store: store, state: loaded, kill: kill, unsavedStore: env.document.unsavedStore)
        try journal.record("cpi") { $0.skiff.cpi = cpiName }
        let steps = DeploySteps(
            journal: journal, cloud: cloud, agent: agent, stages: stages, skipDrain: options.skipDrain)

        try await steps.adoptInterrupted()
        let stemcellRecord = try await steps.uploadStemcell(prepared.stemcell)

        let urls = try await stages.group("deploying") { stages in
            let deploying = steps.with(stages)
            // A failed deploy must always deploy again: clear the record first.
            try journal.record("deploying") {
                $0.currentManifestSHA = ""
                $0.currentReleaseIDs = []
            }
            try Task.checkCancellation()
            if !journal.state.currentVMCID.isEmpty {
                try await deploying.deleteVM()
            }
            try Task.checkCancellation()
            try await deploying.createVM(stemcell: stemcellRecord, manifest: env.manifest)
            try Task.checkCancellation()
            let vmCID = journal.state.currentVMCID
            try await stages.step("Waiting for the agent on VM '\(vmCID)' to be ready") {
                try await AgentWait.wait(agent, vmCID: vmCID, timeout: agentWait, options: options, cloud: cloud)
            }
            try Task.checkCancellation()
            try await deploying.deployDisk(plan.disk, manifest: env.manifest)
            try Task.checkCancellation()
            try await VMFiles.locating(vmCID: vmCID, cloud: cloud) {
                try await InstanceStep.update(prepared, agent: agent, stages: stages, work: work)
            }
            try Task.checkCancellation()
            let urls = try await HealthCheck.run(env.manifest, stages: stages)

            let releaseRecords = prepared.releases.map {
                DeploymentState.ReleaseRecord(id: UUID().uuidString.lowercased(), name: $0.name, version: $0.version)
            }
            try journal.record("deployed") {
                $0.releases = releaseRecords
                $0.currentReleaseIDs = releaseRecords.map(\.id)
                $0.currentManifestSHA = plan.record.manifestSHA
                $0.skiff.urls = urls
                $0.skiff.deployedManifest = plan.record.deployedManifest
                $0.skiff.renderedJobs = plan.record.renderedJobs
            }
            return urls
        }
        try await steps.deleteUnusedStemcells()
        return DeployResult(skipped: false, urls: urls, vmCID: journal.state.currentVMCID)
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
                let release = try ReleaseReader.read(
                    at: url, workDirectory: work.url.appendingPathComponent("releases/\(reference.name)"))
                if release.name != reference.name {
                    throw DeployError(
                        .release,
                        "release name '\(reference.name)' does not match the name in the release, '\(release.name)'",
                        at: url.path)
                }
                return release
            }
            if let release { releases.append(release) }
        }
        let groups = environment.document.value["instance_groups"] != nil
        for (index, job) in manifest.jobs.enumerated() {
            guard let release = releases.first(where: { $0.name == job.release }) else { continue }
            if release.jobs[job.name] == nil {
                let field = FieldPath([
                    .key(groups ? "instance_groups" : "jobs"), .index(0), .key(groups ? "jobs" : "templates"),
                    .index(index),
                ])
                throw DeployError(
                    .manifest,
                    "\(field): release '\(release.name)' has no job named '\(job.name)' "
                        + "(it has: \(release.jobs.keys.sorted().joined(separator: ", ")))",
                    at: environment.document.location(of: field) ?? SourceLocation())
            }
        }
        let stemcell = try await stages.step("Validating stemcell") {
            try await resolveStemcell(
                manifest.stemcellURL, sha1: manifest.stemcellSHA1, environment: environment, work: work)
        }
        guard let stemcell else { throw DeployError(.stemcell, "the stemcell could not be read") }
        return Prepared(environment: environment, releases: releases, stemcell: stemcell)
    }

    func resolveStemcell(
        _ url: String, sha1: String?, environment: LoadedEnvironment, work: WorkDirectory
    ) async throws -> StemcellArchive {
        if url == "skiff://local" {
            // Built on first use (the Debian part once per machine), then taken from the cache.
            let builder = LocalStemcellBuilder(progress: { line in
                FileHandle.standardError.write(Data(("skiff: " + line + "\n").utf8))
            })
            let directory = try await builder.cachedStemcell()
            return try StemcellArchive.read(at: URL(fileURLWithPath: directory), workDirectory: work.url)
        }
        if url.lowercased().hasPrefix("skiff://") {
            throw DeployError(.stemcell, "the only built-in stemcell is skiff://local", at: url)
        }
        let path = try await environment.localFile(for: url, digest: sha1)
        return try StemcellArchive.read(at: path, workDirectory: work.url)
    }

    /// BOSH's re-run decision (manifest digest, stemcell and releases unchanged), and no interrupted creation to
    /// finish.
    static func isUnchanged(_ state: DeploymentState, _ prepared: Prepared) -> Bool {
        guard !state.currentManifestSHA.isEmpty, state.currentManifestSHA == prepared.environment.sha512,
            !state.currentVMCID.isEmpty, let stemcell = state.currentStemcell,
            stemcell.name == prepared.stemcell.name, stemcell.version == prepared.stemcell.version,
            !state.releases.isEmpty, state.releases.count == prepared.releases.count,
            state.skiff.pendingAgentID == nil, state.skiff.pendingStemcell == nil, state.skiff.pendingDisk == nil
        else { return false }
        return prepared.releases.allSatisfy { release in
            state.releases.contains { $0.name == release.name && $0.version == release.version }
        }
    }
}

/// The agent-side shutdown of an instance before its VM is deleted.
enum Shutdown {
    static func run(vmCID: String, agent: any AgentConnection, skipDrain: Bool, stages: Stages) async throws {
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

    private static func collect(_ names: [String], in release: Release, into wanted: inout [String: ReleasePackage])
        throws
    {
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

    init(installationID: String, removingStale: Bool = true) throws {
        if removingStale { Self.removeStale(installationID: installationID) }
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-\(installationID)-\(UUID().uuidString.prefix(8))")
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
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        where entry.hasPrefix(prefix) {
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(entry))
        }
    }
}
