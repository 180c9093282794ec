import Crypto
import Foundation
import SkiffCore
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// A BOSH release, read from a release directory or a release tarball, ready to render and compile.
public struct Release: Sendable {
    /// The release name (`config/final.yml`'s `final_name` or `name`, or `release.MF`'s `name`).
    public let name: String
    /// The release version: `release.MF`'s, or `0+dev.<digest>` for a directory release.
    public let version: String
    /// Its jobs by name.
    public let jobs: [String: ReleaseJob]
    /// Its packages by name.
    public let packages: [String: ReleasePackage]
    /// Where it was read from, for messages.
    public let source: String
}

/// One job of a release: an unpacked directory holding the spec, the monit file and `templates/`.
public struct ReleaseJob: Sendable {
    /// The job name.
    public let name: String
    /// The job's fingerprint, which BOSH uses as its version.
    public let fingerprint: String
    /// The directory with `spec` (or `job.MF`), `monit` and `templates/`.
    public let directory: URL
    /// The spec file inside `directory`.
    public let specFile: URL
    /// Names of the packages the job needs.
    public let packages: [String]
}

/// One package of a release, as a source archive the agent compiles with the package's `packaging` script.
public struct ReleasePackage: Sendable {
    /// The package name.
    public let name: String
    /// The package's fingerprint, which BOSH uses as its version.
    public let fingerprint: String
    /// Names of the packages this one is compiled against.
    public let dependencies: [String]
    /// The gzipped source tarball (`packaging` plus the spec's files).
    public let archive: URL
    /// The SHA-1 of `archive`, hex.
    public let sha1: String
}

/// Reads releases from disk.
public enum ReleaseReader {
    /// Reads a release directory or a `.tgz` release tarball; `workDirectory` receives unpacked and built files.
    public static func read(at path: URL, workDirectory: URL) throws -> Release {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw DeployError(.release, "release not found", at: path.path)
        }
        return isDirectory.boolValue
            ? try readDirectory(path, workDirectory: workDirectory)
            : try readTarball(path, workDirectory: workDirectory)
    }

    // MARK: - Release directories

    static func readDirectory(_ root: URL, workDirectory: URL) throws -> Release {
        let name = try releaseName(root)
        let fm = FileManager.default
        var jobs: [String: ReleaseJob] = [:]
        let jobsRoot = root.appendingPathComponent("jobs")
        for jobName in (try? fm.contentsOfDirectory(atPath: jobsRoot.path))?.sorted() ?? [] {
            let directory = jobsRoot.appendingPathComponent(jobName)
            let specFile = directory.appendingPathComponent("spec")
            guard fm.fileExists(atPath: specFile.path) else { continue }
            let spec = try yamlMap(specFile)
            let files =
                ["spec", "monit"]
                + (try listFiles(directory.appendingPathComponent("templates"))).map { "templates/" + $0 }
            let fingerprint = try fingerprintOf(files: files, in: directory)
            jobs[jobName] = ReleaseJob(
                name: (spec["name"] as? String) ?? jobName, fingerprint: fingerprint, directory: directory,
                specFile: specFile, packages: spec["packages"] as? [String] ?? [])
        }
        var packages: [String: ReleasePackage] = [:]
        let packagesRoot = root.appendingPathComponent("packages")
        for packageName in (try? fm.contentsOfDirectory(atPath: packagesRoot.path))?.sorted() ?? [] {
            let directory = packagesRoot.appendingPathComponent(packageName)
            let specFile = directory.appendingPathComponent("spec")
            guard fm.fileExists(atPath: specFile.path) else { continue }
            packages[packageName] = try buildPackage(
                name: packageName, directory: directory, spec: try yamlMap(specFile), releaseRoot: root,
                workDirectory: workDirectory)
        }
        let digest = SHA256.hash(
            data: Data(
                (jobs.values.map { "job \($0.name) \($0.fingerprint)" }
                    + packages.values.map { "package \($0.name) \($0.fingerprint)" })
                    .sorted().joined(separator: "\n").utf8))
        let version = "0+dev." + String(Hex.string(digest).prefix(12))
        return Release(name: name, version: version, jobs: jobs, packages: packages, source: root.path)
    }

    private static func releaseName(_ root: URL) throws -> String {
        for file in ["config/final.yml", "config/dev.yml"] {
            let url = root.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let config = try yamlMap(url)
            if let name = (config["final_name"] as? String) ?? (config["dev_name"] as? String)
                ?? (config["name"] as? String)
            {
                return name
            }
        }
        return root.lastPathComponent
    }

    private static func buildPackage(
        name: String, directory: URL, spec: [String: Any], releaseRoot: URL, workDirectory: URL
    ) throws -> ReleasePackage {
        let fm = FileManager.default
        let patterns = spec["files"] as? [String] ?? []
        let excluded = spec["excluded_files"] as? [String] ?? []
        // The fingerprint comes from the files where they are; the source archive is made only when no earlier run
        // made one for the same fingerprint ($SKIFF_HOME/packages), so an unchanged re-run archives nothing.
        var files: [(entry: String, source: URL)] = [("packaging", directory.appendingPathComponent("packaging"))]
        var fingerprintInput = ["packaging " + (try fileDigest(directory.appendingPathComponent("packaging")))]
        for base in ["src", "blobs"] {
            let baseURL = releaseRoot.appendingPathComponent(base)
            for file in try listFiles(baseURL) where !files.contains(where: { $0.entry == file }) {
                guard patterns.contains(where: { Glob.matches($0, file) }),
                    !excluded.contains(where: { Glob.matches($0, file) })
                else { continue }
                let source = baseURL.appendingPathComponent(file)
                files.append((file, source))
                fingerprintInput.append("\(file) " + (try fileDigest(source)))
            }
        }
        for pattern in patterns where !files.dropFirst().contains(where: { Glob.matches(pattern, $0.entry) }) {
            throw DeployError(
                .release, "package '\(name)': no file matches '\(pattern)' in src/ or blobs/", at: directory.path)
        }
        let dependencies = spec["dependencies"] as? [String] ?? []
        fingerprintInput.append("dependencies " + dependencies.sorted().joined(separator: ","))
        let fingerprint = Hex.string(SHA256.hash(data: Data(fingerprintInput.sorted().joined(separator: "\n").utf8)))
        let cached = Download.skiffHome.appendingPathComponent("packages/\(name)-\(fingerprint).tgz")
        let archive = workDirectory.appendingPathComponent("packages/\(name).tgz")
        try fm.createDirectory(at: archive.deletingLastPathComponent(), withIntermediateDirectories: true)
        // A copy in the run's own folder: the cache may be cleaned while this run still needs the file.
        try? fm.removeItem(at: archive)
        if (try? fm.copyItem(at: cached, to: archive)) != nil {
            return ReleasePackage(
                name: name, fingerprint: fingerprint, dependencies: dependencies, archive: archive,
                sha1: try fileSHA1(archive))
        }
        let staging = workDirectory.appendingPathComponent("package-src/\(name)")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        for file in files {
            let target = staging.appendingPathComponent(file.entry)
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: file.source, to: target)
        }
        try Archive.create(archive, from: staging, entries: files.map(\.entry))
        // Kept for the next run; a failure to keep it costs only time. Only $SKIFF_HOME and its `packages` folder
        // are made, never a missing parent of them: a home that was removed meanwhile stays removed.
        let packages = cached.deletingLastPathComponent()
        try? fm.createDirectory(at: packages.deletingLastPathComponent(), withIntermediateDirectories: false)
        try? fm.createDirectory(at: packages, withIntermediateDirectories: false)
        if fm.fileExists(atPath: packages.path) {
            let temporary = cached.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).tgz")
            if (try? fm.copyItem(at: archive, to: temporary)) != nil, rename(temporary.path, cached.path) != 0 {
                try? fm.removeItem(at: temporary)
            }
        }
        return ReleasePackage(
            name: name, fingerprint: fingerprint, dependencies: dependencies, archive: archive,
            sha1: try fileSHA1(archive))
    }

    // MARK: - Release tarballs

    static func readTarball(_ tarball: URL, workDirectory: URL) throws -> Release {
        let root = workDirectory.appendingPathComponent("release")
        try? FileManager.default.removeItem(at: root)
        try Archive.extract(tarball, into: root)
        let manifestURL = root.appendingPathComponent("release.MF")
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw DeployError(.release, "not a release tarball: it has no release.MF", at: tarball.path)
        }
        let text = try String(contentsOf: manifestURL, encoding: .utf8).replacingOccurrences(
            of: "!binary", with: "!!binary")
        guard let manifest = try Yams.load(yaml: text) as? [String: Any], let name = manifest["name"] as? String else {
            throw DeployError(.release, "release.MF has no name", at: tarball.path)
        }
        let version = "\(manifest["version"] ?? "")"
        var jobs: [String: ReleaseJob] = [:]
        for entry in manifest["jobs"] as? [[String: Any]] ?? [] {
            guard let jobName = entry["name"] as? String else { continue }
            let directory = root.appendingPathComponent("jobs/\(jobName)")
            try Archive.extract(root.appendingPathComponent("jobs/\(jobName).tgz"), into: directory)
            let specFile = directory.appendingPathComponent("job.MF")
            let spec = try yamlMap(specFile)
            jobs[jobName] = ReleaseJob(
                name: jobName, fingerprint: (entry["fingerprint"] as? String) ?? "\(entry["version"] ?? "")",
                directory: directory, specFile: specFile, packages: spec["packages"] as? [String] ?? [])
        }
        var packages: [String: ReleasePackage] = [:]
        for entry in manifest["packages"] as? [[String: Any]] ?? [] {
            guard let packageName = entry["name"] as? String else { continue }
            let archive = root.appendingPathComponent("packages/\(packageName).tgz")
            let sha1 = try (entry["sha1"] as? String) ?? fileSHA1(archive)
            packages[packageName] = ReleasePackage(
                name: packageName, fingerprint: (entry["fingerprint"] as? String) ?? "\(entry["version"] ?? "")",
                dependencies: entry["dependencies"] as? [String] ?? [], archive: archive,
                sha1: sha1)
        }
        return Release(name: name, version: version, jobs: jobs, packages: packages, source: tarball.path)
    }

    // MARK: - Helpers

    static func yamlMap(_ url: URL) throws -> [String: Any] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DeployError(.release, "cannot read file", at: url.path)
        }
        do {
            return try Yams.load(yaml: text) as? [String: Any] ?? [:]
        } catch let error as YamlError {
            throw DeployError(.release, "malformed YAML: \(error)", at: url.path)
        }
    }

    /// Regular files below `directory`, as sorted paths relative to it; none if it does not exist.
    static func listFiles(_ directory: URL) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory.path) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(
                atPath: directory.appendingPathComponent(path).path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                files.append(path)
            }
        }
        return files.sorted()
    }

    static func fingerprintOf(files: [String], in directory: URL) throws -> String {
        var lines: [String] = []
        for file in files {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            lines.append("\(file) \(try fileDigest(url))")
        }
        return Hex.string(SHA256.hash(data: Data(lines.sorted().joined(separator: "\n").utf8)))
    }

    static func fileDigest(_ url: URL) throws -> String { Hex.string(SHA256.hash(data: try Data(contentsOf: url))) }

    static func fileSHA1(_ url: URL) throws -> String {
        Hex.string(Insecure.SHA1.hash(data: try Data(contentsOf: url)))
    }
}

/// Shell-style globs as BOSH package specs use them: `*` and `?` within a path segment, `**` across segments.
enum Glob {
    /// True if `path` matches `pattern`.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        match(Array(pattern.split(separator: "/", omittingEmptySubsequences: false)), Array(path.split(separator: "/")))
    }

    private static func match(_ pattern: [Substring], _ path: [Substring]) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = Array(pattern.dropFirst())
            return (0...path.count).contains { match(rest, Array(path.dropFirst($0))) }
        }
        guard let segment = path.first, segmentMatches(Array(head), Array(segment)) else { return false }
        return match(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }

    private static func segmentMatches(_ pattern: [Character], _ text: [Character]) -> Bool {
        guard let head = pattern.first else { return text.isEmpty }
        switch head {
        case "*":
            return (0...text.count).contains { segmentMatches(Array(pattern.dropFirst()), Array(text.dropFirst($0))) }
        case "?":
            return !text.isEmpty && segmentMatches(Array(pattern.dropFirst()), Array(text.dropFirst()))
        default:
            return text.first == head && segmentMatches(Array(pattern.dropFirst()), Array(text.dropFirst()))
        }
    }
}
