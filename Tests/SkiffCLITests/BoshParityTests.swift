import Foundation
import SkiffCore
import SkiffTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("BOSH CLI parity")
struct BoshParityTests {
    @Test(
        "a usage error exits 1, as bosh does, with the message on stderr",
        arguments: [
            ["create-env"], ["--no-such-flag"], ["create-env", "m.yml", "--no-such-flag"], ["stop-env"],
            ["no-such-command"],
        ])
    func usageErrorExitsOne(arguments: [String]) throws {
        let result = try SkiffProcess.run(arguments)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("Error:"))
    }

    @Test("help still exits 0")
    func helpExitsZero() throws {
        let result = try SkiffProcess.run(["create-env", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--recreate-persistent-disks"))
        #expect(result.stdout.contains("--skip-drain"))
    }

    @Test(
        "the global -n, --no-color and --tty are accepted before or after the command",
        arguments: [
            ["-n", "ip", "canonical", "::1"], ["ip", "canonical", "::1", "-n"],
            ["--no-color", "ip", "canonical", "::1"],
            ["ip", "canonical", "--tty", "::1", "--non-interactive"],
        ])
    func globalFlags(arguments: [String]) throws {
        let result = try SkiffProcess.run(arguments)
        #expect(result.status == 0)
        #expect(result.stdout == "::1\n")
    }

    @Test("--recreate-persistent-disks is a create-env flag: the run gets as far as reading the manifest")
    func recreatePersistentDisks() throws {
        let result = try SkiffProcess.run([
            "create-env", "/nonexistent/skiff-m.yml", "--recreate-persistent-disks", "-n",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.contains("Deployment manifest: '/nonexistent/skiff-m.yml'"))
        #expect(result.stderr.hasPrefix("skiff: /nonexistent/"))
        #expect(!result.stderr.contains("Error:"))
    }

    @Test("shell completion completes file names for the manifest, -l, -o, --vars-store and --state")
    func completion() throws {
        let result = try SkiffProcess.run(["--generate-completion-script", "zsh"])
        #expect(result.status == 0)
        let script = result.stdout
        for command in ["create-env", "delete-env", "stop-env", "start-env", "interpolate"] {
            let body = try #require(Self.zshFunction(named: command, in: script), "no completion for \(command)")
            #expect(body.contains(":manifest:_files"), "\(command): manifest")
            for option in ["--vars-file", "--ops-file", "--vars-store"] {
                #expect(Self.optionLine(option, in: body).hasSuffix(":PATH:_files'"), "\(command) \(option)")
            }
            if command != "interpolate" {
                #expect(Self.optionLine("--state", in: body).hasSuffix(":state:_files'"), "\(command) --state")
            }
        }
    }

    static func zshFunction(named command: String, in script: String) -> String? {
        let marker = "_skiff_\(command)() {"
        guard let start = script.range(of: marker) else { return nil }
        let rest = script[start.upperBound...]
        let end = rest.range(of: "\n}\n")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    static func optionLine(_ option: String, in body: String) -> String {
        body.split(separator: "\n").first { $0.contains("\(option)[") || $0.contains("\(option)}'[") }
            .map(String.init) ?? ""
    }

    @Test("stop-env and start-env without a state file: nothing to do, exit 0", arguments: ["stop-env", "start-env"])
    func noState(command: String) throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = directory + "/m.yml"
        try AtomicFile.write(Self.manifest(port: 6868), to: manifest)
        let result = try SkiffProcess.run([command, manifest, "--state", directory + "/none.json"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("No deployment state file found."))
        #expect(!FileManager.default.fileExists(atPath: directory + "/none.json"))
    }

    @Test("stop-env drains and stops the jobs through the agent, start-env starts them; the state file is kept")
    func stopAndStart() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = Int.random(in: 30000..<60000)
        let settings = directory + "/settings.json"
        try AgentSettings(agentID: "agent-cli", mbus: try MbusURL(parsing: "https://mbus:pw@[::1]:\(port)"))
            .write(to: settings)
        let agentLog = directory + "/agent.log"
        let agent = try ProcessRunner.start(
            ProcessCommand(
                TestProcess.skiffBinary.path, ["agent", "--settings", settings, "--root", directory + "/vcap"],
                stdout: .file(agentLog), stderr: .standardOutput, newSession: true))
        defer {
            agent.signal(SIGKILL)
            _ = agent.waitBlocking()
        }
        let manifest = directory + "/m.yml"
        try AtomicFile.write(Self.manifest(port: port), to: manifest)
        let state = directory + "/state.json"
        let stateText = """
            {"director_id":"director-1","installation_id":"installation-1","current_vm_cid":"vm-1",
            "current_stemcell_id":"","current_disk_id":"","current_release_ids":[],"current_manifest_sha":"",
            "disks":[],"stemcells":[],"releases":[]}
            """
        try AtomicFile.write(stateText, to: state, mode: 0o600)
        let before = try Data(contentsOf: URL(fileURLWithPath: state))

        let stopped = try SkiffProcess.run(["stop-env", manifest, "--state", state, "--no-color"])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("Stopping jobs on instance 'web/0'"))
        #expect(stopped.stdout.contains("Draining jobs on instance 'web/0'"))
        #expect(!stopped.stdout.contains("\u{1B}["))
        let afterStop = try String(contentsOfFile: agentLog, encoding: .utf8)
        #expect(afterStop.contains("skiff agent: drain"))
        #expect(afterStop.contains("skiff agent: stop"))

        let skipped = try SkiffProcess.run(["stop-env", manifest, "--state", state, "--skip-drain"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(!skipped.stdout.contains("Draining"))

        // --tty forces colours into a pipe (NO_COLOR, which the test runner may set, would turn them off).
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = nil
        let started = try SkiffProcess.run(
            ["start-env", manifest, "--state", state, "--tty"], environment: environment)
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stdout.contains("Waiting for instance 'web/0' to be running"))
        #expect(started.stdout.contains("\u{1B}[32m"))
        #expect(try String(contentsOfFile: agentLog, encoding: .utf8).contains("skiff agent: start"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: state)) == before)
    }

    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func manifest(port: Int) -> String {
        """
        name: t
        releases:
        - {name: r, url: file://r}
        resource_pools:
        - name: vms
          network: n6
          stemcell: {url: skiff://local}
        networks:
        - name: n6
          type: manual
          subnets:
          - {range: "fd00::/64", gateway: "fd00::1"}
        instance_groups:
        - name: web
          instances: 1
          resource_pool: vms
          networks:
          - {name: n6, static_ips: ["fd00::4"], default: [dns, gateway]}
          jobs:
          - {name: j, release: r}
        cloud_provider:
          template: {name: local_cpi, release: skiff}
          mbus: https://mbus:pw@[::1]:\(port)

        """
    }
}
