import Foundation
import SkiffAgentClient
import SkiffCloud

/// delete-env: stops the instance, deletes its VM, disk and stemcell, then the state file.
public struct EnvironmentDeleter: Sendable {
    let options: EnvironmentOptions
    let stages: Stages

    /// A deleter reporting to `sink`.
    public init(options: EnvironmentOptions, sink: any ProgressSink) {
        self.options = options
        self.stages = Stages(sink: sink)
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
                .state, "no deployment state file found; without it skiff cannot know what to delete (use --force to succeed anyway)",
                at: store.url.path)
        }
        try store.lock()
        defer { store.unlock() }
        guard var state = try store.load() else { return false }

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
                try ReleaseReader.read(at: url, workDirectory: work.url.appendingPathComponent("releases/\(reference.name)")))
        }
        let (cloud, cpiName) = try await CloudSelection.make(
            environment.manifest, options: options, releases: cpiReleases, state: state, stages: stages, work: work.url)
        if let previous = state.skiff.cpi, previous != cpiName, !state.isEmpty {
            throw DeployError(
                .state, "the state was made by the '\(previous)' cloud, but the manifest names '\(cpiName)'", at: store.url.path)
        }

        try await EnvironmentDeployer.adoptInterruptedVM(&state, store: store, cloud: cloud)
        try await stages.group("deleting deployment") { stages in
            if !state.currentVMCID.isEmpty {
                let cid = state.currentVMCID
                if try await cloud.hasVM(cid) {
                    let agent = try environment.manifest.agentClient(directorID: state.directorID)
                    do {
                        try await Shutdown.run(vmCID: cid, agent: agent, skipDrain: options.skipDrain, stages: stages)
                    } catch {
                        stages.sink.line("  Stopping the instance failed (\(error)); deleting the VM anyway")
                    }
                    await agent.shutdown()
                }
                try await stages.step("Deleting VM '\(cid)'") {
                    do {
                        try await cloud.deleteVM(cid)
                    } catch let error as CloudError where error.type == .vmNotFound {
                        throw SkipStep("VM not found")
                    }
                }
                state.currentVMCID = ""
                state.skiff.currentAgentID = nil
                try store.save(state)
            }
            for disk in state.disks {
                let current = disk.id == state.currentDiskID
                try await stages.step(current ? "Deleting disk '\(disk.cid)'" : "Deleting unused disk '\(disk.cid)'") {
                    do {
                        try await cloud.deleteDisk(disk.cid)
                    } catch let error as CloudError where error.type == .diskNotFound {
                        throw SkipStep("Disk not found")
                    }
                }
                state.disks.removeAll { $0.id == disk.id }
                if current { state.currentDiskID = "" }
                try store.save(state)
            }
            for stemcell in state.stemcells {
                let current = stemcell.id == state.currentStemcellID
                try await stages.step(current ? "Deleting stemcell '\(stemcell.cid)'" : "Deleting unused stemcell '\(stemcell.cid)'") {
                    do {
                        try await cloud.deleteStemcell(stemcell.cid)
                    } catch let error as CloudError where error.type == .stemcellNotFound {
                        throw SkipStep("Stemcell not found")
                    }
                }
                state.stemcells.removeAll { $0.id == stemcell.id }
                if current { state.currentStemcellID = "" }
                try store.save(state)
            }
        }
        try await stages.step("Uninstalling local artifacts for CPI and deployment") {
            WorkDirectory.removeStale(installationID: state.installationID)
            try? FileManager.default.removeItem(at: CPIInstaller.installationDirectory(state.installationID))
            try store.delete()
        }
        return true
    }
}
