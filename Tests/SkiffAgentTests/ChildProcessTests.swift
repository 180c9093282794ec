import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffNet
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

/// What bosh-agent guarantees the programs it starts, checked on real scripts and monit start programs.
@Suite(.serialized) struct ChildProcessTests {
    /// A script that records the descriptors and signal state it was started with, then exits 0.
    static func probe(into file: String) -> String {
        """
        #!/bin/sh
        # The shell's own descriptors: the script file may sit on a high one, close-on-exec; list those of a fresh
        # program instead (ls itself opens one more, for /proc/self/fd).
        ls /proc/self/fd > \(file).fd
        grep -E '^Sig(Blk|Ign):' /proc/self/status > \(file).sig
        echo done > \(file).done
        """
    }

    /// Descriptors the probe's `ls` saw, minus its own directory descriptor (the highest).
    static func descriptors(_ file: String) throws -> [Int] {
        let listed = try String(contentsOfFile: file + ".fd", encoding: .utf8).split(separator: "\n").compactMap {
            Int($0)
        }.sorted()
        return Array(listed.dropLast())
    }

    static func signalState(_ file: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in try String(contentsOfFile: file + ".sig", encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 {
                result[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return result
    }

    /// Runs `body` while this process holds a descriptor without close-on-exec and ignores SIGINT (as `skiff agent`
    /// ignores SIGINT and SIGTERM): what a child must not inherit.
    static func withAgentState<T>(_ body: () async throws -> T) async rethrows -> T {
        let leaky = open("/dev/null", O_RDONLY)
        let previous = signal(SIGINT, SIG_IGN)
        defer {
            signal(SIGINT, previous)
            close(leaky)
        }
        #expect(leaky > 2)
        return try await body()
    }

    @Test func scriptsGetOnlyStandardDescriptorsAndACleanSignalState() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, _ in
            let out = fixture.root + "/probe"
            try await fixture.applyJob("probe", ["bin/pre-start": (Self.probe(into: out), true)])
            try await Self.withAgentState {
                try await fixture.client.runScript("pre-start")
            }
            #expect(try Self.descriptors(out) == [0, 1, 2])
            let signals = try Self.signalState(out)
            #expect(signals["SigBlk"] == "0000000000000000")
            #expect(signals["SigIgn"] == "0000000000000000")
            // Output went where bosh-agent puts it.
            #expect(FileManager.default.fileExists(atPath: fixture.root + "/sys/log/probe/pre-start.stdout.log"))
            #expect(FileManager.default.fileExists(atPath: fixture.root + "/sys/log/probe/pre-start.stderr.log"))
        }
    }

    @Test func monitStartProgramsGetOnlyStandardDescriptorsAndACleanSignalState() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = root + "/start.sh"
        let out = root + "/probe"
        try (Self.probe(into: out) + "\necho $$ > \(root)/p.pid\nexec sleep 30\n").write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let supervisor = Supervisor(logDirectory: root + "/monit", timing: AgentFixture.timing)
        await supervisor.configure([
            MonitProcess(name: "p", job: "j", pidfile: root + "/p.pid", startProgram: script)
        ])
        await Self.withAgentState { await supervisor.startAll() }
        let done = await eventually { FileManager.default.fileExists(atPath: out + ".done") }
        await supervisor.stopAll()
        #expect(done)
        #expect(try Self.descriptors(out) == [0, 1, 2])
        let signals = try Self.signalState(out)
        #expect(signals["SigBlk"] == "0000000000000000")
        #expect(signals["SigIgn"] == "0000000000000000")
    }

    @Test func preStartLeavingABackgroundProcessReturnsPromptly() async throws {
        try await AgentFixture.with(host: loopbacks[1]) { fixture, pids in
            let pidfile = fixture.root + "/sleeper.pid"
            // The background sleep keeps the script's stdout and stderr open for ten minutes.
            let script = "#!/bin/sh\nsleep 600 &\necho $! > \(pidfile)\necho started\necho warned >&2\nexit 0\n"
            try await fixture.applyJob("bg", ["bin/pre-start": (script, true)])
            let clock = ContinuousClock()
            let start = clock.now
            try await fixture.client.runScript("pre-start")
            let elapsed = clock.now - start
            let sleeper = try #require(ProcessProbe.readPidfile(pidfile))
            pids.record(sleeper)
            #expect(elapsed < .seconds(5))
            #expect(ProcessProbe.isAlive(sleeper))
            let stdout = try String(contentsOfFile: fixture.root + "/sys/log/bg/pre-start.stdout.log", encoding: .utf8)
            let stderr = try String(contentsOfFile: fixture.root + "/sys/log/bg/pre-start.stderr.log", encoding: .utf8)
            #expect(stdout == "started\n")
            #expect(stderr == "warned\n")
        }
    }

    @Test func preStartTimeoutStopsTheScriptAndNamesItsLogs() async throws {
        let timeouts = ScriptTimeouts(preStart: .seconds(1))
        try await AgentFixture.with(host: loopbacks[0], scriptTimeouts: timeouts) { fixture, pids in
            let pidfile = fixture.root + "/child.pid"
            let script = "#!/bin/sh\necho working\nsleep 300 &\necho $! > \(pidfile)\nwait\n"
            try await fixture.applyJob("slow", ["bin/pre-start": (script, true)])
            let clock = ContinuousClock()
            let start = clock.now
            await #expect {
                try await fixture.client.runScript("pre-start")
            } throws: { error in
                guard let error = error as? AgentClientError else { return false }
                let logs = fixture.root + "/sys/log/slow/pre-start"
                return error.code == .taskFailed && error.message.contains("Failed Jobs: slow")
                    && error.message.contains("did not finish within 1 s")
                    && error.message.contains(logs + ".stderr.log") && error.message.contains(logs + ".stdout.log")
            }
            #expect(clock.now - start < .seconds(8))
            // The whole process group was stopped, the script's own children too.
            let child = try #require(ProcessProbe.readPidfile(pidfile))
            pids.record(child)
            #expect(await eventually(timeout: .seconds(3)) { !ProcessProbe.isAlive(child) })
        }
    }

    @Test func drainTimeoutFailsTheDrain() async throws {
        let timeouts = ScriptTimeouts(drain: .milliseconds(500))
        try await AgentFixture.with(host: loopbacks[1], scriptTimeouts: timeouts) { fixture, _ in
            try await fixture.applyJob("stuck", ["bin/drain": ("#!/bin/sh\nexec sleep 300\n", true)])
            let clock = ContinuousClock()
            let start = clock.now
            await #expect {
                try await fixture.client.drain()
            } throws: { error in
                guard let error = error as? AgentClientError else { return false }
                return error.message.contains("drain script of job 'stuck' did not finish within 0.5 s")
                    && error.message.contains(fixture.root + "/sys/log/stuck/drain.stderr.log")
            }
            #expect(clock.now - start < .seconds(8))
        }
    }

    @Test func runnerWaitsForExitNotForOutputToClose() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await CommandRunner.run(
            "/bin/sh", ["-c", "sleep 600 & echo $! > \(root)/pid; echo hi"], logPath: root + "/log")
        if let pid = ProcessProbe.readPidfile(root + "/pid") { ProcessProbe.signal(pid, SIGKILL) }
        #expect(clock.now - start < .seconds(5))
        #expect(result.status == 0)
        #expect(result.output == "hi\n")
    }

    @Test func runnerTimeoutKillsAProgramThatIgnoresSIGTERM() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let child = try CommandRunner.start(
            "/bin/sh", ["-c", "trap '' TERM; while true; do sleep 0.1; done"], environment: ["PATH": "/usr/bin:/bin"],
            stdout: "/dev/null")
        let status = await child.wait(timeout: .milliseconds(300), grace: .milliseconds(300))
        #expect(status == nil)
        #expect(!child.isRunning)
        #expect(clock.now - start < .seconds(5))
    }
}
