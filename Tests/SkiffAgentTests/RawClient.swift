import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SkiffNet

/// A client below HTTP for tests of what the agent does to clients that misbehave: bare TCP, TLS without a
/// request, headers without their body.
struct RawClient {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Connects to `host:port`, with TLS (any server certificate) when `tls` is true.
    static func connect(host: IPAddress, port: Int, tls: Bool) async throws -> Channel {
        let context = try NIOSSLContext(
            configuration: {
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.certificateVerification = .none
                return configuration
            }())
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host.description, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Reads until the server closes the connection or `timeout` passes; returns what arrived and whether it closed.
    static func readUntilClosed(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, timeout: Duration
    ) async -> (text: String, closed: Bool) {
        await withTaskGroup(of: (String, Bool)?.self) { group in
            group.addTask {
                var text = ""
                do {
                    for try await buffer in inbound { text += String(buffer: buffer) }
                } catch {
                    // A reset counts as closed.
                }
                return (text, true)
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? ("", false)
        }
    }

    /// `PUT /blobs/ID` headers announcing `length` bytes, with `authorization` if given.
    static func uploadHead(id: String, length: Int, authorization: String? = nil) -> ByteBuffer {
        var text = "PUT /blobs/\(id) HTTP/1.1\r\nHost: agent\r\nContent-Type: application/octet-stream\r\n"
        text += "Content-Length: \(length)\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        return ByteBuffer(string: text + "\r\n")
    }
}
