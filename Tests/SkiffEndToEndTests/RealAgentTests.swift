import Foundation
import SkiffTestSupport
import Testing

/// The compatibility suite's second run: the same end-to-end flows with the real bosh-agent named by
/// `SKIFF_BOSH_AGENT`, in a stemcell built with `skiff stemcell build --agent`, reading its settings from the local
/// cloud's instance metadata service as on EC2.
@Suite(
    "The nginx example with the real bosh-agent", .serialized, .enabled(if: Environment.canRunLocalCloud),
    .enabled(if: RealAgent.path != nil, RealAgent.howToEnable))
struct RealAgentTests {
    @Test func deploysAnswersOverIPv6SkipsWhenUnchangedAndDeletesEverything() throws {
        let env = try Environment(slot: 101, agent: .bosh)
        defer { env.tearDown() }
        try NginxFlows.deployAnswerSkipDelete(env)
    }

    @Test("killed between any two steps, a re-run converges and delete-env cleans up", arguments: [2, 5, 7])
    func crashBetweenSteps(saves: Int) throws {
        let env = try Environment(slot: 102 + saves, agent: .bosh)
        defer { env.tearDown() }
        try NginxFlows.crashAndConverge(env, saves: saves)
    }

    @Test func aChangedManifestReplacesTheVMAndKeepsTheDisk() throws {
        let env = try Environment(slot: 111, agent: .bosh)
        defer { env.tearDown() }
        try NginxFlows.updateKeepsDisk(env)
    }

    @Test func theAgentReadsUserDataFromInstanceMetadataAndRunsUnderRunitWithMonit() throws {
        let env = try Environment(slot: 112, agent: .bosh)
        defer { env.tearDown() }
        let deployed = try env.skiff(["create-env", env.manifest.path])
        try #require(deployed.status == 0, "create-env failed: \(deployed.stderr)")
        let vms = try FileManager.default.contentsOfDirectory(atPath: env.cloudState.appendingPathComponent("vms").path)
        try #require(vms.count == 1)
        let vm = env.cloudState.appendingPathComponent("vms/\(vms[0])")
        // The settings the agent persisted came from user data: they name the VM as the AWS CPI's user data does.
        let persisted = try String(
            contentsOf: vm.appendingPathComponent("root/var/vcap/bosh/settings.json"), encoding: .utf8)
        #expect(persisted.contains("\"preconfigured\":true"))
        let log = try String(contentsOf: vm.appendingPathComponent("root/var/vcap/bosh/log/current"), encoding: .utf8)
        #expect(log.contains("Using IMDSv2"))
        #expect(!FileManager.default.fileExists(atPath: vm.appendingPathComponent("root/var/vcap/bosh/agent.log").path))
        let monit = try String(contentsOf: vm.appendingPathComponent("root/var/vcap/monit/monit.log"), encoding: .utf8)
        #expect(monit.contains("'nginx' start"))
        #expect(try env.skiff(["delete-env", env.manifest.path]).status == 0)
        #expect(try env.leftovers().isEmpty)
        #expect(
            !(try Environment.run("/usr/sbin/ip", ["netns", "list"]).stdout.contains(
                "skiff-md-" + vms[0].dropFirst("skiff-vm-".count))))
    }
}

/// The real bosh-agent the compatibility suite runs, from `SKIFF_BOSH_AGENT`.
enum RealAgent {
    /// The binary, if set.
    static let path: String? = ProcessInfo.processInfo.environment["SKIFF_BOSH_AGENT"].flatMap {
        $0.isEmpty ? nil : ($0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0)
    }

    static let howToEnable: Comment = """
        the real bosh-agent runs are skipped: set SKIFF_BOSH_AGENT to a bosh-agent binary (.ci/run sets it to \
        ../shared/agents/bosh-agent-2.499.0) to run the end-to-end tests against it too
        """

    /// The stemcell with the real agent, built once per test run (`skiff stemcell build --agent`, no `--output`)
    /// into skiff's stemcell cache: its folder, which a manifest's `stemcell.url` names and the local cloud imports
    /// in place.
    static let stemcell: Result<String, any Error> = Result {
        guard let path else { throw CocoaError(.fileNoSuchFile) }
        let built = try TestProcess.run(TestProcess.skiffBinary.path, ["stemcell", "build", "--agent", path])
        let directory = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard built.status == 0, directory.hasPrefix("/") else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: built.stderr])
        }
        return directory
    }
}
