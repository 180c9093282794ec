import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SkiffCore
import SkiffNet

/// The agent's HTTPS mbus listener: `POST /agent` and the `/blobs` blobstore, behind basic auth.
public final class AgentServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// The address it listens on.
    public let host: IPAddress
    /// The port it listens on (the real one when 0 was asked for).
    public let port: Int
    private let listener: NIOAsyncChannel<Connection, Never>
    private let agent: Agent
    private let expectedAuthorization: String
    /// The limits it enforces.
    public let limits: AgentServerLimits
    private let counter: ConnectionCounter

    private init(
        host: IPAddress, port: Int, listener: NIOAsyncChannel<Connection, Never>, agent: Agent,
        expectedAuthorization: String, limits: AgentServerLimits, counter: ConnectionCounter
    ) {
        self.host = host
        self.port = port
        self.listener = listener
        self.agent = agent
        self.expectedAuthorization = expectedAuthorization
        self.limits = limits
        self.counter = counter
    }

    /// How many connections are open now.
    public var openConnections: Int { counter.count }

    /// Binds the mbus URL's host and port (port 0 picks a free one) with TLS from `certificate`.
    ///
    /// Refuses an mbus URL without a user and password: the agent runs as root and would obey anyone. Without a
    /// certificate a self-signed one is made for the listen address (or loopback when it is unspecified).
    public static func bind(
        agent: Agent, mbus: MbusURL, certificate: AgentSettings.CertificateKeyPair?,
        limits: AgentServerLimits = AgentServerLimits()
    ) async throws(AgentError) -> AgentServer {
        let expectedAuthorization = try requireCredentials(mbus)
        let context = try makeTLSContext(certificate: certificate, host: mbus.host)
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: mbus.host.description, port: mbus.port)
        } catch {
            throw AgentError(.server, "cannot listen on \(mbus.host.hostPort(mbus.port)): \(error)")
        }
        let counter = ConnectionCounter(maximum: limits.maximumConnections)
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 64)
                .bind(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard counter.admit(channel) else {
                            channel.close(promise: nil)
                            throw AgentError(.server, "too many connections")
                        }
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(NIOSSLServerHandler(context: context))
                        try pipeline.addHandler(HandshakeDeadline(timeout: limits.handshakeTimeout))
                        try pipeline.configureHTTPServerPipeline()
                        try pipeline.addHandler(
                            ConnectionGuard(
                                expectedAuthorization: expectedAuthorization, idleTimeout: limits.idleTimeout))
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw AgentError(
                .server, "cannot listen on \(mbus.host.hostPort(mbus.port)) (\(mbus.host.family)): \(error)")
        }
        let port = listener.channel.localAddress?.port ?? mbus.port
        return AgentServer(
            host: mbus.host, port: port, listener: listener, agent: agent,
            expectedAuthorization: expectedAuthorization, limits: limits, counter: counter)
    }

    /// The `Authorization` header an mbus URL asks for; refuses one without a user and password.
    public static func requireCredentials(_ mbus: MbusURL) throws(AgentError) -> String {
        guard mbus.hasCredentials, let authorization = mbus.basicAuthorization else {
            throw AgentError(
                .invalidMbusURL,
                "the mbus URL '\(mbus)' has no credentials; the agent refuses to start without them: "
                    + "use https://USER:PASSWORD@\(mbus.host.hostPort(mbus.port))")
        }
        return authorization
    }

    /// Binds using the agent's settings: mbus URL and `env.bosh.mbus.cert`.
    public static func bind(agent: Agent, limits: AgentServerLimits = AgentServerLimits()) async throws(AgentError)
        -> AgentServer
    {
        let settings = await agent.settings
        return try await bind(
            agent: agent, mbus: settings.mbus, certificate: settings.mbusCertificate, limits: limits)
    }

    /// Serves connections until `close()` is called.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    /// Stops accepting connections; `run()` then returns.
    public func close() async {
        try? await listener.channel.close()
    }

    static func makeTLSContext(certificate: AgentSettings.CertificateKeyPair?, host: IPAddress) throws(AgentError)
        -> NIOSSLContext
    {
        var pair = certificate
        if pair?.certificate?.isEmpty ?? true || pair?.privateKey?.isEmpty ?? true {
            var addresses: [IPAddress] = []
            if host.bits != 0 { addresses.append(host) }
            addresses += [.v6(IPv6Address(bits: 1)), .v4(IPv4Address(bits: 0x7f00_0001))]
            pair = try MbusCertificates.selfSigned(ipAddresses: addresses)
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array((pair?.certificate ?? "").utf8))
            let key = try NIOSSLPrivateKey(bytes: Array((pair?.privateKey ?? "").utf8), format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            // A closing connection waits this long for the peer's close_notify, not NIOSSL's default 5 s.
            configuration.shutdownTimeout = .seconds(1)
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw AgentError(.invalidCertificate, "env.bosh.mbus.cert: cannot use the certificate and key: \(error)")
        }
    }

    // MARK: connections

    struct Reply {
        var status: HTTPResponseStatus
        var body: ByteBuffer = ByteBuffer()
        var contentType = "application/json"
        /// A file to send as the body instead of `body` (blob downloads), in chunks.
        var file: String?
    }

    private func serve(_ connection: Connection) async {
        var upload: BlobUpload?
        defer { upload?.abort() }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body.clear()
                        tooLarge = false
                        upload = startUpload(requestHead)
                    case .body(let chunk):
                        if let upload {
                            upload.write(chunk.readableBytesView)
                        } else if body.readableBytes + chunk.readableBytes > limits.maximumMessage {
                            tooLarge = true
                        } else {
                            body.writeImmutableBuffer(chunk)
                        }
                    case .end:
                        guard let request = head else { continue }
                        let reply: Reply
                        if let finished = upload {
                            upload = nil
                            reply = Self.commit(finished)
                        } else if !authorized(request) {
                            reply = Reply(
                                status: .unauthorized, body: ByteBuffer(string: "Unauthorized\n"),
                                contentType: "text/plain")
                        } else if tooLarge {
                            reply = Reply(
                                status: .payloadTooLarge, body: ByteBuffer(string: "request body too large\n"))
                        } else {
                            reply = await respond(to: request, body: body)
                        }
                        try await send(reply, for: request, to: outbound)
                        head = nil
                        body = ByteBuffer()
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            // A client that goes away or fails the TLS handshake ends only its own connection.
        }
    }

    /// A blob PUT with good credentials and a valid id is written to disk as it arrives.
    private func startUpload(_ request: HTTPRequestHead) -> BlobUpload? {
        guard request.method == .PUT, request.uri.hasPrefix("/blobs/"), authorized(request) else { return nil }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let id = String(path.split(separator: "/").last ?? "")
        guard LocalBlobstore.isValidID(id) else { return nil }
        return try? agent.blobstore.beginUpload(id)
    }

    private static func commit(_ upload: BlobUpload) -> Reply {
        do {
            try upload.commit()
            return Reply(status: .created)
        } catch {
            return Reply(
                status: .internalServerError, body: ByteBuffer(string: "\(error)\n"), contentType: "text/plain")
        }
    }

    private func send(
        _ reply: Reply, for request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        var fileHandle: FileHandle?
        defer { try? fileHandle?.close() }
        if let file = reply.file, let handle = FileHandle(forReadingAtPath: file) {
            fileHandle = handle
            let size = (try? handle.seekToEnd()) ?? 0
            try? handle.seek(toOffset: 0)
            headers.add(name: "Content-Length", value: String(size))
        } else {
            headers.add(name: "Content-Length", value: String(reply.body.readableBytes))
        }
        if reply.status == .unauthorized {
            headers.add(name: "WWW-Authenticate", value: "Basic realm=\"\"")
        }
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        try await outbound.write(
            .head(HTTPResponseHead(version: request.version, status: reply.status, headers: headers)))
        if let handle = fileHandle {
            if request.method != .HEAD {
                while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                }
            }
        } else if reply.body.readableBytes > 0 {
            try await outbound.write(.body(.byteBuffer(reply.body)))
        }
        try await outbound.write(.end(nil))
    }

    /// The connection guard already answered 401 to anyone else; this is a second check before acting.
    private func authorized(_ request: HTTPRequestHead) -> Bool {
        ConnectionGuard.matches(request.headers.first(name: "Authorization"), expectedAuthorization)
    }

    private func respond(to request: HTTPRequestHead, body: ByteBuffer) async -> Reply {
        guard authorized(request) else {
            return Reply(status: .unauthorized, body: ByteBuffer(string: "Unauthorized\n"), contentType: "text/plain")
        }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        if path == "/agent" {
            guard request.method == .POST else { return Reply(status: .methodNotAllowed) }
            return await agentReply(body: body)
        }
        if path.hasPrefix("/blobs/") {
            let id = String(path.split(separator: "/").last ?? "")
            return blobReply(method: request.method, id: id, body: body)
        }
        return Reply(status: .notFound, body: ByteBuffer(string: "Not Found\n"), contentType: "text/plain")
    }

    private func agentReply(body: ByteBuffer) async -> Reply {
        let response: AgentResponse
        do {
            let request = try JSONDecoder().decode(AgentRequest.self, from: Data(body.readableBytesView))
            response = await agent.handle(request)
        } catch let error as DecodingError {
            response = .exception("Unmarshalling request: \(JSONValue.describe(error))")
        } catch {
            response = .exception("Unmarshalling request: \(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(response)) ?? Data(#"{"exception":{"message":"encoding failed"}}"#.utf8)
        return Reply(status: .ok, body: ByteBuffer(bytes: data))
    }

    private func blobReply(method: HTTPMethod, id: String, body: ByteBuffer) -> Reply {
        let blobstore = agent.blobstore
        guard LocalBlobstore.isValidID(id) else {
            return Reply(status: .badRequest, body: ByteBuffer(string: "invalid blob id\n"), contentType: "text/plain")
        }
        do {
            switch method {
            case .PUT:
                try blobstore.put(id, data: Data(body.readableBytesView))
                return Reply(status: .created)
            case .GET:
                guard blobstore.contains(id) else { return Reply(status: .notFound) }
                return Reply(status: .ok, contentType: "application/octet-stream", file: try blobstore.path(for: id))
            case .HEAD:
                return Reply(status: blobstore.contains(id) ? .ok : .notFound)
            case .DELETE:
                guard blobstore.contains(id) else { return Reply(status: .notFound) }
                try? FileManager.default.removeItem(atPath: try blobstore.path(for: id))
                return Reply(status: .noContent)
            default:
                return Reply(status: .methodNotAllowed)
            }
        } catch {
            return Reply(
                status: .internalServerError, body: ByteBuffer(string: "\(error)\n"), contentType: "text/plain")
        }
    }
}
