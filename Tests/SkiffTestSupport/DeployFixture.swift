import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffDeploy

/// One environment for deployer tests, in a private folder: a copy of the example release, a stemcell folder whose
/// version can change, and a manifest that the test shapes (disk size, a property, networks). Deploys go to an
/// ``InMemoryCloud`` and an ``InMemoryAgent``, so they take milliseconds and need no root.
///
/// ``withInProcessAgent(shape:capabilities:)`` makes one whose agent is skiff's real agent in the test process
/// (``InProcessAgent``, its root in the folder) and whose release is the kit's own (``KitRelease``): the deployer
/// reaches it over the HTTPS mbus the manifest names, and its jobs really run. Call ``tearDown()`` when done.
public final class DeployFixture: @unchecked Sendable {
    /// The private folder.
    public let directory: URL
    /// The manifest.
    public var manifest: URL { directory.appendingPathComponent("env.yml") }
    /// The state file.
    public var stateFile: URL { directory.appendingPathComponent("env-state.json") }
    /// The vars store (the default one beside the manifest).
    public var varsStore: URL { directory.appendingPathComponent("env-vars-store.yml") }
    /// The release copy.
    public var release: URL { directory.appendingPathComponent("release") }
    /// The stemcell folder.
    public var stemcell: URL { directory.appendingPathComponent("stemcell") }
    /// The cloud.
    public let cloud: InMemoryCloud
    /// The in-memory agent (unused when ``inProcessAgent`` is set).
    public let agent: InMemoryAgent
    /// skiff's real agent in the test process, for a fixture made by ``withInProcessAgent(shape:capabilities:)``.
    public private(set) var inProcessAgent: InProcessAgent?

    /// The manifest's shape.
    public struct Shape: Sendable {
        public var diskSize = 1024
        public var greeting = "hello"
        public var ipv6Range = "fd53:6b69:6666:1::/64"
        public var ipv6Address = "fd53:6b69:6666:1::4"
        public var ipv6Gateway = "fd53:6b69:6666:1::1"
        public init() {}
    }

    /// A fixture with the stemcell at `stemcellVersion` and the manifest of `shape`.
    public convenience init(
        shape: Shape = Shape(), capabilities: CloudCapabilities = CloudCapabilities(migratesDisks: false),
        preflightFailure: String? = nil
    ) throws {
        try self.init(empty: capabilities, preflightFailure: preflightFailure)
        let example = TestProcess.repository.appendingPathComponent("examples/nginx-ipv6/release")
        try FileManager.default.copyItem(at: example, to: release)
        try write(shape)
    }

    /// A fixture with a stemcell and no release or manifest yet.
    private init(empty capabilities: CloudCapabilities, preflightFailure: String?) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-deploy-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        cloud = InMemoryCloud(capabilities: capabilities, preflightFailure: preflightFailure)
        agent = InMemoryAgent()
        try FileManager.default.createDirectory(at: stemcell, withIntermediateDirectories: true)
        try setStemcellVersion("1.0")
    }

    /// A fixture whose agent is skiff's real agent in process (root under the fixture's folder, no root privileges
    /// needed) and whose release is ``KitRelease``; the vars store is seeded with the agent's mbus password.
    public static func withInProcessAgent(
        shape: Shape = Shape(), capabilities: CloudCapabilities = CloudCapabilities(migratesDisks: false)
    ) async throws -> DeployFixture {
        let fixture = try DeployFixture(empty: capabilities, preflightFailure: nil)
        do {
            try KitRelease.write(to: fixture.release)
            let agent = try await InProcessAgent.start(folder: fixture.directory.appendingPathComponent("agent"))
            fixture.inProcessAgent = agent
            try "mbus_password: \(agent.mbus.password ?? "")\n".write(
                to: fixture.varsStore, atomically: true, encoding: .utf8)
            try fixture.write(shape)
        } catch {
            await fixture.tearDown()
            throw error
        }
        return fixture
    }

    /// Removes the folder (for an in-process agent, ``tearDown()`` stops it first).
    public func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Stops the in-process agent, if any, and removes the folder.
    public func tearDown() async {
        await inProcessAgent?.stop()
        remove()
    }

    /// The connector deploys of this fixture use.
    public var connector: DeployConnector {
        if let inProcessAgent { return .inProcess(cloud, agent: inProcessAgent) }
        return .inMemory(cloud, agent: agent)
    }

    /// Writes a stemcell folder of `version` (an empty image).
    public func setStemcellVersion(_ version: String) throws {
        let image = stemcell.appendingPathComponent("image")
        try FileManager.default.createDirectory(at: image, withIntermediateDirectories: true)
        try "skiff in-memory image\n".write(
            to: image.appendingPathComponent("README"), atomically: true, encoding: .utf8)
        try """
        name: bosh-skiff-memory
        version: '\(version)'
        api_version: 3
        operating_system: ubuntu-jammy
        stemcell_formats: [memory]
        cloud_properties: {}

        """.write(to: stemcell.appendingPathComponent("stemcell.MF"), atomically: true, encoding: .utf8)
    }

    /// Changes a template of the release, so that its version (a dev fingerprint) and its rendered files change.
    public func changeRelease() throws {
        let script = release.appendingPathComponent(
            inProcessAgent == nil ? "jobs/nginx/templates/post-start.erb" : KitRelease.changeableTemplate)
        let text = try String(contentsOf: script, encoding: .utf8)
        try (text + "\n# changed\n").write(to: script, atomically: true, encoding: .utf8)
    }

    /// Writes the manifest of `shape`: the example's jobs, or the kit's on the in-process agent.
    public func write(_ shape: Shape) throws {
        let text: String
        if let inProcessAgent {
            // `cloud_provider.mbus` names the agent's address and port with the password from the vars store, and
            // `cert.ca` its CA.
            text = manifestText(
                shape, name: "kit-env", release: KitRelease.name, instanceGroup: "kit", jobs: [KitRelease.job],
                properties: [
                    "ticker:",
                    "  greeting: \(shape.greeting)",
                    "  root: \(inProcessAgent.root.path)",
                ],
                mbusAddress: inProcessAgent.mbus.host.hostPort(inProcessAgent.port),
                cert: ["cert:", "  ca: |"] + inProcessAgent.caPEM.split(separator: "\n").map { "    \($0)" },
                variables: [])
        } else {
            text = manifestText(
                shape, name: "memory-env", release: "nginx-ipv6", instanceGroup: "nginx",
                jobs: ["enable_ipv6", "dhclient_ipv6", "nginx"],
                properties: [
                    "dhclient_ipv6:",
                    "  interface: eth0",
                    "nginx_conf: |",
                    "  # \(shape.greeting)",
                    "  events {}",
                    "pre_start: ((pre_start_secret))",
                ],
                mbusAddress: "10.245.0.7:6868", cert: [], variables: ["pre_start_secret"])
        }
        try text.write(to: manifest, atomically: true, encoding: .utf8)
    }

    /// A manifest of `shape` deploying `jobs` of `release` with `properties` (YAML lines) and an agent at
    /// `mbusAddress`; `cert` (YAML lines) goes under `cloud_provider`, and `variables` are extra passwords.
    func manifestText(
        _ shape: Shape, name: String, release releaseName: String, instanceGroup: String, jobs: [String],
        properties: [String], mbusAddress: String, cert: [String], variables: [String]
    ) -> String {
        func lines(_ lines: [String], indent: String) -> String {
            lines.map { indent + $0 + "\n" }.joined()
        }
        return """
            name: \(name)
            releases:
            - name: \(releaseName)
              url: file://\(release.path)
            resource_pools:
            - name: vms
              network: private
              stemcell:
                url: file://\(stemcell.path)
              cloud_properties: {}
            disk_pools:
            - name: disks
              disk_size: \(shape.diskSize)
              cloud_properties: {}
            networks:
            - name: private
              type: manual
              subnets:
              - range: 10.245.0.0/24
                gateway: 10.245.0.1
                cloud_properties: {}
            - name: private-ipv6
              type: manual
              subnets:
              - range: \(shape.ipv6Range)
                gateway: \(shape.ipv6Gateway)
                cloud_properties: {}
            jobs:
            - name: \(instanceGroup)
              instances: 1
              persistent_disk_pool: disks
              resource_pool: vms
              networks:
              - name: private
                static_ips: [10.245.0.7]
                default: [dns, gateway]
              - name: private-ipv6
                static_ips: [\(shape.ipv6Address)]
              templates:

            """
                + lines(jobs.map { "- {name: \($0), release: \(releaseName)}" }, indent: "  ")
                + "  properties:\n" + lines(properties, indent: "    ")
                    + """
                    cloud_provider:
                      template:
                        name: local_cpi
                        release: skiff
                      mbus: https://mbus:((mbus_password))@\(mbusAddress)

                    """
                + lines(cert, indent: "  ")
                    + """
                      properties:
                        agent:
                          mbus: https://mbus:((mbus_password))@0.0.0.0:6868
                    variables:
                    - name: mbus_password
                      type: password

                    """
                + lines(variables.flatMap { ["- name: \($0)", "  type: password"] }, indent: "")
    }

    /// Options for this environment.
    public func options(recreate: Bool = false) -> EnvironmentOptions {
        EnvironmentOptions(manifestPath: manifest.path, recreate: recreate, skiffExecutable: "/bin/false")
    }

    /// A deployer on the in-memory cloud and agent.
    public func deployer(
        recreate: Bool = false, kill: KillSwitch = .none, sink: any ProgressSink = SilentProgress()
    ) -> EnvironmentDeployer {
        EnvironmentDeployer(
            options: options(recreate: recreate), sink: sink, connector: connector, kill: kill)
    }

    /// A deleter on the in-memory cloud and agent.
    public func deleter(kill: KillSwitch = .none, sink: any ProgressSink = SilentProgress()) -> EnvironmentDeleter {
        EnvironmentDeleter(options: options(), sink: sink, connector: connector, kill: kill)
    }

    /// Every file in the folder (but the release and stemcell copies) with its bytes, to compare before and after.
    public func files() throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path)
        where name != "release" && name != "stemcell" && name != "agent" {
            result[name] = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) ?? Data()
        }
        return result
    }
}

/// Progress that goes nowhere, or into a string for tests that read it.
public final class SilentProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private var _text = ""

    /// A sink keeping what it is told.
    public init() {}

    /// Everything reported, as text.
    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return _text
    }

    private func add(_ line: String) {
        lock.lock()
        _text += line + "\n"
        lock.unlock()
    }

    public func line(_ text: String) { add(text) }
    public func beginGroup(_ name: String) { add("Started \(name)") }
    public func endGroup(_ name: String, outcome: StepOutcome, seconds: Double) { add("Finished \(name)") }
    public func beginStep(_ name: String, depth: Int) { add("  \(name)") }
    public func endStep(_ name: String, depth: Int, outcome: StepOutcome, seconds: Double) {
        if case .skipped(let why) = outcome { add("  Skipped [\(why)]") }
    }
}

/// The error an in-process kill point throws: the run stops there, as a killed process would.
public struct SimulatedKill: Error, Sendable, CustomStringConvertible {
    /// The point, `POINT:N`.
    public let point: String
    public var description: String { "killed at \(point)" }
}

/// Kill switches for in-process crash tests.
public final class KillRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var _reached: [String] = []

    /// A recorder that stops the run at `target` (`POINT:N`), or never.
    public init(killAt target: String? = nil) { self.target = target }

    let target: String?

    /// Every point reached, `POINT:N`, in order.
    public var reached: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _reached
    }

    /// The switch to give a deployer.
    public var killSwitch: KillSwitch {
        KillSwitch { [self] point in
            lock.lock()
            counts[point, default: 0] += 1
            let name = "\(point):\(counts[point] ?? 1)"
            _reached.append(name)
            lock.unlock()
            if name == target { throw SimulatedKill(point: name) }
        }
    }
}
