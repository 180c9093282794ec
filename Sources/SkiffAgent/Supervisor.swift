import Foundation
import SkiffCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The state of one supervised process, as bosh-agent reports it.
public struct ProcessStatus: Hashable, Sendable {
    /// `running`, `starting`, `failing` or `stopped`.
    public var state: String
    /// The process name from the monit file.
    public var name: String
    /// The PID from the pidfile while running.
    public var pid: Int32?
    /// Seconds since it was last seen starting to run.
    public var uptimeSeconds: Int
    /// How many times it was restarted after dying.
    public var restarts: Int
}

/// Timing knobs for supervision; tests shorten them.
public struct SupervisorTiming: Sendable, Hashable {
    /// How often pidfiles are checked.
    public var checkInterval: Duration
    /// How long a start program may take to produce a live pidfile before the process counts as failing.
    public var startTimeout: Duration
    /// The first restart delay; it doubles per consecutive failure.
    public var initialBackoff: Duration
    /// The longest restart delay.
    public var maximumBackoff: Duration
    /// How long `stop program` may run, and then how long to wait after SIGTERM before SIGKILL.
    public var stopTimeout: Duration

    /// Creates timing settings.
    public init(
        checkInterval: Duration = .milliseconds(500), startTimeout: Duration = .seconds(30),
        initialBackoff: Duration = .milliseconds(500), maximumBackoff: Duration = .seconds(30),
        stopTimeout: Duration = .seconds(10)
    ) {
        self.checkInterval = checkInterval
        self.startTimeout = startTimeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.stopTimeout = stopTimeout
    }
}

/// Runs the processes declared in monit files, watches their pidfiles and restarts those that die.
public actor Supervisor {
    enum Phase: Hashable {
        case stopped
        case waiting(since: ContinuousClock.Instant)
        case starting(since: ContinuousClock.Instant)
        case running(pid: Int32, since: ContinuousClock.Instant)
        case failing(retryAt: ContinuousClock.Instant)
    }

    struct Entry {
        var process: MonitProcess
        var phase: Phase = .stopped
        var failures = 0
        var restarts = 0
        /// When the start program last ran; a pidfile older than that belongs to an earlier run.
        var launchedAt: Date?
        /// The start program's own process, while it runs.
        var starter: ChildProcess?
    }

    private var entries: [String: Entry] = [:]
    private var order: [String] = []
    private var monitoring = false
    private var launched: [ChildProcess] = []
    private var loop: Task<Void, Never>?
    private let logDirectory: String
    private let searchPath: String
    private let timing: SupervisorTiming
    private let clock = ContinuousClock()

    /// Creates a supervisor writing start-program output under `logDirectory`; start and stop programs get
    /// `searchPath` as their PATH (the agent's is its root's `bosh/bin`, then the system's).
    public init(
        logDirectory: String, searchPath: String = AgentPaths().searchPath,
        timing: SupervisorTiming = SupervisorTiming()
    ) {
        self.logDirectory = logDirectory
        self.searchPath = searchPath
        self.timing = timing
    }

    /// Replaces the set of processes; ones no longer declared are stopped first.
    public func configure(_ processes: [MonitProcess]) async {
        let names = Set(processes.map(\.name))
        for name in order.reversed() where !names.contains(name) {
            if let entry = entries[name] { await stopOne(entry) }
            entries[name] = nil
        }
        for process in processes {
            if var entry = entries[process.name] {
                entry.process = process
                entries[process.name] = entry
            } else {
                entries[process.name] = Entry(process: process)
            }
        }
        order = Self.dependencyOrder(processes)
    }

    /// The declared processes, in start order.
    public var processes: [MonitProcess] { order.compactMap { entries[$0]?.process } }

    /// Starts every process (dependencies first) and keeps watching them.
    public func startAll() {
        monitoring = true
        let now = clock.now
        for name in order {
            guard var entry = entries[name] else { continue }
            switch entry.phase {
            case .starting, .waiting: continue
            case .running(let pid, _) where ProcessProbe.isAlive(pid): continue
            default: break
            }
            if let pid = ProcessProbe.readPidfile(entry.process.pidfile), ProcessProbe.isAlive(pid) {
                entry.phase = .running(pid: pid, since: now)
            } else {
                entry.failures = 0
                if dependenciesRunning(entry.process) {
                    launch(&entry)
                } else {
                    entry.phase = .waiting(since: now)
                }
            }
            entries[name] = entry
        }
        if loop == nil {
            let interval = timing.checkInterval
            loop = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.check()
                }
            }
        }
    }

    /// Stops watching, then stops every process (dependents first): stop program, SIGTERM, SIGKILL, by PID.
    public func stopAll() async {
        monitoring = false
        loop?.cancel()
        loop = nil
        for name in order.reversed() {
            guard let entry = entries[name] else { continue }
            await stopOne(entry)
            entries[name]?.phase = .stopped
        }
        launched.removeAll { !$0.isRunning }
    }

    /// Stops watching without touching the processes, as when the agent itself dies.
    func stopMonitoring() {
        monitoring = false
        loop?.cancel()
        loop = nil
    }

    /// The current state of each process, in start order (pidfiles are checked afresh first).
    public func statuses() -> [ProcessStatus] {
        check()
        let now = clock.now
        return order.compactMap { name in
            guard let entry = entries[name] else { return nil }
            switch entry.phase {
            case .stopped:
                return ProcessStatus(state: "stopped", name: name, pid: nil, uptimeSeconds: 0, restarts: entry.restarts)
            case .starting, .waiting:
                return ProcessStatus(
                    state: "starting", name: name, pid: nil, uptimeSeconds: 0, restarts: entry.restarts)
            case .running(let pid, let since):
                let up = Int((now - since).components.seconds)
                return ProcessStatus(
                    state: "running", name: name, pid: pid, uptimeSeconds: up, restarts: entry.restarts)
            case .failing:
                return ProcessStatus(state: "failing", name: name, pid: nil, uptimeSeconds: 0, restarts: entry.restarts)
            }
        }
    }

    /// bosh's `job_state`: `running` when all run (or none are declared), `failing`, `starting` or `stopped`.
    public func jobState() -> String {
        let states = statuses().map(\.state)
        if states.isEmpty { return monitoring || order.isEmpty ? "running" : "stopped" }
        if states.contains("failing") { return "failing" }
        if states.allSatisfy({ $0 == "running" }) { return "running" }
        if states.allSatisfy({ $0 == "stopped" }) { return "stopped" }
        return "starting"
    }

    /// One supervision pass: notice live pidfiles, deaths and due restarts.
    func check() {
        guard monitoring else { return }
        launched.removeAll { !$0.isRunning }
        let now = clock.now
        for name in order {
            guard var entry = entries[name] else { continue }
            switch entry.phase {
            case .stopped:
                break
            case .waiting(let since):
                // `depends on`: start once the dependencies run, or anyway after the start timeout.
                if dependenciesRunning(entry.process) || now - since > timing.startTimeout { launch(&entry) }
            case .starting(let since):
                if let pid = Self.freshPid(entry) {
                    entry.phase = .running(pid: pid, since: now)
                } else if now - since > timing.startTimeout {
                    schedule(&entry, now: now)
                }
            case .running(let pid, let since):
                if !ProcessProbe.isAlive(pid) {
                    // A start program may have replaced the process; trust a newer live pidfile.
                    if let fresh = Self.freshPid(entry), fresh != pid {
                        entry.phase = .running(pid: fresh, since: now)
                    } else {
                        entry.restarts += 1
                        if now - since > .seconds(30) { entry.failures = 0 }
                        schedule(&entry, now: now)
                        if entry.failures == 1 { launch(&entry) }
                    }
                }
            case .failing(let retryAt):
                if let pid = Self.freshPid(entry) {
                    entry.phase = .running(pid: pid, since: now)
                } else if now >= retryAt {
                    launch(&entry)
                }
            }
            entries[name] = entry
        }
    }

    private func dependenciesRunning(_ process: MonitProcess) -> Bool {
        process.dependsOn.allSatisfy { dependency in
            guard let entry = entries[dependency] else { return true }
            if case .running = entry.phase { return true }
            return false
        }
    }

    private func schedule(_ entry: inout Entry, now: ContinuousClock.Instant) {
        entry.failures += 1
        var delay = timing.initialBackoff
        for _ in 1..<max(1, entry.failures) where delay < timing.maximumBackoff { delay *= 2 }
        entry.phase = .failing(retryAt: now + min(delay, timing.maximumBackoff))
    }

    private func launch(_ entry: inout Entry) {
        let process = entry.process
        let log = (logDirectory as NSString).appendingPathComponent("\(process.name).log")
        try? FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        do {
            let spawned = try CommandRunner.spawn(
                process.startProgram, logPath: log, environment: ["PATH": searchPath])
            launched.append(spawned)
            entry.starter = spawned
            entry.launchedAt = Date()
            entry.phase = .starting(since: clock.now)
        } catch {
            entry.phase = .failing(retryAt: clock.now + timing.maximumBackoff)
        }
    }

    /// The live PID in the pidfile, if the file was written by our latest start (or we never started it).
    static func freshPid(_ entry: Entry) -> Int32? {
        guard let pid = ProcessProbe.readPidfile(entry.process.pidfile), ProcessProbe.isAlive(pid) else { return nil }
        guard let launchedAt = entry.launchedAt else { return pid }
        let attributes = try? FileManager.default.attributesOfItem(atPath: entry.process.pidfile)
        guard let written = attributes?[.modificationDate] as? Date else { return nil }
        return written >= launchedAt.addingTimeInterval(-1) ? pid : nil
    }

    /// Stops one process: stop program, then SIGTERM and SIGKILL to the PIDs recorded for it, and to its start
    /// program if that still runs. A stale pidfile from an earlier run is never trusted.
    private func stopOne(_ entry: Entry) async {
        let process = entry.process
        var pids: Set<Int32> = []
        if case .running(let pid, _) = entry.phase { pids.insert(pid) }
        switch entry.phase {
        case .starting, .waiting, .failing:
            // A start in progress may still write its pidfile; give it a moment so nothing is left behind.
            _ = await waitUntil(timeout: .seconds(2)) {
                Self.freshPid(entry) != nil || !(entry.starter?.isRunning ?? false)
            }
        default:
            break
        }
        if let pid = Self.freshPid(entry) { pids.insert(pid) }
        if let starter = entry.starter, starter.isRunning { pids.insert(starter.pid) }
        guard !pids.isEmpty else { return }
        if let stop = process.stopProgram {
            let log = (logDirectory as NSString).appendingPathComponent("\(process.name).log")
            // The stop program may hang: it is stopped itself at the stop timeout.
            async let stopped = try? CommandRunner.run(
                "/bin/sh", ["-c", stop], environment: ["PATH": searchPath], logPath: log,
                timeout: timing.stopTimeout)
            _ = await waitUntil(timeout: timing.stopTimeout) { pids.allSatisfy { !ProcessProbe.isAlive($0) } }
            _ = await stopped
        }
        let remaining = pids.filter { ProcessProbe.isAlive($0) }
        guard !remaining.isEmpty else { return }
        for pid in remaining { ProcessProbe.signal(pid, SIGTERM) }
        if await waitUntil(timeout: timing.stopTimeout, { remaining.allSatisfy { !ProcessProbe.isAlive($0) } }) {
            return
        }
        for pid in remaining where ProcessProbe.isAlive(pid) { ProcessProbe.signal(pid, SIGKILL) }
        _ = await waitUntil(timeout: .seconds(2)) { remaining.allSatisfy { !ProcessProbe.isAlive($0) } }
    }

    private func waitUntil(timeout: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    /// Orders processes so that each comes after the ones it depends on; unknown dependencies are ignored.
    static func dependencyOrder(_ processes: [MonitProcess]) -> [String] {
        let byName = Dictionary(processes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var ordered: [String] = []
        var visiting: Set<String> = []
        var done: Set<String> = []
        func visit(_ name: String) {
            guard !done.contains(name), !visiting.contains(name), let process = byName[name] else { return }
            visiting.insert(name)
            for dependency in process.dependsOn { visit(dependency) }
            visiting.remove(name)
            done.insert(name)
            ordered.append(name)
        }
        for process in processes { visit(process.name) }
        return ordered
    }
}
