import Foundation
import SkiffCore

/// Installs packages and jobs under the agent root and compiles packages, as bosh-agent does.
struct Installer: Sendable {
    let paths: AgentPaths
    let blobstore: LocalBlobstore

    /// Compiles a package source blob by running its `packaging` script; the result goes into the blobstore.
    func compile(
        blobID: String, digest: String, name: String, version: String, dependencies: [String: ApplySpec.BlobRef]
    ) async throws(AgentError) -> CompiledPackage {
        guard Files.isSafeName(name) else { throw AgentError(.invalidArguments, "invalid package name '\(name)'") }
        let source = try blobstore.verifiedPath(blobID, digest: digest)
        for (_, dependency) in dependencies.sorted(by: { $0.key < $1.key }) {
            try await installPackage(dependency)
        }
        let compileTarget = (paths.compileDirectory as NSString).appendingPathComponent(name)
        try Files.remove(compileTarget)
        defer { try? Files.remove(compileTarget) }
        try await CommandRunner.untar(source, into: compileTarget)
        let installDirectory = packageDirectory(name: name, version: version)
        try Files.remove(installDirectory)
        try Files.createDirectory(installDirectory)
        let installTarget = (paths.packagesDirectory as NSString).appendingPathComponent(name)
        try Files.symlink(installTarget, to: installDirectory)
        let packaging = (compileTarget as NSString).appendingPathComponent("packaging")
        if Files.exists(packaging) {
            let log = (paths.compileDirectory as NSString).appendingPathComponent("\(name).log")
            try? Files.remove(log)
            let environment = [
                "PATH": paths.searchPath,
                "BOSH_COMPILE_TARGET": compileTarget,
                "BOSH_INSTALL_TARGET": installTarget,
                "BOSH_PACKAGE_NAME": name,
                "BOSH_PACKAGE_VERSION": version,
                "BOSH_PACKAGES_DIR": paths.packagesDirectory,
            ]
            let result = try await CommandRunner.run(
                "/bin/bash", ["-x", "packaging"], environment: environment, directory: compileTarget, logPath: log)
            guard result.status == 0 else {
                let tail = result.output.split(separator: "\n").suffix(5).joined(separator: " | ")
                throw AgentError(
                    .compileFailed,
                    "compiling package '\(name)': packaging script exited with status \(result.status): \(tail)")
            }
        }
        try Files.createDirectory(paths.tmpDirectory)
        let archive = (paths.tmpDirectory as NSString).appendingPathComponent("compiled-\(UUID().uuidString).tgz")
        defer { try? Files.remove(archive) }
        try await CommandRunner.tar(installDirectory, to: archive)
        let stored = try blobstore.add(file: archive)
        try Files.write(Data(stored.sha1.utf8), to: installDirectory + ".digest")
        return CompiledPackage(blobstoreID: stored.id, sha1: stored.sha1)
    }

    /// `data/packages/NAME/VERSION`.
    func packageDirectory(name: String, version: String) -> String {
        let safeVersion = Files.isSafeName(version) ? version : "current"
        return paths.path("data", "packages", name, safeVersion)
    }

    /// Installs one (compiled) package blob under `data/packages` and links `packages/NAME` to it.
    func installPackage(_ package: ApplySpec.BlobRef) async throws(AgentError) {
        guard Files.isSafeName(package.name) else {
            throw AgentError(.invalidArguments, "invalid package name '\(package.name)'")
        }
        let directory = packageDirectory(name: package.name, version: package.version)
        let marker = directory + ".digest"
        let installed = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? ""
        if !(installed == package.sha1 && Files.isDirectory(directory)) {
            let source = try blobstore.verifiedPath(package.blobstoreID, digest: package.sha1)
            let staging = directory + ".staging-\(UUID().uuidString)"
            defer { try? Files.remove(staging) }
            try await CommandRunner.untar(source, into: staging)
            try Files.remove(directory)
            do {
                try FileManager.default.moveItem(atPath: staging, toPath: directory)
            } catch {
                throw AgentError(.io, "cannot install package '\(package.name)': \(error.localizedDescription)")
            }
            try Files.write(Data(package.sha1.utf8), to: marker)
        }
        try Files.symlink((paths.packagesDirectory as NSString).appendingPathComponent(package.name), to: directory)
    }

    /// Lays out a full apply spec: packages, rendered jobs, log and run directories; returns the job names.
    func apply(_ spec: ApplySpec) async throws(AgentError) -> [String] {
        for (_, package) in (spec.packages ?? [:]).sorted(by: { $0.key < $1.key }) {
            try await installPackage(package)
        }
        let templates = spec.job?.templates ?? []
        var jobNames: [String] = []
        if let archive = spec.renderedTemplatesArchive, !archive.blobstoreID.isEmpty, !templates.isEmpty {
            let source = try blobstore.verifiedPath(archive.blobstoreID, digest: archive.sha1)
            try Files.createDirectory(paths.tmpDirectory)
            let staging = (paths.tmpDirectory as NSString).appendingPathComponent("jobs-\(UUID().uuidString)")
            defer { try? Files.remove(staging) }
            try await CommandRunner.untar(source, into: staging)
            for template in templates {
                guard Files.isSafeName(template.name) else {
                    throw AgentError(.applyFailed, "invalid job name '\(template.name)'")
                }
                let rendered = (staging as NSString).appendingPathComponent(template.name)
                guard Files.isDirectory(rendered) else {
                    throw AgentError(
                        .applyFailed, "rendered templates archive has no directory for job '\(template.name)'")
                }
                let version = Files.isSafeName(template.version) ? template.version : "current"
                let target = paths.path("data", "jobs", template.name, version)
                try Files.remove(target)
                try Files.createDirectory((target as NSString).deletingLastPathComponent)
                do {
                    try FileManager.default.moveItem(atPath: rendered, toPath: target)
                } catch {
                    throw AgentError(
                        .applyFailed, "cannot install job '\(template.name)': \(error.localizedDescription)")
                }
                let bin = (target as NSString).appendingPathComponent("bin")
                for file in Files.contents(bin) { Files.makeExecutable((bin as NSString).appendingPathComponent(file)) }
                try Files.symlink((paths.jobsDirectory as NSString).appendingPathComponent(template.name), to: target)
                try Files.createDirectory((paths.logDirectory as NSString).appendingPathComponent(template.name))
                try Files.createDirectory((paths.runDirectory as NSString).appendingPathComponent(template.name))
                jobNames.append(template.name)
            }
        }
        // Jobs no longer in the spec lose their link.
        for name in Files.contents(paths.jobsDirectory) where !jobNames.contains(name) {
            try Files.remove((paths.jobsDirectory as NSString).appendingPathComponent(name))
        }
        try Files.createDirectory(paths.logDirectory)
        try Files.createDirectory(paths.runDirectory)
        return jobNames
    }

    /// The monit processes of the installed jobs, in job order.
    func monitProcesses(jobs: [String]) throws(AgentError) -> [MonitProcess] {
        var processes: [MonitProcess] = []
        for job in jobs {
            let file = paths.path("jobs", job, "monit")
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            processes += try MonitFile.parse(text, job: job, file: file)
        }
        return processes
    }
}
