import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A program the agent started: in a process group of its own, with stdin on /dev/null, stdout and stderr on files,
/// no descriptor of the agent's, an empty signal mask and default signal dispositions — as bosh-agent starts
/// scripts. A thread of its own reaps it, so waiting never depends on pipes reaching end-of-file: a background
/// process the program leaves behind holding its output cannot hang the agent.
final class ChildProcess: Sendable {
    /// The process id, which is also its process group id.
    let pid: pid_t
    private let outcome: Mutex<Outcome>

    private enum Outcome {
        case running([CheckedContinuation<Int32, Never>])
        case exited(Int32)
    }

    private init(pid: pid_t) {
        self.pid = pid
        self.outcome = Mutex(.running([]))
    }

    /// Starts `executable` with `arguments` and exactly `environment`, writing stdout to the file `stdout` and
    /// stderr to `stderr` (the same file when nil), both appended to and created 0640; `directory` is the working
    /// directory.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String? = nil,
        stdout: String, stderr: String? = nil
    ) throws(AgentError) -> ChildProcess {
        // Every descriptor number above stderr up to well past the highest open one, so that descriptors another
        // thread opens meanwhile (lowest numbers first) are closed too; the log files are close-on-exec anyway.
        let highest = openDescriptors().last ?? 2
        let inherited = Array(3..<max(3, highest + 256))
        let outFD = open(stdout, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard outFD >= 0 else { throw failure(executable, "cannot open '\(stdout)': \(errnoText())") }
        defer { close(outFD) }
        var errFD = outFD
        if let stderr, stderr != stdout {
            errFD = open(stderr, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard errFD >= 0 else { throw failure(executable, "cannot open '\(stderr)': \(errnoText())") }
        }
        defer { if errFD != outFD { close(errFD) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outFD, 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)
        // Closing a descriptor another thread closed meanwhile fails with EBADF, which posix_spawn ignores.
        for fd in inherited { posix_spawn_file_actions_addclose(&actions, fd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        // Every signal, glibc's internal ones included: posix_spawn would otherwise leave those ignored in the child.
        var defaults = sigset_t()
        withUnsafeMutableBytes(of: &defaults) { $0.initializeMemory(as: UInt8.self, repeating: 0xff) }
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var argv = [executable] + arguments
        var path = executable
        if let directory {
            // posix_spawn has no portable chdir: a shell changes directory, then becomes the program.
            path = "/bin/sh"
            argv = ["sh", "-c", "cd -- \"$0\" || exit 127; exec \"$@\"", directory] + argv
        }
        let environmentList = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environmentList) { envPointers in
                posix_spawn(&pid, path, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard status == 0 else { throw failure(executable, String(cString: strerror(status))) }
        let child = ChildProcess(pid: pid)
        child.startReaper()
        return child
    }

    /// Whether it has not exited yet.
    var isRunning: Bool {
        outcome.withLock {
            if case .running = $0 { return true }
            return false
        }
    }

    /// Waits until it exits; the status is its exit code, or 128 + the signal that killed it.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = outcome.withLock { state in
                switch state {
                case .exited(let status): return status
                case .running(var waiters):
                    waiters.append(continuation)
                    state = .running(waiters)
                    return nil
                }
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Waits until it exits or `timeout` passes; then the whole process group gets SIGTERM and, `grace` later,
    /// SIGKILL. Returns the exit status, or nil when the timeout fired.
    func wait(timeout: Duration, grace: Duration = .seconds(5)) async -> Int32? {
        await withTaskGroup(of: Bool.self) { group in
            // The stopper sleeps through the timeout and is cancelled as soon as the process exits.
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return false
                }
                self.signalGroup(SIGTERM)
                if (try? await Task.sleep(for: grace)) != nil { self.signalGroup(SIGKILL) }
                return true
            }
            let status = await self.wait()
            group.cancelAll()
            var fired = false
            for await stopped in group { fired = fired || stopped }
            return fired ? nil : status
        }
    }

    /// Sends `signal` to its process group (it and whatever it started and left running).
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    private func startReaper() {
        let pid = self.pid
        let thread = Thread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let waiters = outcome.withLock { state -> [CheckedContinuation<Int32, Never>] in
                defer { state = .exited(code) }
                if case .running(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter.resume(returning: code) }
        }
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// The descriptors open in this process now.
    static func openDescriptors() -> [Int32] {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"), !names.isEmpty {
            return names.compactMap { Int32($0) }.sorted()
        }
        // Without /proc, every descriptor number below the limit.
        return Array(0..<Int32(clamping: min(max(sysconf(Int32(_SC_OPEN_MAX)), 256), 65536)))
    }

    private static func failure(_ executable: String, _ reason: String) -> AgentError {
        AgentError(.commandFailed, "cannot run '\(executable)': \(reason)")
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }
}
