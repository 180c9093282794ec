import Foundation
import SkiffCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the agent keeps things, under a root that is `/var/vcap` on a VM and a temp directory in tests.
public struct AgentPaths: Sendable, Hashable {
    /// The root, `/var/vcap` by default.
    public let root: String

    /// Creates paths under `root`.
    public init(root: String = "/var/vcap") {
        self.root = (root as NSString).standardizingPath
    }

    /// `root/sub/path`.
    public func path(_ components: String...) -> String {
        components.reduce(root) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// Maps a `/var/vcap/...` path from settings onto this root; other paths stay as they are.
    public func rebase(_ path: String) -> String {
        let prefix = "/var/vcap"
        guard root != prefix, path == prefix || path.hasPrefix(prefix + "/") else { return path }
        return root + path.dropFirst(prefix.count)
    }

    /// `bosh/`: the agent's own files.
    public var boshDirectory: String { path("bosh") }
    /// `bosh/spec.json`: the applied spec.
    public var specFile: String { path("bosh", "spec.json") }
    /// `bosh/settings.json`.
    public var settingsFile: String { path("bosh", "settings.json") }
    /// `bosh/persistent_disks.json`: disk hints and mounts.
    public var disksFile: String { path("bosh", "persistent_disks.json") }
    /// `bosh/desired_job_state`: whether jobs should run after an agent restart.
    public var desiredStateFile: String { path("bosh", "desired_job_state") }
    /// `data/blobs`: the blobstore when the settings name none.
    public var defaultBlobsDirectory: String { path("data", "blobs") }
    /// `packages/`: one link per installed package.
    public var packagesDirectory: String { path("packages") }
    /// `jobs/`: one link per installed job.
    public var jobsDirectory: String { path("jobs") }
    /// `data/packages/NAME/VERSION`: package contents.
    public var dataPackagesDirectory: String { path("data", "packages") }
    /// `data/jobs/NAME/VERSION`: rendered job contents.
    public var dataJobsDirectory: String { path("data", "jobs") }
    /// `data/compile/NAME`: where package sources are unpacked and built.
    public var compileDirectory: String { path("data", "compile") }
    /// `data/tmp`: scratch space.
    public var tmpDirectory: String { path("data", "tmp") }
    /// `sys/log/JOB`: job logs.
    public var logDirectory: String { path("sys", "log") }
    /// `sys/run/JOB`: pidfiles and sockets.
    public var runDirectory: String { path("sys", "run") }
    /// `monit/`: start and stop program output.
    public var monitDirectory: String { path("monit") }
    /// `store/`: where the persistent disk is mounted.
    public var storeDirectory: String { path("store") }

    /// The PATH scripts and monit programs get, as monit and bosh-agent give it: this root's `bosh/bin` first, then
    /// the system's directories.
    public var searchPath: String {
        path("bosh", "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }

    /// `sys/log/JOB/SCRIPT.stdout.log` and `.stderr.log`: where a lifecycle script's output goes, as bosh-agent
    /// names them.
    public func scriptLogs(job: String, script: String) -> ScriptLogs {
        ScriptLogs(
            stdout: path("sys", "log", job, "\(script).stdout.log"),
            stderr: path("sys", "log", job, "\(script).stderr.log"))
    }
}

/// The two log files of one lifecycle script run.
public struct ScriptLogs: Sendable, Hashable {
    /// Its standard output.
    public var stdout: String
    /// Its standard error.
    public var stderr: String
}

/// File operations the installer needs, with errors as values.
enum Files {
    static func createDirectory(_ path: String) throws(AgentError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw AgentError(.io, "cannot create directory '\(path)': \(error.localizedDescription)")
        }
    }

    /// Appends `data` to the file at `path`, creating it (0640) if needed.
    static func append(_ data: Data, to path: String) throws(AgentError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AgentError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw AgentError(.io, "cannot write '\(path)'") }
    }

    static func remove(_ path: String) throws(AgentError) {
        guard exists(path) || isSymlink(path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw AgentError(.io, "cannot remove '\(path)': \(error.localizedDescription)")
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func isSymlink(_ path: String) -> Bool {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Points `link` at `target`, replacing whatever `link` was, atomically (temp link + rename).
    static func symlink(_ link: String, to target: String) throws(AgentError) {
        let temp = link + ".tmp-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(
                atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: temp, withDestinationPath: target)
        } catch {
            throw AgentError(.io, "cannot link '\(link)' to '\(target)': \(error.localizedDescription)")
        }
        if rename(temp, link) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temp)
            throw AgentError(.io, "cannot link '\(link)' to '\(target)': \(reason)")
        }
    }

    static func write(_ data: Data, to path: String, mode: Int = 0o644) throws(AgentError) {
        do {
            try AtomicFile.write(data, to: path, mode: UInt32(mode), createDirectories: true)
        } catch {
            throw AgentError(.io, error.message)
        }
    }

    static func makeExecutable(_ path: String) {
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    static func contents(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? []
    }

    /// A safe single path component: no slashes, not `.` or `..`, not empty.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }
}
