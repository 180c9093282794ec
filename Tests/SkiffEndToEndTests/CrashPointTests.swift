import Foundation
import SkiffLocalCloud
import SkiffTestSupport
import Testing

/// The real local cloud, as root: create-env and delete-env killed (SIGKILL, `SKIFF_TEST_KILL_AT`) at every state
/// write and after every cloud call they reach, each followed by one re-run that must converge, and a census of the
/// host that must be empty after delete-env.
@Suite("Killed at every point on the local cloud", .serialized, .enabled(if: Environment.canRunLocalCloud))
struct CrashPointTests {
    /// The points a run reaches, from its trace.
    func points(_ env: Environment, _ arguments: [String]) throws -> [String] {
        let trace = env.directory.appendingPathComponent("trace-\(UUID().uuidString.prefix(6))")
        let run = try env.skiff(arguments, extraEnvironment: ["SKIFF_TEST_KILL_TRACE": trace.path])
        try #require(run.status == 0, "\(arguments[0]) failed: \(run.stderr)")
        let text = try String(contentsOf: trace, encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    /// What this environment still has on the host: records, routes, bridge, namespaces, veths, dnsmasq.
    func census(_ env: Environment) throws -> [String] {
        var found = try env.leftovers()
        let cloud = LocalCloud(config: LocalCloudConfig(stateDirectory: env.cloudState.path))
        let links = try Environment.run("/usr/sbin/ip", ["-o", "link", "show"]).stdout
        let bridge = cloud.bridgeName(network: "default")
        if links.contains(bridge) { found.append("bridge \(bridge)") }
        if links.contains("skiffv\(cloud.nameTag)") { found.append("veth skiffv\(cloud.nameTag)…") }
        let namespaces = try Environment.run("/usr/sbin/ip", ["netns", "list"]).stdout
        if namespaces.contains("skiff-vm-\(cloud.nameTag)") { found.append("namespace skiff-vm-\(cloud.nameTag)…") }
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
            let commandLine = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            if String(decoding: commandLine, as: UTF8.self).contains(env.cloudState.path + "/networks") {
                found.append("process \(pid)")
            }
        }
        return found
    }

    func killed(_ env: Environment, _ arguments: [String], at point: String) throws {
        let run = try env.skiff(arguments, extraEnvironment: ["SKIFF_TEST_KILL_AT": point])
        #expect(run.status != 0, "\(arguments[0]) was not killed at \(point)")
    }

    @Test func createEnvKilledAtEveryPointConvergesAndDeleteEnvLeavesNothing() throws {
        let probe = try Environment(slot: 61)
        let points = try self.points(probe, ["create-env", probe.manifest.path])
        probe.tearDown()
        #expect(points.contains("cloud:create_vm:1") && points.contains("cloud:create_stemcell:1"))
        for point in points {
            let env = try Environment(slot: 61)
            defer { env.tearDown() }
            try killed(env, ["create-env", env.manifest.path], at: point)
            let rerun = try env.skiff(["create-env", env.manifest.path])
            #expect(rerun.status == 0, "re-run after a kill at \(point) failed: \(rerun.stderr)")
            let page = try Environment.run(
                "/usr/bin/curl", ["-sg", "-6", "--max-time", "5", "http://[fd53:6b69:6666:\(env.slot)::4]/"])
            #expect(page.stdout.contains("Your address is"), "no page after a kill at \(point)")
            let deleted = try env.skiff(["delete-env", env.manifest.path])
            #expect(deleted.status == 0, "delete-env after a kill at \(point) failed: \(deleted.stderr)")
            let left = try census(env)
            #expect(left.isEmpty, "left after a kill at \(point): \(left)")
        }
    }

    @Test func deleteEnvKilledAtEveryPointIsFinishedByTheNextOne() throws {
        let probe = try Environment(slot: 62)
        try #require(try probe.skiff(["create-env", probe.manifest.path]).status == 0)
        let points = try self.points(probe, ["delete-env", probe.manifest.path])
        probe.tearDown()
        #expect(points.contains("cloud:delete_vm:1") && points.contains("cloud:delete_stemcell:1"))
        for point in points {
            let env = try Environment(slot: 62)
            defer { env.tearDown() }
            let created = try env.skiff(["create-env", env.manifest.path])
            try #require(created.status == 0, "create-env failed: \(created.stderr)")
            try killed(env, ["delete-env", env.manifest.path], at: point)
            let rerun = try env.skiff(["delete-env", env.manifest.path])
            #expect(rerun.status == 0, "delete-env after a kill at \(point) failed: \(rerun.stderr)")
            let left = try census(env)
            #expect(left.isEmpty, "left after a kill at \(point): \(left)")
            #expect(!FileManager.default.fileExists(atPath: env.stateFile.path))
        }
    }

    @Test func aBridgeThatDisappearedDoesNotStopTheNextDeploy() throws {
        let env = try Environment(slot: 63)
        defer { env.tearDown() }
        try #require(try env.skiff(["create-env", env.manifest.path]).status == 0)
        let cloud = LocalCloud(config: LocalCloudConfig(stateDirectory: env.cloudState.path))
        let bridge = cloud.bridgeName(network: "default")
        // The VM goes, as if delete-env was killed as the bridge disappeared: the records stay.
        let state = try String(contentsOf: env.stateFile, encoding: .utf8)
        let vm = try #require(state.split(separator: "\"").first { $0.hasPrefix("skiff-vm-") })
        _ = try Environment.run("/usr/sbin/ip", ["link", "del", bridge])
        let text = try String(contentsOf: env.manifest, encoding: .utf8)
            .replacingOccurrences(of: "<h1>Your address is", with: "<h1>Again, your address is")
        try text.write(to: env.manifest, atomically: true, encoding: .utf8)
        let rerun = try env.skiff(["create-env", env.manifest.path])
        #expect(rerun.status == 0, "create-env after the bridge went failed: \(rerun.stderr)")
        #expect(rerun.stdout.contains("Deleting VM '\(vm)'"))
        let page = try Environment.run(
            "/usr/bin/curl", ["-sg", "-6", "--max-time", "5", "http://[fd53:6b69:6666:\(env.slot)::4]/"])
        #expect(page.stdout.contains("Again, your address is"))
        #expect(try env.skiff(["delete-env", env.manifest.path]).status == 0)
        #expect(try census(env).isEmpty)
    }
}
