import Foundation
import NIOCore
import SkiffAgentClient
import SkiffCore
import SkiffNet
import SkiffTestSupport
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

/// The agent runs as root: it refuses to run without credentials, and clients without them cannot hold its memory,
/// sockets or time. Each limit is checked against a real server over real TLS.
@Suite(.serialized) struct AgentHardeningTests {
    @Test(arguments: [
        MbusURL(user: nil, password: nil, host: loopbacks[0], port: 0),
        MbusURL(user: "mbus", password: nil, host: loopbacks[0], port: 0),
        MbusURL(user: "mbus", password: "", host: loopbacks[1], port: 0),
    ])
    func serverRefusesAnMbusURLWithoutCredentials(mbus: MbusURL) async throws {
        let settings = AgentSettings(agentID: "a", mbus: try MbusURL(parsing: "https://[::1]:6868"))
        let agent = Agent(settings: settings, root: "/nonexistent")
        await #expect {
            _ = try await AgentServer.bind(agent: agent, mbus: mbus, certificate: nil)
        } throws: { error in
            guard let error = error as? AgentError else { return false }
            return error.code == .invalidMbusURL && error.message.contains("has no credentials")
                && error.message.contains("https://USER:PASSWORD@")
        }
    }

    @Test func agentCommandRefusesToStartWithoutCredentials() throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let settings = root + "/settings.json"
        try AgentSettings(agentID: "a", mbus: try MbusURL(parsing: "https://[::1]:6868")).write(to: settings)
        let result = try TestProcess.skiff(["agent", "--settings", settings, "--root", root])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.contains("has no credentials"))
    }

    @Test(arguments: loopbacks)
    func unauthenticatedUploadIsRefusedFromItsHeadersWithoutReadingTheBody(host: IPAddress) async throws {
        try await AgentFixture.with(host: host) { fixture, _ in
            let channel = try await RawClient.connect(host: host, port: fixture.mbus.port, tls: true)
            try await channel.executeThenClose { inbound, outbound in
                // Headers announcing 60 MiB, and no body at all: the answer cannot wait for the body.
                try await outbound.write(RawClient.uploadHead(id: "x", length: 60 << 20))
                let (text, closed) = await RawClient.readUntilClosed(inbound, timeout: .seconds(5))
                #expect(text.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
                #expect(text.lowercased().contains("connection: close"))
                #expect(closed)
            }
            #expect(fixture.agent.blobstore.contains("x") == false)
            // Wrong credentials are refused the same way.
            let wrong = try await RawClient.connect(host: host, port: fixture.mbus.port, tls: true)
            try await wrong.executeThenClose { inbound, outbound in
                let bad = "Basic " + Data("mbus:wrong".utf8).base64EncodedString()
                try await outbound.write(RawClient.uploadHead(id: "y", length: 60 << 20, authorization: bad))
                let (text, closed) = await RawClient.readUntilClosed(inbound, timeout: .seconds(5))
                #expect(text.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
                #expect(closed)
            }
            // The right credentials still work.
            #expect(try await fixture.client.ping() == "pong")
        }
    }

    @Test func connectionsBeyondTheLimitAreClosedAtOnce() async throws {
        let limits = AgentServerLimits(maximumConnections: 4, handshakeTimeout: .seconds(30))
        try await AgentFixture.with(host: loopbacks[0], limits: limits) { fixture, _ in
            var held: [RawClient.Channel] = []
            for _ in 0..<4 {
                held.append(try await RawClient.connect(host: loopbacks[0], port: fixture.mbus.port, tls: false))
            }
            #expect(await eventually(timeout: .seconds(5)) { fixture.server.openConnections == 4 })
            let extra = try await RawClient.connect(host: loopbacks[0], port: fixture.mbus.port, tls: false)
            try await extra.executeThenClose { inbound, _ in
                let (_, closed) = await RawClient.readUntilClosed(inbound, timeout: .seconds(3))
                #expect(closed)
            }
            #expect(fixture.server.openConnections == 4)
            for channel in held { try? await channel.channel.close() }
            #expect(await eventually(timeout: .seconds(5)) { fixture.server.openConnections == 0 })
            #expect(try await fixture.client.ping() == "pong")
        }
    }

    @Test(arguments: loopbacks)
    func aConnectionThatNeverCompletesTheHandshakeIsClosed(host: IPAddress) async throws {
        let limits = AgentServerLimits(handshakeTimeout: .milliseconds(500), idleTimeout: .seconds(30))
        try await AgentFixture.with(host: host, limits: limits) { fixture, _ in
            let clock = ContinuousClock()
            let start = clock.now
            let bare = try await RawClient.connect(host: host, port: fixture.mbus.port, tls: false)
            try await bare.executeThenClose { inbound, _ in
                let (_, closed) = await RawClient.readUntilClosed(inbound, timeout: .seconds(5))
                #expect(closed)
            }
            #expect(clock.now - start < .seconds(4))
            #expect(await eventually(timeout: .seconds(3)) { fixture.server.openConnections == 0 })
        }
    }

    @Test(arguments: loopbacks)
    func aConnectionIdleAfterTheHandshakeIsClosed(host: IPAddress) async throws {
        let limits = AgentServerLimits(handshakeTimeout: .seconds(30), idleTimeout: .milliseconds(500))
        try await AgentFixture.with(host: host, limits: limits) { fixture, _ in
            let clock = ContinuousClock()
            let start = clock.now
            let idle = try await RawClient.connect(host: host, port: fixture.mbus.port, tls: true)
            try await idle.executeThenClose { inbound, _ in
                let (_, closed) = await RawClient.readUntilClosed(inbound, timeout: .seconds(5))
                #expect(closed)
            }
            #expect(clock.now - start < .seconds(4))
            // A client that keeps its connection between requests reconnects transparently.
            #expect(try await fixture.client.ping() == "pong")
            try await Task.sleep(for: .seconds(1))
            #expect(try await fixture.client.ping() == "pong")
        }
    }

    /// `skiff agent` as a process of its own: its resident memory under 8 unauthenticated 60 MiB uploads and 20
    /// idle TCP connections (the load that once took it from 39 MB to 334 MB).
    @Test func memoryStaysFlatUnderUnauthenticatedLoad() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let host = loopbacks[0]
        let port = try freePort(host)
        let settings = root + "/settings.json"
        try AgentSettings(
            agentID: "mem", mbus: try MbusURL(parsing: "https://mbus:\(AgentFixture.password)@\(host.hostPort(port))")
        ).write(to: settings)
        let process = Process()
        process.executableURL = TestProcess.skiffBinary
        process.arguments = ["agent", "--settings", settings, "--root", root]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let pid = process.processIdentifier
        let client = try AgentClient(
            configuration: .init(
                mbus: MbusURL(user: "mbus", password: AgentFixture.password, host: host, port: port), caPEM: nil))
        defer { Task { await client.shutdown() } }
        try await client.waitUntilReady(timeout: .seconds(20), delay: .milliseconds(100))
        // Warm up: one refused upload and a few pings.
        await unauthenticatedUpload(host: host, port: port, bytes: 1 << 20)
        for _ in 0..<3 { _ = try await client.ping() }
        let before = try memory(pid)

        var idle: [RawClient.Channel] = []
        for _ in 0..<20 { idle.append(try await RawClient.connect(host: host, port: port, tls: false)) }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { await unauthenticatedUpload(host: host, port: port, bytes: 60 << 20) } }
        }
        let after = try memory(pid)
        for channel in idle { try? await channel.channel.close() }
        #expect(try await client.ping() == "pong")
        let grownKiB = after.peakKiB - before.residentKiB
        print(
            "skiff agent memory: \(before.residentKiB) KiB before, peak \(after.peakKiB) KiB under load (+\(grownKiB) KiB)"
        )
        #expect(grownKiB < 8 * 1024)
    }
}

/// Resident and peak resident memory of a process, from /proc.
private func memory(_ pid: Int32) throws -> (residentKiB: Int, peakKiB: Int) {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    func field(_ name: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
    return (field("VmRSS"), field("VmHWM"))
}

/// Sends `PUT /blobs/x` without credentials and then `bytes` of body as fast as the server takes them, until it
/// closes the connection.
private func unauthenticatedUpload(host: IPAddress, port: Int, bytes: Int) async {
    guard let channel = try? await RawClient.connect(host: host, port: port, tls: true) else { return }
    try? await channel.executeThenClose { inbound, outbound in
        try await outbound.write(RawClient.uploadHead(id: "x", length: bytes))
        let chunk = ByteBuffer(repeating: 0x61, count: 1 << 20)
        do {
            for _ in 0..<(bytes >> 20) { try await outbound.write(chunk) }
        } catch {
            // The server closed the connection: what it should do.
        }
        _ = await RawClient.readUntilClosed(inbound, timeout: .seconds(5))
    }
}

/// A TCP port nothing listens on at `host` right now.
private func freePort(_ host: IPAddress) throws -> Int {
    let family = host.family == .ipv6 ? AF_INET6 : AF_INET
    let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var storage = sockaddr_storage()
    var length: socklen_t
    if case .v6 = host {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
    } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
    }
    let bound = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw AgentError(.server, "cannot bind a probe socket") }
    _ = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return withUnsafeBytes(of: &storage) { raw in
        host.family == .ipv6
            ? Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            : Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
    }
}
