import CSkiffCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished child process left behind.
public struct ProcessOutput: Sendable, Hashable {
    /// The exit status (or 128 + signal number when it was killed by a signal).
    public var status: Int32
    /// Everything it wrote to stdout, when stdout was captured.
    public var stdout: Data
    /// Everything it wrote to stderr, when stderr was captured.
    public var stderr: Data
    /// True when the runner stopped it because its timeout passed (or its task was cancelled).
    public var timedOut: Bool

    /// Creates an output value.
    public init(status: Int32, stdout: Data = Data(), stderr: Data = Data(), timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }

    /// stdout as UTF-8 text.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr as UTF-8 text, trimmed.
    public var stderrText: String {
        String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Where one of a child's output streams goes.
public enum ProcessStream: Sendable, Hashable {
    /// Collected into ``ProcessOutput``.
    case capture
    /// `/dev/null`.
    case discard
    /// A file, created with `mode` if missing; appended to, or truncated first.
    case file(String, append: Bool = true, mode: UInt32 = 0o644)
    /// This process's own stream (stdout for stdout, stderr for stderr).
    case inherit
    /// For stderr only: wherever stdout goes, interleaved with it.
    case standardOutput
}

/// One child process to run: program, arguments, environment, directory, input, where its output goes, and how
/// long it may take.
public struct ProcessCommand: Sendable, Hashable {
    /// The executable's path (use ``ProcessRunner/find(_:path:)`` to search `PATH`).
    public var executable: String
    /// The arguments, without the program name.
    public var arguments: [String]
    /// The whole environment; nil inherits this process's.
    public var environment: [String: String]?
    /// The working directory; nil keeps this process's.
    public var directory: String?
    /// Bytes fed on stdin; nil gives the child `/dev/null`.
    public var input: Data?
    /// Where stdout goes.
    public var stdout: ProcessStream
    /// Where stderr goes.
    public var stderr: ProcessStream
    /// How long the child may run; past it the runner sends SIGTERM, then SIGKILL after `killGrace`.
    public var timeout: Duration?
    /// How long a child has between SIGTERM and SIGKILL.
    public var killGrace: Duration
    /// How long to keep reading pipes after the child exited: a daemon it started may hold them open forever.
    public var drainGrace: Duration
    /// Starts the child as the leader of a new session (its own process group, no controlling terminal); signals
    /// on timeout then go to the whole group.
    public var newSession: Bool
    /// Starts the child as the leader of a new process group in this session (ignored with `newSession`); signals
    /// on timeout then go to the whole group.
    public var newProcessGroup: Bool

    /// Creates a command; by default stdout and stderr are captured and there is no timeout.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
        directory: String? = nil, input: Data? = nil, stdout: ProcessStream = .capture,
        stderr: ProcessStream = .capture, timeout: Duration? = nil, killGrace: Duration = .seconds(5),
        drainGrace: Duration = .milliseconds(250), newSession: Bool = false, newProcessGroup: Bool = false
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
        self.input = input
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
        self.killGrace = killGrace
        self.drainGrace = drainGrace
        self.newSession = newSession
        self.newProcessGroup = newProcessGroup
    }

    /// Whether the child leads a process group of its own, so signals go to the whole group.
    var leadsGroup: Bool { newSession || newProcessGroup }
}

/// Runs child processes without blocking Swift's cooperative threads.
///
/// Every child is started with `posix_spawn` (through the `CSkiffCore` shim) with all descriptors above stderr
/// closed, an empty signal mask and every signal at its default disposition, whatever this process has set up. The
/// runner waits for the child's exit, not for end-of-file on its pipes, so a background grandchild that keeps them
/// open cannot hang it.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`, feeding `input` on stdin, and collects stdout and stderr.
    ///
    /// `environment` nil inherits this process's environment. Throws only when the process cannot be started.
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        directory: String? = nil
    ) async throws(CloudError) -> ProcessOutput {
        try await run(
            ProcessCommand(executable, arguments, environment: environment, directory: directory, input: input))
    }

    /// Runs `command` to its end (or its timeout). Cancelling the task stops the child as a timeout does.
    public static func run(_ command: ProcessCommand) async throws(CloudError) -> ProcessOutput {
        let cancel = CancelSignal()
        let result: Result<ProcessOutput, CloudError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: runBlocking(command, cancel: cancel))
                }
                thread.start()
            }
        } onCancel: {
            cancel.fire()
        }
        return try result.get()
    }

    /// The blocking implementation of ``run(_:)``, for callers on their own thread.
    public static func runBlocking(_ command: ProcessCommand) -> Result<ProcessOutput, CloudError> {
        runBlocking(command, cancel: nil)
    }

    /// Starts `command` and returns at once; its output must not be `.capture` (use files or `.discard`), and its
    /// `input` must be nil (stdin is `/dev/null`). A thread of the child's own reaps it when it exits, so waiting
    /// never depends on pipes reaching end-of-file; wait for it with ``ChildProcess/wait()``.
    public static func start(_ command: ProcessCommand) throws(CloudError) -> ChildProcess {
        guard command.input == nil else {
            throw CloudError.cloud("cannot run '\(command.executable)': a started process cannot be fed input")
        }
        var child = try Spawned(command, capture: false)
        child.closeParentEnds()
        return ChildProcess(reaping: child.pid, groupLeader: command.leadsGroup)
    }

    /// Starts `executable` in a new session with stdin, stdout and stderr on /dev/null, and does not wait for it:
    /// for work nobody waits on (removing a discarded directory tree). It is reaped when it ends.
    /// Returns false if it could not be started.
    @discardableResult
    public static func spawnDetached(_ executable: String, _ arguments: [String]) -> Bool {
        let command = ProcessCommand(executable, arguments, stdout: .discard, stderr: .discard, newSession: true)
        return (try? start(command)) != nil
    }

    /// Finds `name` on `path` (default: this process's `PATH` plus the sbin and bin directories); nil if absent.
    public static func find(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let searchPath =
            path
            ?? ((ProcessInfo.processInfo.environment["PATH"] ?? "")
                + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func runBlocking(_ command: ProcessCommand, cancel: CancelSignal?) -> Result<ProcessOutput, CloudError> {
        var mask = sigset_t()
        skiff_sigpipe_block(&mask)
        defer { skiff_sigpipe_restore(&mask) }
        var child: Spawned
        do {
            child = try Spawned(command, capture: true)
        } catch {
            return .failure(error)
        }
        child.closeParentEnds()
        return .success(child.supervise(command, cancel: cancel))
    }
}

/// A child started with ``ProcessRunner/start(_:)``, reaped by a thread of its own as soon as it exits.
public final class ChildProcess: Sendable {
    /// Its process id (also its process group id when it leads a group).
    public let pid: pid_t
    /// Whether it leads its own process group (or session), so signals can go to the whole group.
    public let groupLeader: Bool
    private let outcome: Mutex<Outcome>

    private enum Outcome {
        case running([@Sendable (Int32) -> Void])
        case exited(Int32)
    }

    init(reaping pid: pid_t, groupLeader: Bool) {
        self.pid = pid
        self.groupLeader = groupLeader
        self.outcome = Mutex(.running([]))
        let thread = Thread { [self] in
            var status: Int32 = 0
            var result = waitpid(pid, &status, 0)
            while result < 0 && errno == EINTR { result = waitpid(pid, &status, 0) }
            let code = result == pid ? skiff_exit_status(status) : -1
            let waiters = outcome.withLock { state -> [@Sendable (Int32) -> Void] in
                defer { state = .exited(code) }
                if case .running(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter(code) }
        }
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// Whether it has not exited yet.
    public var isRunning: Bool {
        outcome.withLock {
            if case .running = $0 { return true }
            return false
        }
    }

    /// Calls `body` with the exit status once it has exited: at once if it has already.
    private func whenExited(_ body: @escaping @Sendable (Int32) -> Void) {
        let done: Int32? = outcome.withLock { state in
            switch state {
            case .exited(let status): return status
            case .running(var waiters):
                waiters.append(body)
                state = .running(waiters)
                return nil
            }
        }
        if let done { body(done) }
    }

    /// Waits until it exits; returns the exit status (128 + the signal when one killed it).
    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            whenExited { continuation.resume(returning: $0) }
        }
    }

    /// Waits until it exits, blocking the calling thread.
    public func waitBlocking() -> Int32 {
        let exited = DispatchSemaphore(value: 0)
        let status = Mutex<Int32>(-1)
        whenExited { code in
            status.withLock { $0 = code }
            exited.signal()
        }
        exited.wait()
        return status.withLock { $0 }
    }

    /// Waits until it exits or `timeout` passes; then it (its whole process group when it leads one) gets SIGTERM
    /// and, `grace` later if still running, SIGKILL. Returns the exit status, or nil when the timeout fired.
    public func wait(timeout: Duration, grace: Duration = .seconds(5)) async -> Int32? {
        await withTaskGroup(of: Bool.self) { group in
            // The stopper sleeps through the timeout and is cancelled as soon as the process exits.
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return false
                }
                self.signal(SIGTERM)
                if (try? await Task.sleep(for: grace)) != nil { self.signal(SIGKILL) }
                return true
            }
            let status = await self.wait()
            group.cancelAll()
            var fired = false
            for await stopped in group { fired = fired || stopped }
            return fired ? nil : status
        }
    }

    /// Sends `signal` to it, or to its whole process group when it leads one.
    public func signal(_ signal: Int32) {
        _ = kill(groupLeader ? -pid : pid, signal)
    }
}

/// A one-shot flag a task's cancellation handler raises and the runner's poll loop sees.
final class CancelSignal: Sendable {
    private let pipe: (read: Int32, write: Int32)?
    private let fired = Atomic<Bool>(false)

    init() {
        var fds: [Int32] = [-1, -1]
        if skiff_pipe_cloexec(&fds) == 0 {
            _ = skiff_set_nonblocking(fds[1])
            pipe = (fds[0], fds[1])
        } else {
            pipe = nil
        }
    }

    deinit {
        if let pipe {
            close(pipe.read)
            close(pipe.write)
        }
    }

    var descriptor: Int32 { pipe?.read ?? -1 }
    var isFired: Bool { fired.load(ordering: .acquiring) }

    func fire() {
        guard !fired.exchange(true, ordering: .acquiringAndReleasing), let pipe else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(pipe.write, &byte, 1)
    }
}

/// A spawned child and this side's ends of its pipes.
private struct Spawned {
    var pid: pid_t = 0
    var stdoutRead: Int32 = -1
    var stderrRead: Int32 = -1
    var stdinWrite: Int32 = -1
    /// Descriptors handed to the child, closed here once it runs.
    var childEnds: [Int32] = []

    init(_ command: ProcessCommand, capture: Bool) throws(CloudError) {
        func fail(_ reason: String) -> CloudError {
            for fd in childEnds + [stdoutRead, stderrRead, stdinWrite] where fd >= 0 { close(fd) }
            return CloudError.cloud("cannot run '\(command.executable)': \(reason)")
        }
        func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
        func pipe() throws(CloudError) -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard skiff_pipe_cloexec(&fds) == 0 else { throw fail("no pipes: \(errnoText())") }
            return (fds[0], fds[1])
        }
        func target(_ stream: ProcessStream, isStdout: Bool, stdoutFD: Int32) throws(CloudError) -> Int32 {
            switch stream {
            case .capture:
                guard capture else { throw fail("a started process cannot have its output captured") }
                let ends = try pipe()
                if isStdout { stdoutRead = ends.read } else { stderrRead = ends.read }
                childEnds.append(ends.write)
                return ends.write
            case .discard:
                return -1
            case .inherit:
                return isStdout ? 1 : 2
            case .standardOutput:
                return isStdout ? 1 : stdoutFD
            case .file(let path, let append, let mode):
                let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
                let fd = open(path, flags, mode_t(mode))
                guard fd >= 0 else { throw fail("cannot open '\(path)': \(errnoText())") }
                childEnds.append(fd)
                return fd
            }
        }
        var stdinFD: Int32 = -1
        if command.input != nil {
            let ends = try pipe()
            stdinFD = ends.read
            stdinWrite = ends.write
            childEnds.append(ends.read)
        }
        let stdoutFD = try target(command.stdout, isStdout: true, stdoutFD: -1)
        let stderrFD = try target(command.stderr, isStdout: false, stdoutFD: stdoutFD)
        var spawnedPID: pid_t = 0
        var status: Int32 = 0
        // ETXTBSY: a program written a moment ago may still be open for writing in a child another thread is
        // starting (between its fork and its exec); that passes in microseconds, so try again a few times.
        for attempt in 0..<20 {
            if attempt > 0 { usleep(5_000) }
            status = spawn(command, stdin: stdinFD, stdout: stdoutFD, stderr: stderrFD, pid: &spawnedPID)
            if status != ETXTBSY { break }
        }
        guard status == 0 else { throw fail(errnoText(status)) }
        pid = spawnedPID
    }

    private func spawn(
        _ command: ProcessCommand, stdin stdinFD: Int32, stdout stdoutFD: Int32, stderr stderrFD: Int32,
        pid spawnedPID: inout pid_t
    ) -> Int32 {
        let environment = (command.environment ?? ProcessInfo.processInfo.environment)
            .map { "\($0.key)=\($0.value)" }
        return withCStrings([command.executable] + command.arguments) { argv in
            withCStrings(environment) { envp in
                withOptionalCString(command.directory) { directory in
                    command.executable.withCString { path in
                        var options = skiff_spawn_options(
                            path: path, argv: argv, envp: envp, directory: directory, stdin_fd: stdinFD,
                            stdout_fd: stdoutFD, stderr_fd: stderrFD, new_session: command.newSession ? 1 : 0,
                            new_process_group: command.newProcessGroup ? 1 : 0)
                        return skiff_spawn(&options, &spawnedPID)
                    }
                }
            }
        }
    }

    /// Closes the descriptors the child now holds.
    mutating func closeParentEnds() {
        for fd in childEnds { close(fd) }
        childEnds = []
    }

    /// Feeds stdin, reads the pipes, enforces the timeout and reaps the child.
    mutating func supervise(_ command: ProcessCommand, cancel: CancelSignal?) -> ProcessOutput {
        let clock = ContinuousClock()
        let started = clock.now
        var outputs: [Int32: Data] = [:]
        var open: Set<Int32> = []
        for fd in [stdoutRead, stderrRead] where fd >= 0 {
            outputs[fd] = Data()
            open.insert(fd)
            _ = skiff_set_nonblocking(fd)
        }
        var pending = command.input ?? Data()
        if stdinWrite >= 0 {
            _ = skiff_set_nonblocking(stdinWrite)
            if pending.isEmpty {
                close(stdinWrite)
                stdinWrite = -1
            }
        }
        let pidfd = skiff_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        var exitStatus: Int32?
        var timedOut = false
        var termSentAt: ContinuousClock.Instant?
        var killed = false
        var exitedAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65536)

        func signalChild(_ signal: Int32) {
            _ = kill(command.newSession ? -pid : pid, signal)
        }
        func reap() {
            guard exitStatus == nil else { return }
            var status: Int32 = 0
            var result = waitpid(pid, &status, WNOHANG)
            while result < 0 && errno == EINTR { result = waitpid(pid, &status, WNOHANG) }
            if result == pid {
                exitStatus = skiff_exit_status(status)
                exitedAt = clock.now
                if command.newSession && timedOut { _ = kill(-pid, SIGKILL) }
            } else if result < 0 {
                exitStatus = -1
                exitedAt = clock.now
            }
        }
        func milliseconds(_ duration: Duration) -> Int32 {
            let (seconds, attoseconds) = duration.components
            let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            return Int32(clamping: max(0, total) + (attoseconds % 1_000_000_000_000_000 > 0 ? 1 : 0))
        }

        while true {
            reap()
            if let exitedAt {
                // The child is gone: read what is left, but a grandchild may hold the pipes, so not for long.
                if open.isEmpty || clock.now - exitedAt >= command.drainGrace { break }
            }
            let now = clock.now
            if exitStatus == nil {
                let cancelled = cancel?.isFired == true
                let expired = command.timeout.map { now - started >= $0 } ?? false
                if termSentAt == nil, cancelled || expired {
                    timedOut = true
                    termSentAt = now
                    signalChild(SIGTERM)
                } else if let termSentAt, !killed, now - termSentAt >= command.killGrace {
                    killed = true
                    signalChild(SIGKILL)
                }
            }
            // How long poll may sleep: until the next deadline, or in short slices without a pidfd.
            var wait: Int32 = -1
            if let exitedAt {
                wait = milliseconds(command.drainGrace - (now - exitedAt))
            } else {
                if pidfd < 0 { wait = 20 }
                if let termSentAt, !killed {
                    let left = milliseconds(command.killGrace - (now - termSentAt))
                    wait = wait < 0 ? left : min(wait, left)
                } else if let timeout = command.timeout, termSentAt == nil {
                    let left = milliseconds(timeout - (now - started))
                    wait = wait < 0 ? left : min(wait, left)
                }
            }
            var fds = open.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdinWrite >= 0 { fds.append(pollfd(fd: stdinWrite, events: Int16(POLLOUT), revents: 0)) }
            if exitStatus == nil && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            if exitStatus == nil, termSentAt == nil, let cancel, cancel.descriptor >= 0 {
                fds.append(pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdinWrite {
                    let written = pending.withUnsafeBytes { Glibc.write(stdinWrite, $0.baseAddress, $0.count) }
                    if written > 0 { pending.removeFirst(written) }
                    if (written < 0 && errno != EAGAIN && errno != EINTR) || pending.isEmpty {
                        close(stdinWrite)
                        stdinWrite = -1
                    }
                } else if open.contains(entry.fd) {
                    while true {
                        let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                        if count > 0 {
                            outputs[entry.fd, default: Data()].append(contentsOf: buffer[0..<count])
                            continue
                        }
                        if count == 0 || (errno != EINTR && errno != EAGAIN) {
                            close(entry.fd)
                            open.remove(entry.fd)
                        }
                        break
                    }
                }
            }
        }
        for fd in open { close(fd) }
        if stdinWrite >= 0 {
            close(stdinWrite)
            stdinWrite = -1
        }
        if exitStatus == nil {
            // poll failed: wait for the child the plain way rather than leave a zombie.
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = skiff_exit_status(status)
        }
        return ProcessOutput(
            status: exitStatus ?? -1, stdout: stdoutRead >= 0 ? outputs[stdoutRead] ?? Data() : Data(),
            stderr: stderrRead >= 0 ? outputs[stderrRead] ?? Data() : Data(), timedOut: timedOut)
    }
}

private func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
