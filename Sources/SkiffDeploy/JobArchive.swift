import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffManifest
import SkiffNet
import SkiffTemplates

/// Renders every job of the instance group and uploads them to the agent as one archive, as BOSH does.
enum JobArchive {
    struct Uploaded: Sendable {
        var blobstoreID: String
        var digest: String
        var templates: [ApplySpec.BlobRef]
    }

    static func renderAndUpload(
        _ prepared: EnvironmentDeployer.Prepared, agent: any AgentConnection, work: WorkDirectory
    ) async throws -> Uploaded {
        let manifest = prepared.environment.manifest
        let root = work.url.appendingPathComponent("rendered")
        try? FileManager.default.removeItem(at: root)
        var entries: [String] = []
        var templates: [ApplySpec.BlobRef] = []
        WarningLog.standardError.report(
            ManifestSchema.jobPropertyWarnings(prepared.environment.document) { job, release in
                prepared.releases.first { $0.name == release }?.jobs[job]
                    .flatMap { ManifestSchema.declaredProperties(specFile: $0.specFile) }
            })
        for job in manifest.jobs {
            guard let release = prepared.releases.first(where: { $0.name == job.release }),
                let releaseJob = release.jobs[job.name]
            else { continue }
            let rendered = try render(job, releaseJob: releaseJob, manifest: manifest)
            for file in rendered.files {
                let target = root.appendingPathComponent("\(job.name)/\(file.destination)")
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.content.utf8).write(to: target)
                entries.append("\(job.name)/\(file.destination)")
            }
            templates.append(.init(name: job.name, version: releaseJob.fingerprint, sha1: "", blobstoreID: ""))
        }
        let archive = work.url.appendingPathComponent("rendered-templates.tgz")
        try Archive.create(archive, from: root, entries: entries)
        let upload = try await agent.uploadBlob(file: archive.path)
        return Uploaded(blobstoreID: upload.id, digest: upload.digest, templates: templates)
    }

    /// Renders one job with BOSH's property rules: the job's own `properties` if given, else the manifest's
    /// global properties merged with the instance group's.
    static func render(
        _ job: DeploymentManifest.JobRef, releaseJob: ReleaseJob, manifest: DeploymentManifest
    ) throws -> RenderedJob {
        let source = PropertyResolver.source(
            global: TemplateValue(converting: manifest.globalProperties),
            cluster: TemplateValue(converting: manifest.groupProperties),
            job: job.properties.map { TemplateValue(converting: $0) })
        do {
            return try JobRenderer.render(
                jobDirectory: releaseJob.directory, properties: source, spec: specContext(manifest, job: job.name))
        } catch {
            throw DeployError(.template, "\(error)", at: "release '\(job.release)'")
        }
    }

    static func specContext(_ manifest: DeploymentManifest, job: String) -> SpecContext {
        let networks = manifest.cpiNetworks
        var contexts: [NetworkContext] = []
        for instanceNetwork in manifest.instanceNetworks {
            guard let network = networks[instanceNetwork.name] else { continue }
            contexts.append(
                NetworkContext(
                    name: instanceNetwork.name, ip: network.ip, netmask: network.netmask, gateway: network.gateway,
                    defaults: network.defaults ?? []))
        }
        let address =
            networks.values.first { $0.defaults?.contains("gateway") == true }?.ip ?? manifest.staticAddresses.first
        return SpecContext(
            deployment: manifest.name, name: manifest.instanceGroup, jobName: job, address: address, ip: address,
            networks: contexts)
    }
}
