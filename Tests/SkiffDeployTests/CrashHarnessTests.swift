import Foundation
import SkiffCloud
import SkiffTestSupport
import Testing

@testable import SkiffDeploy

/// create-env and delete-env stopped at every state write and after every cloud call (in process, on the in-memory
/// cloud): one re-run must converge, and delete-env must leave nothing.
@Suite("Killed at any point, a re-run converges")
struct CrashHarnessTests {
    /// Runs `body`, which must stop at the kill point.
    func expectKilled(_ point: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("the run was not stopped at \(point)")
        } catch {
            #expect("\(error)".contains("killed at \(point)"), "stopped by something else: \(error)")
        }
    }

    func points(_ run: (KillSwitch) async throws -> Void) async throws -> [String] {
        let recorder = KillRecorder()
        try await run(recorder.killSwitch)
        return recorder.reached
    }

    func expectConverged(_ fixture: DeployFixture, stemcellVersion: String = "1.0") async throws {
        #expect(try await fixture.deployer().plan().isUnchanged)
        #expect(fixture.cloud.stemcells.count == 1, "stemcells: \(fixture.cloud.census)")
        #expect(fixture.cloud.vms.count == 1, "VMs: \(fixture.cloud.census)")
        #expect(fixture.cloud.disks.count == 1, "disks: \(fixture.cloud.census)")
        #expect(fixture.cloud.disks.first?.vm == fixture.cloud.vms.first?.cid)
    }

    func expectDeleted(_ fixture: DeployFixture) async throws {
        try await fixture.deleter().deleteEnv()
        #expect(fixture.cloud.census.isEmpty, "left: \(fixture.cloud.census)")
        #expect(!FileManager.default.fileExists(atPath: fixture.stateFile.path))
    }

    @Test func createEnvKilledAtEveryPoint() async throws {
        let probe = try DeployFixture()
        defer { probe.remove() }
        let points = try await points { _ = try await probe.deployer(kill: $0).createEnv() }
        #expect(points.filter { $0.hasPrefix("state:") }.count >= 8)
        #expect(points.contains("cloud:create_stemcell:1") && points.contains("cloud:create_vm:1"))
        #expect(points.contains("cloud:create_disk:1") && points.contains("cloud:attach_disk:1"))
        for point in points {
            let fixture = try DeployFixture()
            defer { fixture.remove() }
            let recorder = KillRecorder(killAt: point)
            await expectKilled(point) { _ = try await fixture.deployer(kill: recorder.killSwitch).createEnv() }
            let rerun = try await fixture.deployer().createEnv()
            #expect(!rerun.skipped || point.hasPrefix("state:deployed"))
            try await expectConverged(fixture)
            try await expectDeleted(fixture)
        }
    }

    @Test func anUpdateKilledAtEveryPoint() async throws {
        func updated(_ fixture: DeployFixture) throws {
            var shape = DeployFixture.Shape()
            shape.greeting = "updated"
            try fixture.write(shape)
            try fixture.setStemcellVersion("2.0")
        }
        let probe = try DeployFixture()
        defer { probe.remove() }
        _ = try await probe.deployer().createEnv()
        try updated(probe)
        let points = try await points { _ = try await probe.deployer(kill: $0).createEnv() }
        #expect(points.contains("cloud:delete_vm:1") && points.contains("cloud:delete_stemcell:1"))
        for point in points {
            let fixture = try DeployFixture()
            defer { fixture.remove() }
            _ = try await fixture.deployer().createEnv()
            try updated(fixture)
            let recorder = KillRecorder(killAt: point)
            await expectKilled(point) { _ = try await fixture.deployer(kill: recorder.killSwitch).createEnv() }
            _ = try await fixture.deployer().createEnv()
            try await expectConverged(fixture)
            try await expectDeleted(fixture)
        }
    }

    @Test func deleteEnvKilledAtEveryPoint() async throws {
        let probe = try DeployFixture()
        defer { probe.remove() }
        _ = try await probe.deployer().createEnv()
        let points = try await points { try await probe.deleter(kill: $0).deleteEnv() }
        #expect(points.contains("cloud:delete_vm:1") && points.contains("cloud:delete_disk:1"))
        #expect(points.contains("cloud:delete_stemcell:1"))
        for point in points {
            let fixture = try DeployFixture()
            defer { fixture.remove() }
            _ = try await fixture.deployer().createEnv()
            let recorder = KillRecorder(killAt: point)
            await expectKilled(point) { try await fixture.deleter(kill: recorder.killSwitch).deleteEnv() }
            try await expectDeleted(fixture)
        }
    }

    @Test func deleteEnvAfterACreateKilledAtEveryPointLeavesNothing() async throws {
        let probe = try DeployFixture()
        defer { probe.remove() }
        let points = try await points { _ = try await probe.deployer(kill: $0).createEnv() }
        for point in points {
            let fixture = try DeployFixture()
            defer { fixture.remove() }
            let recorder = KillRecorder(killAt: point)
            await expectKilled(point) { _ = try await fixture.deployer(kill: recorder.killSwitch).createEnv() }
            try await expectDeleted(fixture)
        }
    }
}
