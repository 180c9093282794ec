import Foundation
import SkiffCloud
import SkiffTemplates

/// Installs a CPI job from a CPI release on this machine and runs it as an external CPI, as the BOSH CLI's
/// "installing CPI" stage does: compile the job's packages with their `packaging` scripts, render the job's templates
/// with `cloud_provider.properties`, and call its `bin/cpi` once per request.
enum CPIInstaller {
    /// The installation folder of one environment: `$SKIFF_HOME/installations/<installation_id>`.
    static func installationDirectory(_ installationID: String) -> URL {
        Download.skiffHome.appendingPathComponent("installations/\(installationID)")
    }

    /// Installs the CPI job `cloud_provider.template` names and returns a client for it.
    static func install(
        _ manifest: DeploymentManifest, release: Release, installationID: String, directorID: String, stages: Stages,
        work: URL
    ) async throws -> ExternalCPI {
        let spec = manifest.cloudProvider
        guard let job = release.jobs[spec.templateName] else {
            throw DeployError(
                .release, "release '\(release.name)' must contain the CPI job '\(spec.templateName)'",
                at: "cloud_provider.template")
        }
        let installation = installationDirectory(installationID)
        let packagesDirectory = installation.appendingPathComponent("packages")
        let jobsDirectory = installation.appendingPathComponent("jobs")
        try FileManager.default.createDirectory(at: packagesDirectory, withIntermediateDirectories: true)

        for package in try PackageOrder.sorted(names: job.packages, in: release) {
            let target = packagesDirectory.appendingPathComponent(package.name)
            let marker = target.appendingPathComponent(".skiff-fingerprint")
            try await stages.step("Compiling package '\(package.name)/\(package.fingerprint)'") {
                if (try? String(contentsOf: marker, encoding: .utf8)) == package.fingerprint {
                    throw SkipStep("Package already compiled")
                }
                try await compile(package, into: target, packagesDirectory: packagesDirectory, work: work)
                try Data(package.fingerprint.utf8).write(to: marker)
            }
        }

        let jobDirectory = jobsDirectory.appendingPathComponent(job.name)
        try await stages.step("Installing job '\(job.name)'") {
            let properties = PropertyResolver.source(
                global: .hash([:]), cluster: TemplateValue(converting: spec.properties), job: nil)
            let rendered: RenderedJob
            do {
                rendered = try JobRenderer.render(
                    jobDirectory: job.directory, properties: properties,
                    spec: SpecContext(deployment: manifest.name, jobName: job.name))
            } catch {
                throw DeployError(.template, "\(error)", at: "release '\(release.name)'")
            }
            guard rendered.files.contains(where: { $0.destination == "bin/cpi" }) else {
                throw DeployError(
                    .release, "job '\(job.name)' of release '\(release.name)' has no template that renders to bin/cpi",
                    at: "cloud_provider.template")
            }
            try? FileManager.default.removeItem(at: jobDirectory)
            for file in rendered.files {
                let target = jobDirectory.appendingPathComponent(file.destination)
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.content.utf8).write(to: target)
                let executable = file.destination.hasPrefix("bin/")
                try FileManager.default.setAttributes(
                    [.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: target.path)
            }
        }
        return ExternalCPI(
            executable: jobDirectory.appendingPathComponent("bin/cpi").path,
            environment: [
                "BOSH_PACKAGES_DIR": packagesDirectory.path, "BOSH_JOBS_DIR": jobsDirectory.path,
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ],
            context: CPIContext(directorUUID: directorID, stemcellAPIVersion: 2))
    }

    /// Runs a package's `packaging` script with BOSH's variables, into a fresh install folder.
    static func compile(_ package: ReleasePackage, into target: URL, packagesDirectory: URL, work: URL) async throws {
        let source = work.appendingPathComponent("compile/\(package.name)")
        try? FileManager.default.removeItem(at: source)
        try Archive.extract(package.archive, into: source)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let environment = [
            "BOSH_COMPILE_TARGET": source.path, "BOSH_INSTALL_TARGET": target.path, "BOSH_PACKAGE_NAME": package.name,
            "BOSH_PACKAGE_VERSION": package.fingerprint, "BOSH_PACKAGES_DIR": packagesDirectory.path,
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": work.path,
        ]
        let output = try await ProcessRunner.run(
            "/bin/bash", ["-e", "packaging"], environment: environment, directory: source.path)
        guard output.status == 0 else {
            let tail = (output.stderrText + output.stdoutText).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw DeployError(
                .release, "package '\(package.name)': packaging failed with status \(output.status): \(tail)")
        }
    }
}
