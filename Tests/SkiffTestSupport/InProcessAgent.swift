import Foundation
import SkiffAgent
import SkiffAgentClient
import SkiffCloud
import SkiffCore
import SkiffDeploy
import SkiffNet
import Synchronization

/// skiff's real agent, run inside the test process as `skiff agent --settings FILE --root DIR` runs it on a VM:
/// settings written as a CPI writes them and read back by the agent, the HTTPS mbus with a CA-issued certificate and
/// basic auth on 127.0.0.1 at a port the system picks, and a root (what stands for `/var/vcap`) in a temporary
/// folder, so it needs no root privileges. Jobs, packages, scripts and monit processes are the agent's own work.
///
/// Call ``stop()`` when done: it stops the jobs' processes and the server and removes the folder.
public final class InProcessAgent: Sendable {
    /// The temporary folder: `settings.json` and the root.
    public let folder: URL
    /// The agent's root, standing for `/var/vcap`.
    public let root: URL
    /// The agent's id.
    public let agentID: String
    /// The mbus URL the agent answers on, with its real port, user and password.
    public let mbus: MbusURL
    /// The CA that issued the agent's certificate, PEM (what `cloud_provider.cert.ca` holds).
    public let caPEM: String
    /// The agent itself.
    public let agent: Agent
    private let server: AgentServer
    private let serving: Task<Void, any Error>
    private let journal: AgentLog

    /// Supervision fast enough for tests: pidfiles checked every 50 ms.
    public static let timing = SupervisorTiming(
        checkInterval: .milliseconds(50), startTimeout: .seconds(30), initialBackoff: .milliseconds(200),
        maximumBackoff: .seconds(2), stopTimeout: .seconds(5))

    private init(
        folder: URL, root: URL, agentID: String, mbus: MbusURL, caPEM: String, agent: Agent, server: AgentServer,
        serving: Task<Void, any Error>, journal: AgentLog
    ) {
        self.folder = folder
        self.root = root
        self.agentID = agentID
        self.mbus = mbus
        self.caPEM = caPEM
        self.agent = agent
        self.server = server
        self.serving = serving
        self.journal = journal
    }

    /// Starts an agent in `folder` (a fresh temporary folder when nil; it must not hold an agent already).
    public static func start(
        folder: URL? = nil, agentID: String = "in-process-agent", password: String? = nil,
        timing: SupervisorTiming = InProcessAgent.timing
    ) async throws -> InProcessAgent {
        let folder =
            folder
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "skiff-agent-\(UUID().uuidString.prefix(8))")
        do {
            return try await start(in: folder, agentID: agentID, password: password, timing: timing)
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
    }

    private static func start(
        in folder: URL, agentID: String, password: String?, timing: SupervisorTiming
    ) async throws -> InProcessAgent {
        let root = folder.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let host = IPAddress.v4(IPv4Address(bits: 0x7f00_0001))
        let password = password ?? UUID().uuidString.lowercased()
        // What a CPI writes: the agent id, a network, the mbus URL, the certificate in env.bosh.mbus.cert.
        let (ca, leaf) = try MbusCertificates.issue(ipAddresses: [host])
        let written = AgentSettings(
            agentID: agentID, vm: .init(name: "in-process-vm"),
            networks: ["private": CPINetwork(type: "manual", ip: host, netmask: .v4(IPv4Address(bits: 0xff00_0000)))],
            mbus: MbusURL(user: "mbus", password: password, host: host, port: 6868), blobstore: .local,
            env: ["bosh": ["mbus": ["cert": try JSONValue(encoding: leaf)]]])
        let settingsFile = folder.appendingPathComponent("settings.json")
        try AtomicFile.write(Data(written.json.description.utf8), to: settingsFile.path, mode: 0o600)

        // What `skiff agent --settings FILE --root DIR` does (Sources/skiff/Agent.swift), but for the port: the
        // settings' address, credentials and certificate, at a port the system picks (tests at once never collide).
        let journal = AgentLog()
        let settings = try AgentSettings.load(path: settingsFile.path)
        let agent = Agent(settings: settings, root: root.path, timing: timing) { journal.append($0) }
        let listen = MbusURL(
            scheme: settings.mbus.scheme, user: settings.mbus.user, password: settings.mbus.password,
            host: settings.mbus.host, port: 0)
        let server = try await AgentServer.bind(agent: agent, mbus: listen, certificate: settings.mbusCertificate)
        do {
            try await agent.restore()
        } catch {
            await server.close()
            throw error
        }
        let serving = Task { try await server.run() }
        return InProcessAgent(
            folder: folder, root: root, agentID: agentID,
            mbus: MbusURL(user: "mbus", password: password, host: host, port: server.port),
            caPEM: ca.certificate ?? "", agent: agent, server: server, serving: serving, journal: journal)
    }

    /// Runs `body` against a fresh agent and always stops it.
    public static func with<T: Sendable>(_ body: (InProcessAgent) async throws -> T) async throws -> T {
        let agent = try await start()
        do {
            let result = try await body(agent)
            await agent.stop()
            return result
        } catch {
            await agent.stop()
            throw error
        }
    }

    /// The port the agent listens on.
    public var port: Int { mbus.port }

    /// `https://mbus:PASSWORD@127.0.0.1:PORT`: what `cloud_provider.mbus` must say to reach this agent.
    public var mbusURL: String { mbus.text }

    /// A path under the root: `path("packages", "x")` is the agent's `/var/vcap/packages/x`.
    public func path(_ components: String...) -> String {
        components.reduce(root.path) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// A client as the deployer makes one (`AgentClient` over the HTTPS mbus, trusting the agent's CA).
    public func connect(replyTo: String = "skiff") throws -> AgentClient {
        try AgentClient(
            configuration: .init(mbus: mbus, caPEM: caPEM, replyTo: replyTo, pollInterval: .milliseconds(50)))
    }

    /// What the agent logged: one line per request and per finished task (`apply: started task …`, `get_state`).
    public var log: [String] { journal.lines }

    /// The agent methods it was asked for, in order (`get_task` and `ping` left out, as the agent logs them).
    public var methods: [String] {
        log.compactMap { line in
            if line.hasPrefix("task ") { return nil }
            return line.split(separator: ":", maxSplits: 1).first.map(String.init)
        }
    }

    /// Stops the jobs' processes and the server, and removes the folder.
    public func stop() async {
        await agent.shutdown()
        await server.close()
        serving.cancel()
        _ = try? await serving.value
        try? FileManager.default.removeItem(at: folder)
    }
}

/// The agent's log lines, kept for tests.
final class AgentLog: Sendable {
    private let kept = Mutex<[String]>([])

    func append(_ line: String) { kept.withLock { $0.append(line) } }

    var lines: [String] { kept.withLock { $0 } }
}

extension DeployConnector {
    /// A connector to an in-memory cloud and skiff's real agent running in process. The agent client is the
    /// deployer's own, made from the manifest's `cloud_provider.mbus` and `cert.ca`, which must name the agent.
    public static func inProcess(_ cloud: InMemoryCloud, agent: InProcessAgent) -> DeployConnector {
        DeployConnector(
            capabilities: { _ in cloud.capabilities },
            cloud: { _ in (provider: cloud as any CloudProvider, name: "memory") },
            agent: { manifest, directorID in
                // A manifest naming another agent would time out after minutes; say so at once.
                let named = try? MbusURL(parsing: manifest.cloudProvider.mbus)
                if let named, named != agent.mbus {
                    throw CloudError.cloud("cloud_provider.mbus \(named) is not the in-process agent's \(agent.mbus)")
                }
                return try DeployConnector.standard.agent(manifest, directorID)
            })
    }
}
