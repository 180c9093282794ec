import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import Synchronization

/// Bounds on what a client can hold of the agent before (and between) authenticated requests.
public struct AgentServerLimits: Sendable, Hashable {
    /// The most connections open at once; further ones are closed as soon as they are accepted.
    public var maximumConnections: Int
    /// How long a client may take to complete the TLS handshake.
    public var handshakeTimeout: Duration
    /// How long a connection may wait for its next request's headers (after the handshake or the last response).
    public var idleTimeout: Duration
    /// The largest authenticated non-blob request body (agent messages); blob uploads stream to disk instead.
    public var maximumMessage: Int

    /// Creates limits; the defaults suit a deployer talking to one agent.
    public init(
        maximumConnections: Int = 32, handshakeTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30),
        maximumMessage: Int = 64 << 20
    ) {
        self.maximumConnections = maximumConnections
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maximumMessage = maximumMessage
    }
}

/// Counts open connections against ``AgentServerLimits/maximumConnections``.
final class ConnectionCounter: Sendable {
    private let open = Mutex(0)
    let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a slot for `channel` (given back when it closes), or returns false when all are taken.
    func admit(_ channel: any Channel) -> Bool {
        let admitted = open.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in self.open.withLock { $0 -= 1 } }
        }
        return admitted
    }

    /// How many connections are open.
    var count: Int { open.withLock { $0 } }
}

/// Closes a connection whose TLS handshake has not completed within the handshake timeout.
///
/// Sits after the TLS handler, which announces the completed handshake as a user event.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: Duration
    private var deadline: Scheduled<Void>?

    init(timeout: Duration) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout.timeAmount) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Guards an HTTP connection before anything reaches the agent: checks the credentials from the request headers
/// (answering 401 and closing without reading the body), and closes a connection that waits too long for its next
/// request's headers.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let expectedAuthorization: String
    private let idleTimeout: Duration
    private var idle: Scheduled<Void>?
    private var rejected = false

    init(expectedAuthorization: String, idleTimeout: Duration) {
        self.expectedAuthorization = expectedAuthorization
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { armIdleDeadline(context) }

    func handlerRemoved(context: ChannelHandlerContext) { cancelIdleDeadline() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            cancelIdleDeadline()
            guard Self.matches(head.headers.first(name: "Authorization"), expectedAuthorization) else {
                reject(head, context: context)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { armIdleDeadline(context) }
        context.write(data, promise: promise)
    }

    /// Answers 401 at once and closes: the body, however large, is never read.
    private func reject(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        rejected = true
        let body = context.channel.allocator.buffer(string: "Unauthorized\n")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "WWW-Authenticate", value: "Basic realm=\"\"")
        headers.add(name: "Connection", value: "close")
        let response = HTTPResponseHead(version: head.version, status: .unauthorized, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    private func armIdleDeadline(_ context: ChannelHandlerContext) {
        cancelIdleDeadline()
        let channel = context.channel
        idle = context.eventLoop.scheduleTask(in: idleTimeout.timeAmount) {
            channel.close(promise: nil)
        }
    }

    private func cancelIdleDeadline() {
        idle?.cancel()
        idle = nil
    }

    /// Compares in time independent of where the values differ.
    static func matches(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension Duration {
    /// The duration as NIO's `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
