import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffDeploy
import SkiffTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// create-env and delete-env on the in-memory cloud with skiff's real agent in the test process: HTTPS mbus with
/// basic auth, packages compiled and jobs run by the agent under a temporary root, no root privileges.
@Suite("Deploys against the real agent, in process")
struct InProcessAgentDeployTests {
    /// Runs `body` on a fresh fixture with an in-process agent and always tears it down.
    func withFixture(
        _ shape: DeployFixture.Shape = .init(), _ body: (DeployFixture, InProcessAgent) async throws -> Void
    ) async throws {
        let fixture = try await DeployFixture.withInProcessAgent(shape: shape)
        do {
            let agent = try #require(fixture.inProcessAgent)
            try await body(fixture, agent)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    /// The agent's `get_state`, asked over a client of its own.
    func state(_ agent: InProcessAgent) async throws -> AgentState {
        let client = try agent.connect()
        do {
            let state = try await client.getState(full: false)
            await client.shutdown()
            return state
        } catch {
            await client.shutdown()
            throw error
        }
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func pid(_ agent: InProcessAgent) -> Int32? {
        read(agent.path("sys", "run", "ticker", "ticker.pid")).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Whether `pid` is a live process (a zombie, not yet reaped by whoever adopted it, is not).
    func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else {
            return false
        }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Polls `condition` every 20 ms for up to `timeout`.
    func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    func count(_ method: String, _ agent: InProcessAgent) -> Int { agent.methods.filter { $0 == method }.count }

    @Test func createRerunUpdateAndDeleteRunTheRealAgent() async throws {
        try await withFixture { fixture, agent in
            // First create-env: the agent compiles the package, lays out the job, runs pre-start and the process.
            let first = try await fixture.deployer().createEnv()
            #expect(!first.skipped)
            let running = try await state(agent)
            #expect(running.jobState == "running")
            #expect(running.processes.map(\.name) == [KitRelease.process])
            #expect(running.processes.allSatisfy { $0.state == "running" })
            #expect(running.agentID == agent.agentID)
            let compiled = read(agent.path("packages", KitRelease.package, "compiled")) ?? ""
            #expect(compiled.hasPrefix("\(KitRelease.package)/"), "compiled: '\(compiled)'")
            #expect(read(agent.path("packages", KitRelease.package, "message.txt")) == "compiled by the agent\n")
            #expect(read(agent.path("jobs", KitRelease.job, "config", "greeting.txt")) == "hello\n")
            // Scripts get the agent root's bosh/bin first in their PATH, not /var/vcap's.
            let scriptPath = read(agent.path("data", "ticker", "pre-start.path")) ?? ""
            #expect(scriptPath.hasPrefix(agent.path("bosh", "bin") + ":"), "PATH: \(scriptPath)")
            let firstPid = try #require(pid(agent))
            #expect(isAlive(firstPid))
            for method in [
                "compile_package", "apply", "stop", "run_script", "start", "get_state",
                "add_persistent_disk", "mount_disk",
            ] {
                #expect(agent.methods.contains(method), "the agent was not asked for \(method): \(agent.methods)")
            }
            #expect(fixture.cloud.vms.count == 1 && fixture.cloud.disks.count == 1)

            // The same manifest again: skipped, and the agent is not asked to apply anything.
            let applies = count("apply", agent)
            let rerun = try await fixture.deployer().createEnv()
            #expect(rerun.skipped)
            #expect(count("apply", agent) == applies)
            #expect(count("compile_package", agent) == 1)

            // A property change: as bosh create-env does, the instance is drained and stopped, its VM replaced and
            // the disk moved over; the job is re-rendered, re-applied and runs again.
            var shape = DeployFixture.Shape()
            shape.greeting = "bonjour"
            try fixture.write(shape)
            let vm = fixture.cloud.vms.first?.cid
            let disk = fixture.cloud.disks.first?.cid
            let update = try await fixture.deployer().createEnv()
            #expect(!update.skipped)
            #expect(count("apply", agent) > applies)
            #expect(count("drain", agent) == 1)
            #expect(fixture.cloud.vms.count == 1 && fixture.cloud.vms.first?.cid != vm)
            #expect(fixture.cloud.disks.map(\.cid) == [disk].compactMap { $0 })
            #expect(read(agent.path("jobs", KitRelease.job, "config", "greeting.txt")) == "bonjour\n")
            #expect(try await state(agent).jobState == "running")
            let secondPid = try #require(pid(agent))
            #expect(isAlive(secondPid))
            #expect(await eventually { !isAlive(firstPid) }, "the process of the first deploy still runs")

            // delete-env: drained, stopped, disk unmounted by the agent; nothing left in the cloud.
            try await fixture.deleter().deleteEnv()
            #expect(fixture.cloud.census.isEmpty, "left: \(fixture.cloud.census)")
            #expect(!FileManager.default.fileExists(atPath: fixture.stateFile.path))
            let drained = read(agent.path("data", "ticker", "drain.log")) ?? ""
            #expect(
                drained == "job_shutdown hash_unchanged\njob_shutdown hash_unchanged\n", "drain.log: '\(drained)'")
            for method in ["drain", "stop", "list_disk", "unmount_disk"] {
                #expect(agent.methods.contains(method), "the agent was not asked for \(method): \(agent.methods)")
            }
            #expect(try await state(agent).jobState == "stopped")
            #expect(await eventually { !isAlive(secondPid) }, "the job's process outlived delete-env")
        }
    }

    /// Kill points where the real agent's state matters: a first deploy with the VM up but its disk not attached; an
    /// update stopped once the agent had drained and stopped the old job, or with the new VM up and the job stopped.
    @Test(arguments: ["cloud:attach_disk:1", "update cloud:delete_vm:1", "update cloud:attach_disk:1"])
    func aDeployKilledThenRunAgainConvergesOnTheRealAgent(_ point: String) async throws {
        try await withFixture { fixture, agent in
            let isUpdate = point.hasPrefix("update ")
            let target = isUpdate ? String(point.dropFirst("update ".count)) : point
            var shape = DeployFixture.Shape()
            if isUpdate {
                _ = try await fixture.deployer().createEnv()
                shape.greeting = "bonjour"
                try fixture.write(shape)
            }
            let recorder = KillRecorder(killAt: target)
            do {
                _ = try await fixture.deployer(kill: recorder.killSwitch).createEnv()
                Issue.record("the run was not stopped at \(target)")
            } catch {
                #expect("\(error)".contains("killed at \(target)"), "stopped by something else: \(error)")
            }

            let rerun = try await fixture.deployer().createEnv()
            #expect(!rerun.skipped)
            #expect(try await state(agent).jobState == "running")
            #expect(read(agent.path("jobs", KitRelease.job, "config", "greeting.txt")) == "\(shape.greeting)\n")
            #expect(try await fixture.deployer().plan().isUnchanged)
            #expect(fixture.cloud.vms.count == 1 && fixture.cloud.disks.count == 1, "\(fixture.cloud.census)")
            let running = try #require(pid(agent))

            try await fixture.deleter().deleteEnv()
            #expect(fixture.cloud.census.isEmpty, "left: \(fixture.cloud.census)")
            #expect(await eventually { !isAlive(running) }, "the job's process outlived delete-env")
        }
    }

    @Test func theAgentChecksCredentialsAndItsCertificateIsVerified() async throws {
        try await InProcessAgent.with { agent in
            let url = agent.mbus
            let wrong = try AgentClient(
                configuration: .init(
                    mbus: MbusURL(user: "mbus", password: "not-it", host: url.host, port: url.port),
                    caPEM: agent.caPEM, connectTimeout: .seconds(5), requestTimeout: .seconds(5)))
            let refused = await #expect(throws: AgentClientError.self) { _ = try await wrong.getState(full: false) }
            #expect(refused?.code == .unauthorized)
            await wrong.shutdown()

            let other = try await InProcessAgent.start()
            let untrusting = try AgentClient(
                configuration: .init(
                    mbus: url, caPEM: other.caPEM, connectTimeout: .seconds(5), requestTimeout: .seconds(5)))
            let untrusted = await #expect(throws: AgentClientError.self) {
                _ = try await untrusting.getState(full: false)
            }
            #expect(untrusted?.code == .tls)
            await untrusting.shutdown()
            await other.stop()

            #expect(try await state(agent).agentID == agent.agentID)
        }
    }

    @Test func aManifestNamingAnotherAgentIsRefusedAtOnce() async throws {
        try await withFixture { fixture, agent in
            let text = try String(contentsOf: fixture.manifest, encoding: .utf8)
            let moved = text.replacingOccurrences(of: ":\(agent.port)\n", with: ":\(agent.port == 1 ? 2 : 1)\n")
            #expect(moved != text)
            try moved.write(to: fixture.manifest, atomically: true, encoding: .utf8)
            let error = await #expect(throws: (any Error).self) { _ = try await fixture.deployer().createEnv() }
            #expect(
                "\(error.map { "\($0)" } ?? "")".contains("is not the in-process agent's"),
                "\(String(describing: error))")
            #expect(fixture.cloud.census.isEmpty)
        }
    }
}
