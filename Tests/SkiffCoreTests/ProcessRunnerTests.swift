import Foundation
import SkiffCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Process runner")
struct ProcessRunnerTests {
    @Test("stdout, stderr, stdin and the exit status come back")
    func captures() async throws {
        let input = Data((0..<200_000).map { UInt8($0 % 251) })
        let output = try await ProcessRunner.run("/bin/cat", [], input: input)
        #expect(output.status == 0)
        #expect(output.stdout == input)
        let failing = try await ProcessRunner.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(failing.status == 3)
        #expect(failing.stdoutText == "out\n")
        #expect(failing.stderrText == "err")
        #expect(!failing.timedOut)
    }

    @Test("a program that cannot be started is an error naming it")
    func missingProgram() async {
        await #expect {
            try await ProcessRunner.run("/nonexistent/skiff-no-such-program", [])
        } throws: { "\($0)".contains("/nonexistent/skiff-no-such-program") }
    }

    @Test("descriptors above stderr are closed in the child, even without FD_CLOEXEC")
    func closesDescriptors() async throws {
        let leaked = open("/dev/null", O_RDONLY)
        try #require(leaked > 2)
        defer { close(leaked) }
        #expect(fcntl(leaked, F_GETFD) & FD_CLOEXEC == 0)
        let output = try await ProcessRunner.run(
            "/bin/sh", ["-c", "[ -e /proc/$$/fd/\(leaked) ] && echo open || echo closed"])
        #expect(output.stdoutText == "closed\n")
        let listing = try await ProcessRunner.run("/bin/ls", ["/proc/self/fd"])
        // ls itself holds one descriptor for the directory it lists.
        let descriptors = listing.stdoutText.split(separator: "\n").compactMap { Int($0) }
        #expect(descriptors.filter { $0 > 3 } == [])
    }

    @Test("the child starts with no blocked and no ignored signals")
    func resetsSignals() async throws {
        var previous = sigaction()
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigaction(SIGUSR2, &ignore, &previous)
        defer { sigaction(SIGUSR2, &previous, nil) }
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR1)
        sigaddset(&blocked, SIGTERM)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let output = try ProcessRunner.runBlocking(ProcessCommand("/bin/cat", ["/proc/self/status"])).get()
        func mask(_ name: String) -> UInt64? {
            output.stdoutText.split(separator: "\n").first { $0.hasPrefix(name + ":\t") }
                .flatMap { UInt64($0.dropFirst(name.count + 2), radix: 16) }
        }
        #expect(mask("SigBlk") == 0)
        // glibc's posix_spawn leaves its two internal signals (32 and 33, which no program may use) ignored.
        let reserved: UInt64 = (1 << 31) | (1 << 32)
        #expect(mask("SigIgn").map { $0 & ~reserved } == 0)
        #expect(SIGUSR2 == 12 && mask("SigIgn").map { $0 & (1 << 11) } == 0)
    }

    @Test("a timeout sends SIGTERM")
    func timeout() async throws {
        let output = try await ProcessRunner.run(
            ProcessCommand("/bin/sleep", ["30"], timeout: .milliseconds(200)))
        #expect(output.timedOut)
        #expect(output.status == 128 + SIGTERM)
    }

    @Test("a child that ignores SIGTERM gets SIGKILL after the grace period, with its whole session")
    func timeoutKills() async throws {
        let output = try await ProcessRunner.run(
            ProcessCommand(
                "/bin/sh", ["-c", "trap '' TERM; echo ready; sleep 30; echo late"], timeout: .milliseconds(200),
                killGrace: .milliseconds(300), newSession: true))
        #expect(output.timedOut)
        #expect(output.status == 128 + SIGKILL)
        #expect(output.stdoutText == "ready\n")
    }

    @Test("a grandchild left in the background holding the pipes does not hold up the runner")
    func backgroundGrandchild() async throws {
        let output = try await ProcessRunner.run("/bin/sh", ["-c", "sleep 600 & echo $!"])
        #expect(output.status == 0)
        let grandchild = try #require(Int32(output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        // The runner came back while the grandchild still holds stdout and stderr.
        #expect(kill(grandchild, 0) == 0)
        kill(grandchild, SIGKILL)
    }

    @Test("cancelling the task stops the child")
    func cancellation() async throws {
        let task = Task { try await ProcessRunner.run(ProcessCommand("/bin/sleep", ["30"])) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let output = try await task.value
        #expect(output.timedOut)
        #expect(output.status == 128 + SIGTERM)
    }

    @Test("output goes to log files; environment and directory are the child's")
    func filesEnvironmentDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-runner-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/job.log"
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: log))
        let output = try await ProcessRunner.run(
            ProcessCommand(
                "/bin/sh", ["-c", "pwd; echo \"$GREETING\"; echo oops >&2"], environment: ["GREETING": "hello"],
                directory: directory, stdout: .file(log), stderr: .standardOutput))
        #expect(output.status == 0)
        #expect(output.stdout.isEmpty)
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text == "earlier\n\(resolved)\nhello\noops\n" || text == "earlier\n\(directory)\nhello\noops\n")
    }

    @Test("a started child is waited for and signalled")
    func startAndWait() async throws {
        let child = try ProcessRunner.start(ProcessCommand("/bin/sleep", ["30"], stdout: .discard, stderr: .discard))
        child.signal(SIGTERM)
        #expect(await child.wait() == 128 + SIGTERM)
        #expect(throws: CloudError.self) { try ProcessRunner.start(ProcessCommand("/bin/true")) }
    }

    @Test("a child in its own process group: running until reaped, and a timeout stops the whole group")
    func processGroupTimeout() async throws {
        let child = try ProcessRunner.start(
            ProcessCommand(
                "/bin/sh", ["-c", "trap '' TERM; sleep 30 & wait"], stdout: .discard, stderr: .discard,
                newProcessGroup: true))
        #expect(child.isRunning)
        #expect(getpgid(child.pid) == child.pid && getsid(child.pid) == getsid(0))
        let status = await child.wait(timeout: .milliseconds(200), grace: .milliseconds(200))
        #expect(status == nil)
        #expect(!child.isRunning)
        #expect(child.waitBlocking() == 128 + SIGKILL)
        // The group is gone, its background sleep too (once whoever inherited it has reaped it).
        var left = 250
        while kill(-child.pid, 0) == 0 && left > 0 {
            try await Task.sleep(for: .milliseconds(20))
            left -= 1
        }
        #expect(kill(-child.pid, 0) != 0)
    }
}

@Suite("Atomic file")
struct AtomicFileTests {
    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-atomic-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("replaces the whole file with the mode asked for, whatever the umask, and leaves no temporary file")
    func writes() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/state.json"
        let old = umask(0o077)
        defer { umask(old) }
        try AtomicFile.write("first, longer content", to: path, mode: 0o644)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o644)
        try AtomicFile.write("second", to: path, mode: 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.json"])
    }

    @Test("a failed write leaves the target as it was and names the file")
    func failure() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect {
            try AtomicFile.write("x", to: directory + "/missing/file", mode: 0o600)
        } throws: { "\($0)".contains("missing/file") }
        // A directory in the way: the rename fails, the directory stays, nothing is left beside it.
        let blocked = directory + "/taken"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        #expect(throws: CloudError.self) { try AtomicFile.write("x", to: blocked, mode: 0o600) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["taken"])
        try AtomicFile.write("made", to: directory + "/a/b/c", mode: 0o600, createDirectories: true)
        #expect(try String(contentsOfFile: directory + "/a/b/c", encoding: .utf8) == "made")
    }
}
