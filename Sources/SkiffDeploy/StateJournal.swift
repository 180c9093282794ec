import Foundation
import SkiffManifest

#if canImport(Glibc)
    import Glibc
#endif

/// Named points where crash tests stop a run as a power cut would: after each state write (`state:WHAT`) and after
/// each cloud call that changes something (`cloud:METHOD`), before its result is recorded.
///
/// The binary honours `SKIFF_TEST_KILL_AT=POINT:N` (SIGKILL itself the N-th time POINT is reached) and
/// `SKIFF_TEST_KILL_TRACE=FILE` (append each point reached, `POINT:N` a line); tests alone set them. In-process
/// tests pass their own handler, which throws instead.
public struct KillSwitch: Sendable {
    private let handler: @Sendable (String) throws -> Void

    /// A kill switch calling `handler` with `POINT:N` at every point reached.
    public init(_ handler: @escaping @Sendable (String) throws -> Void) { self.handler = handler }

    /// Never stops anything.
    public static let none = KillSwitch { _ in }

    /// The switch the environment asks for (``none`` when neither variable is set).
    public static let environment: KillSwitch = {
        let variables = ProcessInfo.processInfo.environment
        let target = variables["SKIFF_TEST_KILL_AT"].flatMap { $0.isEmpty ? nil : $0 }
        let trace = variables["SKIFF_TEST_KILL_TRACE"].flatMap { $0.isEmpty ? nil : $0 }
        guard target != nil || trace != nil else { return .none }
        let counter = PointCounter()
        return KillSwitch { point in
            let reached = "\(point):\(counter.next(point))"
            if let trace, let handle = FileHandle(forWritingAtPath: trace) ?? KillSwitch.create(trace) {
                handle.seekToEndOfFile()
                handle.write(Data((reached + "\n").utf8))
                try? handle.close()
            }
            if reached == target { kill(getpid(), SIGKILL) }
        }
    }()

    private static func create(_ path: String) -> FileHandle? {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { return nil }
        return FileHandle(forWritingAtPath: path)
    }

    /// Reports that the run reached `point`.
    func reach(_ point: String) throws { try handler(point) }
}

/// Counts how often each point was reached.
final class PointCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    /// One more time at `point`; returns the count including this one.
    func next(_ point: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        counts[point, default: 0] += 1
        return counts[point] ?? 1
    }
}

/// The state of one run and the only place it is saved: every change goes through ``record(_:_:)``, which writes
/// the state file atomically and then reaches the kill point `state:WHAT`. The file is created by the first
/// record, so a run that fails before changing anything leaves no state file; the vars store with the values this
/// run generated is written just before it, so the secrets a cloud resource was made with are never lost.
final class StateJournal: @unchecked Sendable {
    let store: StateStore
    let kill: KillSwitch
    private(set) var state: DeploymentState
    private var unsavedStore: VarsStore?

    init(store: StateStore, state: DeploymentState, kill: KillSwitch, unsavedStore: VarsStore? = nil) {
        self.store = store
        self.state = state
        self.kill = kill
        self.unsavedStore = unsavedStore
    }

    /// Applies `change`, saves the state and reaches `state:WHAT`.
    func record(_ what: String, _ change: (inout DeploymentState) -> Void) throws {
        change(&state)
        try saveVarsStore()
        try store.save(state)
        try kill.reach("state:" + what)
    }

    /// Runs one cloud call that changes something and reaches `cloud:METHOD` once it returned.
    func cloud<T>(_ method: String, _ call: () async throws -> T) async throws -> T {
        let value = try await call()
        try kill.reach("cloud:" + method)
        return value
    }

    /// Writes the vars store with this run's generated values, once.
    func saveVarsStore() throws {
        guard let pending = unsavedStore else { return }
        do {
            try pending.save()
        } catch {
            throw DeployError(.io, "\(error)")
        }
        unsavedStore = nil
    }

    /// Removes the state file, the last act of delete-env.
    func delete() throws {
        try store.delete()
    }
}

extension StateStore {
    /// Removes the temporary files a killed vars-store write left beside `path` (`.NAME.skiff-tmp-PID`).
    static func removeStaleVarsStoreFiles(_ path: String?) {
        guard let path else { return }
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).skiff-tmp-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where entry.hasPrefix(prefix) {
            unlink(directory.appendingPathComponent(entry).path)
        }
    }
}
