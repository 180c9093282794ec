import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished child process left behind.
public struct ProcessOutput: Sendable, Hashable {
    /// The exit status (or 128 + signal number when it was killed by a signal).
    public var status: Int32
    /// Everything it wrote to stdout.
    public var stdout: Data
    /// Everything it wrote to stderr.
    public var stderr: Data

    /// stdout as UTF-8 text.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr as UTF-8 text, trimmed.
    public var stderrText: String {
        String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs child processes without blocking Swift's cooperative threads.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`, feeding `input` on stdin, and collects stdout and stderr.
    ///
    /// `environment` nil inherits this process's environment. Throws only when the process cannot be started.
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        directory: String? = nil
    ) async throws(CloudError) -> ProcessOutput {
        let result: Result<ProcessOutput, CloudError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    returning: runBlocking(
                        executable, arguments, input: input, environment: environment, directory: directory))
            }
            thread.start()
        }
        return try result.get()
    }

    /// The blocking implementation of ``run(_:_:input:environment:directory:)``.
    ///
    /// Uses `posix_spawn` with every descriptor above stderr closed in the child, so daemons a child leaves behind
    /// never hold our pipes open; stdout and stderr are drained with `poll` on the calling thread.
    public static func runBlocking(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        directory: String? = nil
    ) -> Result<ProcessOutput, CloudError> {
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        var stdinPipe: [Int32] = [-1, -1]
        guard skiffPipe2(&stdoutPipe, O_CLOEXEC) == 0, skiffPipe2(&stderrPipe, O_CLOEXEC) == 0,
            input == nil || skiffPipe2(&stdinPipe, O_CLOEXEC) == 0
        else {
            for fd in stdoutPipe + stderrPipe + stdinPipe where fd >= 0 { close(fd) }
            return .failure(
                CloudError.cloud("cannot run '\(executable)': no pipes: \(String(cString: strerror(errno)))"))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        if let directory { _ = skiffAddChdir(&actions, directory) }
        _ = skiffAddCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environmentList = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings([executable] + arguments) { argv in
            withCStrings(environmentList) { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if input != nil { close(stdinPipe[0]) }
        guard status == 0 else {
            close(stdoutPipe[0])
            close(stderrPipe[0])
            if input != nil { close(stdinPipe[1]) }
            return .failure(CloudError.cloud("cannot run '\(executable)': \(String(cString: strerror(status)))"))
        }
        let (stdout, stderr) = drain(
            stdout: stdoutPipe[0], stderr: stderrPipe[0], stdin: input.map { (stdinPipe[1], $0) })
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        let exitStatus: Int32 =
            (waitStatus & 0x7f) == 0 ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
        return .success(ProcessOutput(status: exitStatus, stdout: stdout, stderr: stderr))
    }

    /// Starts `executable` in a new session with stdin, stdout and stderr on /dev/null, and does not wait for it:
    /// for work nobody waits on (removing a discarded directory tree). Returns false if it could not be started.
    @discardableResult
    public static func spawnDetached(_ executable: String, _ arguments: [String]) -> Bool {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        _ = skiffAddCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // POSIX_SPAWN_SETSID (glibc 2.26+): the child leads its own session, detached from ours.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK) | 0x80)
        var pid: pid_t = 0
        let status = withCStrings([executable] + arguments) { argv in
            withCStrings(ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }) { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        return status == 0
    }

    /// Reads both pipes to their end while feeding `stdin`, with `poll`, then closes them.
    private static func drain(stdout: Int32, stderr: Int32, stdin: (Int32, Data)?) -> (Data, Data) {
        var outputs: [Int32: Data] = [stdout: Data(), stderr: Data()]
        var open: Set<Int32> = [stdout, stderr]
        var pending = stdin?.1 ?? Data()
        var writer = stdin?.0 ?? -1
        if writer >= 0 {
            _ = fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) | O_NONBLOCK)
            if pending.isEmpty {
                close(writer)
                writer = -1
            }
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || writer >= 0 {
            var fds = open.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writer >= 0 { fds.append(pollfd(fd: writer, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == writer {
                    let written = pending.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
                    if written > 0 { pending.removeFirst(written) }
                    if written < 0 && errno != EAGAIN && errno != EINTR || pending.isEmpty {
                        close(writer)
                        writer = -1
                    }
                } else {
                    let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        outputs[entry.fd, default: Data()].append(contentsOf: buffer[0..<count])
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        close(entry.fd)
                        open.remove(entry.fd)
                    }
                }
            }
        }
        return (outputs[stdout] ?? Data(), outputs[stderr] ?? Data())
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
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
}

// glibc functions Swift's Glibc module leaves out (they need _GNU_SOURCE); glibc 2.34 and later have them all.
@_silgen_name("pipe2")
private func skiffPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func skiffAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>)
    -> Int32

@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func skiffAddCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
