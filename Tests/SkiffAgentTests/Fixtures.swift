import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffNet
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A running agent with a real TLS server and a real client, under a temp root.
struct AgentFixture {
    let root: String
    let agent: Agent
    let server: AgentServer
    let client: AgentClient
    let ca: AgentSettings.CertificateKeyPair
    let mbus: MbusURL
    let serving: Task<Void, any Error>

    static let password = "s3cret-mbus-pw"

    /// Fast supervision for tests.
    static let timing = SupervisorTiming(
        checkInterval: .milliseconds(100), startTimeout: .seconds(10), initialBackoff: .milliseconds(200),
        maximumBackoff: .seconds(2), stopTimeout: .seconds(3))

    static func makeRoot() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("skiff-agent-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func start(
        host: IPAddress, limits: AgentServerLimits = AgentServerLimits(),
        scriptTimeouts: ScriptTimeouts = ScriptTimeouts()
    ) async throws -> AgentFixture {
        let root = try makeRoot()
        let (ca, leaf) = try MbusCertificates.issue(ipAddresses: [host])
        let settings = AgentSettings(
            agentID: "agent-\(UUID().uuidString.prefix(8))", vm: .init(name: "vm-test"),
            networks: ["default": .init(type: "manual", ip: host)],
            mbus: MbusURL(user: "mbus", password: password, host: host, port: 6868), blobstore: .local,
            env: ["bosh": ["mbus": ["cert": try JSONValue(encoding: leaf)]]])
        let agent = Agent(settings: settings, root: root, timing: timing, scriptTimeouts: scriptTimeouts)
        let listen = MbusURL(user: "mbus", password: password, host: host, port: 0)
        let server = try await AgentServer.bind(agent: agent, mbus: listen, certificate: leaf, limits: limits)
        let serving = Task { try await server.run() }
        let mbus = MbusURL(user: "mbus", password: password, host: host, port: server.port)
        let client = try AgentClient(
            configuration: .init(mbus: mbus, caPEM: ca.certificate, pollInterval: .milliseconds(50)))
        return AgentFixture(
            root: root, agent: agent, server: server, client: client, ca: ca, mbus: mbus, serving: serving)
    }

    /// A second client against the same server with other settings.
    func otherClient(user: String? = "mbus", password: String? = nil, caPEM: String?) throws -> AgentClient {
        let url = MbusURL(user: user, password: password, host: mbus.host, port: mbus.port)
        return try AgentClient(configuration: .init(mbus: url, caPEM: caPEM, pollInterval: .milliseconds(50)))
    }

    func stop(killing pids: [Int32] = []) async {
        await client.shutdown()
        await agent.shutdown()
        for pid in pids where ProcessProbe.isAlive(pid) { ProcessProbe.signal(pid, SIGKILL) }
        await server.close()
        serving.cancel()
        _ = try? await serving.value
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs `body` against a fresh agent and always tears it down, killing recorded PIDs.
    static func with(
        host: IPAddress, limits: AgentServerLimits = AgentServerLimits(),
        scriptTimeouts: ScriptTimeouts = ScriptTimeouts(), _ body: (AgentFixture, PidRecorder) async throws -> Void
    ) async throws {
        let fixture = try await start(host: host, limits: limits, scriptTimeouts: scriptTimeouts)
        let recorder = PidRecorder()
        do {
            try await body(fixture, recorder)
        } catch {
            await fixture.stop(killing: recorder.pids)
            throw error
        }
        await fixture.stop(killing: recorder.pids)
    }
}

extension AgentFixture {
    /// Uploads a rendered job called `job` made of `files` (paths inside the job, text, executable) and applies it.
    func applyJob(_ job: String, _ files: [String: (String, Bool)]) async throws {
        var entries: [String: (String, Bool)] = ["\(job)/monit": ("", false)]
        for (path, file) in files { entries["\(job)/\(path)"] = file }
        let archive = try await makeTarball(entries)
        let directory = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try archive.write(to: URL(fileURLWithPath: directory + "/blob"))
        let rendered = try await client.uploadBlob(file: directory + "/blob")
        try await client.apply(
            ApplySpec(
                deployment: "d", name: job,
                job: .init(name: job, templates: [.init(name: job, version: "1", sha1: "", blobstoreID: "")]),
                renderedTemplatesArchive: .init(blobstoreID: rendered.id, sha1: rendered.digest)))
    }
}

/// Remembers PIDs a test saw so that cleanup can kill exactly those.
final class PidRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [Int32] = []

    func record(_ pid: Int32) {
        lock.lock()
        seen.append(pid)
        lock.unlock()
    }

    var pids: [Int32] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }
}

/// Writes files into a fresh directory and tars them as bosh does (`./` entries).
func makeTarball(_ files: [String: (String, Bool)]) async throws -> Data {
    let directory = try AgentFixture.makeRoot()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let content = (directory as NSString).appendingPathComponent("content")
    for (path, (text, executable)) in files {
        let full = (content as NSString).appendingPathComponent(path)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: full) }
    }
    let archive = (directory as NSString).appendingPathComponent("out.tgz")
    try await CommandRunner.tar(content, to: archive)
    return try Data(contentsOf: URL(fileURLWithPath: archive))
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

let loopbacks: [IPAddress] = [.v6(IPv6Address(bits: 1)), .v4(IPv4Address(bits: 0x7f00_0001))]
