import Foundation
import SkiffAgentClient
import SkiffCloud

/// delete-env: stops the instance, deletes its VM, disks and stemcells, then the state file. Each record is removed
/// only after the thing it describes, so a delete killed at any point is finished by the next one.
public struct EnvironmentDeleter: Sendable {
    let options: EnvironmentOptions
    let stages: Stages
    let connector: DeployConnector
    let kill: KillSwitch

    /// A deleter reporting to `sink`, with the manifest's cloud and agent unless `connector` says otherwise.
    public init(
        options: EnvironmentOptions, sink: any ProgressSink, connector: DeployConnector = .standard,
        kill: KillSwitch = .environment
    ) {
        self.options = options
        self.stages = Stages(sink: sink)
        self.connector = connector
        self.kill = kill
    }

    /// Runs delete-env; returns false when there was nothing to delete (no state file, with `--force`).
    @discardableResult
    public func deleteEnv() async throws -> Bool {
        let store = StateStore(url: options.stateURL)
        stages.sink.line("Deployment manifest: '\(options.manifestURL.path)'")
        stages.sink.line("Deployment state: '\(store.url.path)'")
        guard store.exists else {
            if options.force {
                stages.sink.line("")
                stages.sink.line("No deployment state file found.")
                return false
            }
            throw DeployError(
                .state,
                "no deployment state file found; without it skiff cannot know what to delete "
                    + "(use --force to succeed anyway)",
                at: store.url.path)
        }
        try store.lock()
        defer { store.unlock() }
        store.removeStaleTemporaryFiles()
        guard let state = try store.load() else { return false }

        let environment = try await stages.group("validating") { stages in
            try await stages.step("Validating deployment manifest") { try LoadedEnvironment.load(options) }
        }
        guard let environment else { throw DeployError(.manifest, "the manifest could not be read") }
        let work = try WorkDirectory(installationID: state.installationID)
        defer { work.remove() }
        // Only a CPI release is needed to delete (as in the BOSH CLI): the deployment's own releases are not read.
        let provider = environment.manifest.cloudProvider
        var cpiReleases: [Release] = []
        if BuiltInCPI(templateName: provider.templateName, release: provider.templateRelease) == nil,
            let reference = environment.manifest.releases.first(where: { $0.name == provider.templateRelease })
        {
            let url = try await environment.localFile(for: reference.url, digest: reference.sha1)
            cpiReleases.append(
                try ReleaseReader.read(
                    at: url, workDirectory: work.url.appendingPathComponent("releases/\(reference.name)")))
        }
        let (cloud, cpiName) = try await connector.cloud(
            CloudRequest(
                manifest: environment.manifest, options: options, releases: cpiReleases,
                installationID: state.installationID, directorID: state.directorID, stages: stages, work: work.url))
        if let previous = state.skiff.cpi, previous != cpiName, !state.isEmpty {
            throw DeployError(
                .state, "the state was made by the '\(previous)' cloud, but the manifest names '\(cpiName)'",
                at: store.url.path)
        }
        let agent = try connector.agent(environment.manifest, state.directorID)
        defer { Task { await agent.shutdown() } }

        // A delete never writes the vars store: no secret it generates could matter.
        let journal = StateJournal(store: store, state: state, kill: kill)
        let steps = DeploySteps(
            journal: journal, cloud: cloud, agent: agent, stages: stages, skipDrain: options.skipDrain)
        try await steps.adoptInterrupted()
        try await stages.group("deleting deployment") { stages in
            let deleting = steps.with(stages)
            if !journal.state.currentVMCID.isEmpty {
                try await deleting.deleteVM(tolerant: true)
            }
            for disk in journal.state.disks {
                let current = disk.id == journal.state.currentDiskID
                try await deleting.deleteDisk(disk, label: current ? "Deleting disk" : "Deleting unused disk")
            }
            for stemcell in journal.state.stemcells {
                let current = stemcell.id == journal.state.currentStemcellID
                try await deleting.deleteStemcell(
                    stemcell, label: current ? "Deleting stemcell" : "Deleting unused stemcell")
            }
        }
        try await stages.step("Uninstalling local artifacts for CPI and deployment") {
            WorkDirectory.removeStale(installationID: journal.state.installationID)
            try? FileManager.default.removeItem(at: CPIInstaller.installationDirectory(journal.state.installationID))
            try journal.delete()
        }
        return true
    }
}
