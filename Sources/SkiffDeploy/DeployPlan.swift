import Crypto
import Foundation
import SkiffCloud
import SkiffCore
import SkiffManifest
import SkiffTemplates

/// What create-env will do, computed before anything changes: `create-env --dry-run` prints it, and create-env
/// carries it out, so what the preview says is what the deploy does.
public struct DeployPlan: Sendable {
    /// The stemcell.
    public enum StemcellAction: Sendable, Hashable {
        /// Upload it (no record of this name and version).
        case upload
        /// Use the uploaded stemcell with this cid.
        case reuse(cid: String)
    }

    /// The VM. BOSH's create-env has no in-place update: any change replaces the VM.
    public enum VMAction: Sendable, Hashable {
        /// No VM yet.
        case create
        /// Nothing changed.
        case keep(cid: String)
        /// Delete the VM and create a new one, for these reasons.
        case recreate(cid: String, reasons: [String])
    }

    /// The persistent disk.
    public enum DiskAction: Sendable, Hashable {
        /// The manifest asks for no persistent disk.
        case none
        /// Create a disk of this size.
        case create(sizeMiB: Int)
        /// Attach the current disk again.
        case keep(cid: String, sizeMiB: Int)
        /// Create a new disk and copy the current one's content to it.
        case migrate(from: String, sizeMiB: Int, reasons: [String])
        /// The disk would have to be migrated and the cloud cannot: create-env refuses.
        case refuseMigration(cid: String, reasons: [String])
    }

    /// How one job's rendered files change.
    public enum JobChange: String, Sendable, Hashable {
        case added, changed, removed
    }

    /// One release's change.
    public struct ReleaseChange: Sendable, Hashable {
        public var name: String
        /// The deployed version, nil for a new release.
        public var from: String?
        /// The version to deploy, nil for a release no longer used.
        public var to: String?
    }

    /// The deployment's name.
    public var deployment: String
    /// The stemcell's name and version.
    public var stemcellName: String
    public var stemcellVersion: String
    public var stemcell: StemcellAction
    public var vm: VMAction
    public var disk: DiskAction
    /// Jobs whose rendered files change, by name.
    public var jobs: [(name: String, change: JobChange)]
    public var releases: [ReleaseChange]
    /// The manifest against the deployed one, variable-sourced values as `<redacted>`.
    public var manifestDiff: [DiffLine]
    /// True when nothing changed: create-env does nothing (`No deployment, stemcell or release changes.`).
    public var isUnchanged: Bool
    /// Notes on what a re-run finishes of an interrupted one.
    public var notes: [String]

    /// What create-env records once the deploy succeeded.
    var record: Record

    struct Record: Sendable {
        var manifestSHA: String
        var deployedManifest: JSONValue
        var renderedJobs: [String: String]
    }
}

// MARK: - Planning

enum DeployPlanner {
    /// Plans a deploy of `prepared` over `state`. Renders every job (a missing property fails here, before
    /// anything changes) and refuses a disk migration the cloud cannot do.
    static func plan(
        state: DeploymentState, prepared: EnvironmentDeployer.Prepared, capabilities: CloudCapabilities,
        recreate: Bool, recreateDisks: Bool = false
    ) throws -> DeployPlan {
        let environment = prepared.environment
        let manifest = environment.manifest
        let stemcell = prepared.stemcell

        // Jobs: render each now, as BOSH renders before deploying.
        var rendered: [String: String] = [:]
        let key = SymmetricKey(data: Data(("skiff-rendered:" + state.directorID).utf8))
        for job in manifest.jobs {
            guard let release = prepared.releases.first(where: { $0.name == job.release }),
                let releaseJob = release.jobs[job.name]
            else { continue }
            let files = try JobArchive.render(job, releaseJob: releaseJob, manifest: manifest).files
            var hmac = HMAC<SHA256>(key: key)
            for file in files.sorted(by: { $0.destination < $1.destination }) {
                hmac.update(data: Data((file.destination + "\u{0}" + file.content + "\u{0}").utf8))
            }
            hmac.update(data: Data(releaseJob.fingerprint.utf8))
            rendered[job.name] = Hex.string(hmac.finalize())
        }
        let deployedJobs = state.skiff.renderedJobs
        var jobs: [(name: String, change: DeployPlan.JobChange)] = []
        for job in manifest.jobs.map(\.name) {
            guard let digest = rendered[job] else { continue }
            if let old = deployedJobs[job] {
                if old != digest { jobs.append((job, .changed)) }
            } else {
                let unknown = deployedJobs.isEmpty && !state.currentManifestSHA.isEmpty
                jobs.append((job, unknown ? .changed : .added))
            }
        }
        for job in deployedJobs.keys.sorted() where rendered[job] == nil { jobs.append((job, .removed)) }

        // Releases.
        var releases: [DeployPlan.ReleaseChange] = []
        for release in prepared.releases {
            let old = state.releases.first { $0.name == release.name }
            if old?.version != release.version {
                releases.append(.init(name: release.name, from: old?.version, to: release.version))
            }
        }
        for old in state.releases where !prepared.releases.contains(where: { $0.name == old.name }) {
            releases.append(.init(name: old.name, from: old.version, to: nil))
        }

        // Manifest.
        let redacted = RedactedManifest.tree(environment.document, key: state.directorID)
        let diff = ManifestDiff.lines(
            old: state.skiff.deployedManifest, new: redacted, order: RedactedManifest.keyOrder(environment.document))

        // Stemcell.
        let current = state.currentStemcell
        let existing = state.stemcells.first { $0.name == stemcell.name && $0.version == stemcell.version }
        let stemcellAction: DeployPlan.StemcellAction = existing.map { .reuse(cid: $0.cid) } ?? .upload

        let unchanged = !recreate && !recreateDisks && EnvironmentDeployer.isUnchanged(state, prepared)

        // VM.
        let vm: DeployPlan.VMAction
        if state.currentVMCID.isEmpty {
            vm = .create
        } else if unchanged {
            vm = .keep(cid: state.currentVMCID)
        } else {
            var reasons: [String] = []
            if recreate { reasons.append("--recreate was given") }
            if recreateDisks { reasons.append("--recreate-persistent-disks was given") }
            if let current, current.name != stemcell.name || current.version != stemcell.version {
                reasons.append(
                    "the stemcell changes from '\(current.name)/\(current.version)' to "
                        + "'\(stemcell.name)/\(stemcell.version)'")
            }
            if !releases.isEmpty { reasons.append("releases change") }
            if state.currentManifestSHA.isEmpty {
                reasons.append("the last deploy did not finish")
            } else if state.currentManifestSHA != environment.sha512 {
                let sections = changedSections(diff)
                reasons.append(
                    "the manifest changes" + (sections.isEmpty ? "" : " (\(sections.joined(separator: ", ")))"))
            }
            if reasons.isEmpty { reasons.append("the deployed state differs") }
            vm = .recreate(cid: state.currentVMCID, reasons: reasons)
        }

        // Disk.
        let disk: DeployPlan.DiskAction
        if manifest.diskSize <= 0 {
            disk = .none
        } else if let old = state.currentDisk {
            var reasons: [String] = []
            if old.size != manifest.diskSize {
                reasons.append("disk_size changes from \(old.size) to \(manifest.diskSize) MiB")
            }
            if old.cloudProperties != manifest.diskCloudProperties { reasons.append("its cloud_properties change") }
            if recreateDisks { reasons.append("--recreate-persistent-disks was given") }
            if reasons.isEmpty || unchanged {
                disk = .keep(cid: old.cid, sizeMiB: old.size)
            } else if capabilities.migratesDisks {
                disk = .migrate(from: old.cid, sizeMiB: manifest.diskSize, reasons: reasons)
            } else {
                disk = .refuseMigration(cid: old.cid, reasons: reasons)
            }
        } else {
            disk = .create(sizeMiB: manifest.diskSize)
        }

        var notes: [String] = []
        if state.skiff.pendingAgentID != nil {
            notes.append("a VM whose create_vm was interrupted is looked for and deleted")
        }
        if state.skiff.pendingStemcell != nil {
            notes.append("a stemcell whose upload was interrupted is looked for and deleted")
        }
        return DeployPlan(
            deployment: manifest.name, stemcellName: stemcell.name, stemcellVersion: stemcell.version,
            stemcell: stemcellAction, vm: vm, disk: disk, jobs: unchanged ? [] : jobs,
            releases: unchanged ? [] : releases, manifestDiff: unchanged ? [] : diff, isUnchanged: unchanged,
            notes: notes,
            record: .init(manifestSHA: environment.sha512, deployedManifest: redacted, renderedJobs: rendered))
    }

    /// The top-level sections a diff touches (`instance_groups`, `networks`, …).
    static func changedSections(_ diff: [DiffLine]) -> [String] {
        var sections: [String] = []
        var section = ""
        for line in diff {
            if !line.text.hasPrefix(" "), !line.text.hasPrefix("-"), let key = line.text.split(separator: ":").first {
                section = String(key)
            }
            if line.kind != .context, !section.isEmpty, !sections.contains(section) { sections.append(section) }
        }
        return sections
    }
}

extension DeployPlan {
    /// Why create-env would refuse this plan before changing anything, or nil.
    public var refusal: DeployError? {
        guard case .refuseMigration(let cid, _) = disk else { return nil }
        // The cloud mounts one disk, so the agent could not copy the old disk's content to a new one: refuse
        // before anything changes rather than lose it.
        return DeployError(
            .cloud,
            "the persistent disk '\(cid)' would have to be migrated (its size or cloud_properties changed), "
                + "which this cloud cannot do; keep disk_size and cloud_properties as they were, or delete-env first")
    }
}

// MARK: - Printing

extension DeployPlan {
    /// The plan as `create-env --dry-run` prints it.
    public var text: String {
        if isUnchanged { return "No deployment, stemcell or release changes.\n" }
        var lines: [String] = []
        switch stemcell {
        case .upload: lines.append("Stemcell: upload '\(stemcellName)/\(stemcellVersion)'")
        case .reuse(let cid): lines.append("Stemcell: reuse '\(stemcellName)/\(stemcellVersion)' (\(cid))")
        }
        switch vm {
        case .create: lines.append("VM: create")
        case .keep(let cid): lines.append("VM: keep '\(cid)'")
        case .recreate(let cid, let reasons):
            lines.append("VM: recreate '\(cid)': " + reasons.joined(separator: "; "))
        }
        switch disk {
        case .none: lines.append("Disk: none")
        case .create(let size): lines.append("Disk: create \(size) MiB")
        case .keep(let cid, let size): lines.append("Disk: keep '\(cid)' (\(size) MiB)")
        case .migrate(let cid, let size, let reasons):
            lines.append("Disk: migrate '\(cid)' to a new \(size) MiB disk: " + reasons.joined(separator: "; "))
        case .refuseMigration(let cid, let reasons):
            lines.append(
                "Disk: refuse to migrate '\(cid)' (" + reasons.joined(separator: "; ")
                    + "): this cloud cannot copy a disk's content")
        }
        for release in releases {
            lines.append(
                "Release '\(release.name)': " + (release.from ?? "(new)") + " -> " + (release.to ?? "(removed)"))
        }
        if jobs.isEmpty {
            lines.append("Jobs: no rendered file changes")
        } else {
            lines.append("Jobs: " + jobs.map { "\($0.name) (\($0.change.rawValue))" }.joined(separator: ", "))
        }
        for note in notes { lines.append("Note: \(note)") }
        if !manifestDiff.isEmpty {
            lines.append("")
            lines.append("Manifest:")
            lines += manifestDiff.map(\.rendered)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The plan for programs (`--dry-run --json`).
    public var json: [String: Any] {
        var object: [String: Any] = ["unchanged": isUnchanged, "deployment": deployment]
        switch stemcell {
        case .upload:
            object["stemcell"] = ["action": "upload", "name": stemcellName, "version": stemcellVersion]
        case .reuse(let cid):
            object["stemcell"] = ["action": "reuse", "name": stemcellName, "version": stemcellVersion, "cid": cid]
        }
        switch vm {
        case .create: object["vm"] = ["action": "create"]
        case .keep(let cid): object["vm"] = ["action": "keep", "cid": cid]
        case .recreate(let cid, let reasons): object["vm"] = ["action": "recreate", "cid": cid, "reasons": reasons]
        }
        switch disk {
        case .none: object["disk"] = ["action": "none"]
        case .create(let size): object["disk"] = ["action": "create", "size": size]
        case .keep(let cid, let size): object["disk"] = ["action": "keep", "cid": cid, "size": size]
        case .migrate(let cid, let size, let reasons):
            object["disk"] = ["action": "migrate", "cid": cid, "size": size, "reasons": reasons]
        case .refuseMigration(let cid, let reasons):
            object["disk"] = ["action": "refuse_migration", "cid": cid, "reasons": reasons]
        }
        object["jobs"] = jobs.map { ["name": $0.name, "change": $0.change.rawValue] }
        object["releases"] = releases.map { release -> [String: Any] in
            var entry: [String: Any] = ["name": release.name]
            if let from = release.from { entry["from"] = from }
            if let to = release.to { entry["to"] = to }
            return entry
        }
        object["manifest_diff"] = manifestDiff.map(\.rendered)
        object["notes"] = notes
        return object
    }
}
