import Foundation
import SkiffDeploy
import SkiffTestSupport
import Testing

@testable import skiff

/// `create-env --dry-run` as the command runs it, on the in-memory cloud.
@Suite("create-env --dry-run")
struct DryRunTests {
    /// A fixture deployed once, then asked for a larger disk the in-memory cloud cannot migrate to.
    func refusingMigration() async throws -> DeployFixture {
        let fixture = try DeployFixture()
        _ = try await fixture.deployer().createEnv()
        var shape = DeployFixture.Shape()
        shape.diskSize = 2048
        try fixture.write(shape)
        return fixture
    }

    @Test func aPlanRefusingADiskMigrationIsPrintedAndTheDryRunSucceeds() async throws {
        let fixture = try await refusingMigration()
        defer { fixture.remove() }
        let files = try fixture.files()
        let printed = Printed()
        // Returning (rather than throwing ExitCode.failure) is how the command exits 0.
        try await CreateEnv.dryRun(fixture.deployer(), sink: SilentProgress(), output: printed.add)
        #expect(printed.text.contains("Disk: refuse to migrate '\(fixture.cloud.disks[0].cid)'"))
        #expect(printed.text.contains("disk_size changes from 1024 to 2048 MiB"))
        #expect(try fixture.files() == files)
    }

    @Test func theJSONPlanNamesTheRefusalAndTheDryRunSucceeds() async throws {
        let fixture = try await refusingMigration()
        defer { fixture.remove() }
        let printed = Printed()
        let sink = JSONProgress(write: printed.add)
        try await CreateEnv.dryRun(fixture.deployer(sink: sink), sink: sink, output: printed.add)
        let plan = try #require(printed.text.split(separator: "\n").last { $0.contains("\"event\":\"plan\"") })
        #expect(plan.contains("\"action\":\"refuse_migration\""))
    }

    @Test func aDeployOfTheSamePlanStillRefuses() async throws {
        let fixture = try await refusingMigration()
        defer { fixture.remove() }
        await #expect(throws: DeployError.self) { try await fixture.deployer().createEnv() }
    }
}

/// Text a test collects from several writers.
final class Printed: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []

    @Sendable func add(_ text: String) {
        lock.lock()
        parts.append(text)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return parts.joined()
    }
}
