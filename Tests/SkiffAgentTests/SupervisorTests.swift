import Foundation
import SkiffCore
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SupervisorTests {
    @Test func processThatKeepsDyingIsFailingAndRetriedWithBackoff() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pidfile = root + "/crash.pid"
        let counter = root + "/starts"
        let supervisor = Supervisor(logDirectory: root + "/monit", timing: AgentFixture.timing)
        await supervisor.configure([
            MonitProcess(
                name: "crash", job: "j", pidfile: pidfile,
                startProgram: "/bin/sh -c 'echo $$ > \(pidfile); echo x >> \(counter); sleep 0.3; exit 1'")
        ])
        await supervisor.startAll()
        let failing = await eventually(timeout: .seconds(10)) { await supervisor.jobState() == "failing" }
        #expect(failing)
        try await Task.sleep(for: .seconds(2))
        await supervisor.stopAll()
        let starts = (try? String(contentsOfFile: counter, encoding: .utf8))?.split(separator: "\n").count ?? 0
        // Restarted more than once, but backoff (200 ms doubling to 2 s) keeps it from spinning.
        #expect(starts >= 2)
        #expect(starts <= 8)
        #expect(await supervisor.jobState() == "stopped")
    }

    @Test func stopFallsBackToSigkillByPid() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pidfile = root + "/stubborn.pid"
        let timing = SupervisorTiming(
            checkInterval: .milliseconds(100), startTimeout: .seconds(5), initialBackoff: .milliseconds(200),
            maximumBackoff: .seconds(1), stopTimeout: .milliseconds(500))
        let supervisor = Supervisor(logDirectory: root + "/monit", timing: timing)
        await supervisor.configure([
            MonitProcess(
                name: "stubborn", job: "j", pidfile: pidfile,
                startProgram: "/bin/sh -c 'trap \"\" TERM; echo $$ > \(pidfile); while true; do sleep 0.2; done'",
                stopProgram: "/bin/true")
        ])
        await supervisor.startAll()
        let running = await eventually { await supervisor.jobState() == "running" }
        let pid = ProcessProbe.readPidfile(pidfile)
        defer { if let pid, ProcessProbe.isAlive(pid) { ProcessProbe.signal(pid, SIGKILL) } }
        #expect(running)
        let stubborn = try #require(pid)
        ProcessProbe.signal(stubborn, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        #expect(ProcessProbe.isAlive(stubborn))
        await supervisor.stopAll()
        #expect(!ProcessProbe.isAlive(stubborn))
        let statuses = await supervisor.statuses()
        #expect(statuses.map(\.state) == ["stopped"])
    }

    @Test func dependenciesStartFirst() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let order = root + "/order"
        func process(_ name: String, _ deps: [String]) -> MonitProcess {
            MonitProcess(
                name: name, job: "j", pidfile: "\(root)/\(name).pid",
                startProgram: "/bin/sh -c 'echo \(name) >> \(order); echo $$ > \(root)/\(name).pid; exec sleep 30'",
                dependsOn: deps)
        }
        let supervisor = Supervisor(logDirectory: root + "/monit", timing: AgentFixture.timing)
        await supervisor.configure([process("web", ["db"]), process("db", [])])
        #expect(await supervisor.processes.map(\.name) == ["db", "web"])
        await supervisor.startAll()
        let running = await eventually { await supervisor.jobState() == "running" }
        let pids = ["db", "web"].compactMap { ProcessProbe.readPidfile("\(root)/\($0).pid") }
        await supervisor.stopAll()
        for pid in pids where ProcessProbe.isAlive(pid) { ProcessProbe.signal(pid, SIGKILL) }
        #expect(running)
        #expect(pids.count == 2)
        #expect((try? String(contentsOfFile: order, encoding: .utf8)) == "db\nweb\n")
        #expect(pids.allSatisfy { !ProcessProbe.isAlive($0) })
    }

    @Test func stopDuringStartLeavesNothingRunning() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pidfile = root + "/slow.pid"
        let supervisor = Supervisor(logDirectory: root + "/monit", timing: AgentFixture.timing)
        await supervisor.configure([
            MonitProcess(
                name: "slow", job: "j", pidfile: pidfile, startProgram: "sleep 0.4; echo $$ > \(pidfile); exec sleep 30"
            )
        ])
        await supervisor.startAll()
        await supervisor.stopAll()
        let pid = ProcessProbe.readPidfile(pidfile)
        defer { if let pid, ProcessProbe.isAlive(pid) { ProcessProbe.signal(pid, SIGKILL) } }
        let written = try #require(pid)
        #expect(!ProcessProbe.isAlive(written))
        #expect(await supervisor.jobState() == "stopped")
    }
}
