import Foundation
import SkiffCore

#if canImport(Glibc)
    import Glibc
#endif

/// Loads, saves and locks one state file. Every save is atomic (temp file, fsync, rename) and mode 0600.
public final class StateStore: @unchecked Sendable {
    /// The state file.
    public let url: URL
    private var lockDescriptor: Int32 = -1
    private let mutex = NSLock()

    /// The default state file of a manifest: `<manifest dir>/<manifest name without extension>-state.json`.
    public static func defaultURL(forManifest manifest: URL) -> URL {
        let base = manifest.deletingPathExtension().lastPathComponent
        return manifest.deletingLastPathComponent().appendingPathComponent("\(base)-state.json")
    }

    /// A store for the state file at `url`.
    public init(url: URL) {
        self.url = url.standardizedFileURL
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// True if the state file exists.
    public var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    /// Takes an exclusive lock on this state for the life of the store; fails at once if another skiff holds it.
    public func lock() throws {
        mutex.lock()
        defer { mutex.unlock() }
        guard lockDescriptor < 0 else { return }
        let lockURL = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock")
        let descriptor = open(lockURL.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DeployError(.state, "cannot create lock file: \(String(cString: strerror(errno)))", at: lockURL.path)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw DeployError(
                .state,
                "another skiff is working on this environment (the state file is locked); try again when it ends",
                at: url.path)
        }
        // The lock file is removed on unlock; a lock taken on a file that was removed meanwhile protects nothing.
        var held = stat()
        var current = stat()
        guard fstat(descriptor, &held) == 0, stat(lockURL.path, &current) == 0, held.st_ino == current.st_ino else {
            close(descriptor)
            throw DeployError(
                .state,
                "another skiff is working on this environment (the state file is locked); try again when it ends",
                at: url.path)
        }
        lockDescriptor = descriptor
    }

    /// Releases the lock and removes the lock file.
    public func unlock() {
        mutex.lock()
        defer { mutex.unlock() }
        guard lockDescriptor >= 0 else { return }
        let lockURL = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock")
        unlink(lockURL.path)
        close(lockDescriptor)
        lockDescriptor = -1
    }

    /// Reads the state, or nil when there is no state file.
    public func load() throws -> DeploymentState? {
        guard exists else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DeployError(.state, "cannot read the state file: \(error.localizedDescription)", at: url.path)
        }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d }) {
            throw DeployError(
                .state,
                "the state file is empty, so skiff cannot know what this environment has; restore it from a backup, "
                    + "or remove it if nothing was ever deployed with it", at: url.path)
        }
        return try DeploymentState(json: data, path: url.path)
    }

    /// Writes the state atomically with mode 0600.
    public func save(_ state: DeploymentState) throws {
        do {
            try AtomicFile.write(state.jsonData(), to: url.path, mode: 0o600)
        } catch {
            throw DeployError(.io, error.message, at: url.path)
        }
        FaultInjection.stateSaved()
    }

    /// Removes the temporary files killed writes left beside the state file (`.NAME.PID.N.tmp`). Call it with
    /// the lock held.
    public func removeStaleTemporaryFiles() {
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent)."
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
            unlink(directory.appendingPathComponent(entry).path)
        }
    }

    /// Removes the state file.
    public func delete() throws {
        guard exists else { return }
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw DeployError(.state, "cannot delete the state file: \(error.localizedDescription)", at: url.path)
        }
    }
}

/// Crash testing: with `SKIFF_FAULT_KILL_AFTER_SAVES=N` in the environment, the process kills itself with SIGKILL
/// right after its N-th state save, as a power cut or `kill -9` between two steps would. Tests use it to show that
/// a re-run converges and delete-env still removes everything.
enum FaultInjection {
    nonisolated(unsafe) private static var saves = 0
    private static let lock = NSLock()
    private static let limit = ProcessInfo.processInfo.environment["SKIFF_FAULT_KILL_AFTER_SAVES"].flatMap { Int($0) }

    static func stateSaved() {
        guard let limit else { return }
        lock.lock()
        saves += 1
        let reached = saves >= limit
        lock.unlock()
        if reached { kill(getpid(), SIGKILL) }
    }
}
