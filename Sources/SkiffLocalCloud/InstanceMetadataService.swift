import Foundation
import SkiffCloud
import SkiffNet

#if canImport(Glibc)
    import Glibc
#endif

/// What a local VM's instance metadata service serves, as EC2's does: the user data (the agent settings), the
/// instance id and, if there is one, an SSH public key (empty if none).
///
/// The local cloud writes it to the VM's `metadata/` folder (root only, 0600: the user data holds the mbus password)
/// before the VM starts; the VM's metadata server reads it once, as root, and then serves it from memory.
public struct InstanceMetadata: Sendable, Hashable {
    /// EC2's link-local metadata address, which the local cloud gives each VM on its loopback interface.
    public static let address = IPv4Address(169, 254, 169, 254)
    /// The port it listens on.
    public static let port: UInt16 = 80

    /// `/latest/user-data`.
    public var userData: Data
    /// `/latest/meta-data/instance-id`.
    public var instanceID: String
    /// `/latest/meta-data/public-keys/0/openssh-key`, if any.
    public var publicKey: String?

    /// Creates the metadata.
    public init(userData: Data, instanceID: String, publicKey: String? = nil) {
        self.userData = userData
        self.instanceID = instanceID
        self.publicKey = publicKey
    }

    /// Writes the metadata to `directory` (`user-data`, `instance-id`, `public-key`), each file 0600.
    public func write(to directory: String) throws(CloudError) {
        try Files.makeDirectory(directory, mode: 0o700)
        try AtomicFile.write(userData, to: directory + "/user-data", mode: 0o600)
        try AtomicFile.write(Data(instanceID.utf8), to: directory + "/instance-id", mode: 0o600)
        if let publicKey {
            try AtomicFile.write(Data(publicKey.utf8), to: directory + "/public-key", mode: 0o600)
        } else {
            Files.remove(directory + "/public-key")
        }
    }

    /// Reads what ``write(to:)`` wrote; the error names the file.
    public static func read(from directory: String) throws(CloudError) -> InstanceMetadata {
        func contents(_ name: String) -> Data? { FileManager.default.contents(atPath: directory + "/" + name) }
        guard let userData = contents("user-data") else {
            throw CloudError.cloud("instance metadata: cannot read '\(directory)/user-data'")
        }
        guard let instanceID = contents("instance-id") else {
            throw CloudError.cloud("instance metadata: cannot read '\(directory)/instance-id'")
        }
        return InstanceMetadata(
            userData: userData, instanceID: String(decoding: instanceID, as: UTF8.self),
            publicKey: contents("public-key").map { String(decoding: $0, as: UTF8.self) })
    }
}

/// EC2's instance metadata service (IMDSv2) for one local VM: `PUT /latest/api/token` issues a session token for
/// the TTL asked in `X-aws-ec2-metadata-token-ttl-seconds` (1–21600 s), and every `GET` must carry a live one in
/// `X-aws-ec2-metadata-token` (`http_tokens: required`, as bosh-aws-cpi's `metadata_options` can ask): 401 without.
///
/// Requests are answered one at a time, each connection closed after its answer, reads bounded in size and time.
public final class InstanceMetadataServer {
    /// An HTTP answer.
    public struct Response: Sendable, Hashable {
        /// The status code.
        public var status: Int
        /// The body.
        public var body: Data

        var reason: String {
            switch status {
            case 200: "OK"
            case 400: "Bad Request"
            case 401: "Unauthorized"
            case 403: "Forbidden"
            case 404: "Not Found"
            case 405: "Method Not Allowed"
            default: "Error"
            }
        }
    }

    let metadata: InstanceMetadata
    let listener: Int32
    private var tokens: [String: ContinuousClock.Instant] = [:]
    private let clock = ContinuousClock()

    /// Creates a server of `metadata` answering on `listener` (-1: none, for ``respond(method:target:headers:)``).
    public init(metadata: InstanceMetadata, listener: Int32 = -1) {
        self.metadata = metadata
        self.listener = listener
    }

    /// What the local cloud runs in a VM's network namespace: reads the metadata in `directory` as root, listens on
    /// 169.254.169.254:80, writes `server.pid` there (the local cloud waits for it), and then gives up root for
    /// `nobody` (65534) before it answers anything.
    public static func start(directory: String) throws(CloudError) -> InstanceMetadataServer {
        let metadata = try InstanceMetadata.read(from: directory)
        let listener = try listen()
        try Files.write("\(getpid())\n", to: directory + "/server.pid", mode: 0o600)
        guard setgroups(0, nil) == 0, setgid(65534) == 0, setuid(65534) == 0 else {
            throw CloudError.cloud("metadata server: cannot give up root: \(String(cString: strerror(errno)))")
        }
        return InstanceMetadataServer(metadata: metadata, listener: listener)
    }

    /// The answer to one request: `method`, `target` (path and query) and the headers, names in lower case.
    public func respond(method: String, target: String, headers: [String: String]) -> Response {
        let path = String(target.prefix { $0 != "?" })
        func text(_ status: Int, _ body: String) -> Response { Response(status: status, body: Data(body.utf8)) }
        let now = clock.now
        tokens = tokens.filter { $0.value > now }
        if path == "/latest/api/token" {
            guard method == "PUT" else { return text(405, "Method Not Allowed") }
            // EC2 refuses token requests that went through a proxy.
            guard headers["x-forwarded-for"] == nil else { return text(403, "Forbidden") }
            guard let ttl = headers["x-aws-ec2-metadata-token-ttl-seconds"].flatMap({ Int($0) }), (1...21600) ~= ttl
            else { return text(400, "Bad Request") }
            var bytes = [UInt8](repeating: 0, count: 32)
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
            let token = Data(bytes).base64EncodedString()
            tokens[token] = now + .seconds(ttl)
            return text(200, token)
        }
        guard method == "GET" || method == "HEAD" else { return text(405, "Method Not Allowed") }
        guard let token = headers["x-aws-ec2-metadata-token"], tokens[token] != nil else {
            return text(401, "Unauthorized")
        }
        switch path {
        case "/latest/user-data":
            return Response(status: 200, body: metadata.userData)
        case "/latest/meta-data", "/latest/meta-data/":
            return text(200, metadata.publicKey == nil ? "instance-id" : "instance-id\npublic-keys/")
        case "/latest/meta-data/instance-id":
            return text(200, metadata.instanceID)
        case "/latest/meta-data/public-keys", "/latest/meta-data/public-keys/":
            return metadata.publicKey == nil ? text(404, "Not Found") : text(200, "0=skiff")
        case "/latest/meta-data/public-keys/0/openssh-key":
            // EC2 answers 404 for an instance without a key pair, which bosh-agent takes for a failure it retries
            // until its bootstrap fails (bosh-aws-cpi always launches with one); an empty key it accepts and skips.
            return text(200, metadata.publicKey ?? "")
        default:
            return text(404, "Not Found")
        }
    }

    /// Opens the listening socket on ``InstanceMetadata/address`` port 80 in the calling process's network namespace.
    public static func listen() throws(CloudError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CloudError.cloud("metadata server: socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = InstanceMetadata.port.bigEndian
        address.sin_addr.s_addr = InstanceMetadata.address.value.bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CloudError.cloud(
                "metadata server: cannot listen on \(InstanceMetadata.address):\(InstanceMetadata.port): \(reason)")
        }
        return fd
    }

    /// Answers connections until the process ends.
    public func serve() -> Never {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { continue }
            handle(connection)
            close(connection)
        }
    }

    /// Reads one request (headers up to 16 KiB within 2 s, and a body as long as `Content-Length`, up to 64 KiB)
    /// and writes the answer.
    func handle(_ connection: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil, received.count < 16384 {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            received += buffer[0..<count]
            if received.count >= 4 {
                headerEnd = (0...(received.count - 4)).first { received[$0..<$0 + 4].elementsEqual(separator) }
            }
        }
        guard let headerEnd else { return }
        let head = String(decoding: received[0..<headerEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        // Drain a small body so the client sees the answer, not a reset.
        var remaining = min(Int(headers["content-length"] ?? "0") ?? 0, 65536) - (received.count - headerEnd - 4)
        while remaining > 0 {
            let count = read(connection, &buffer, min(buffer.count, remaining))
            guard count > 0 else { break }
            remaining -= count
        }
        let method = String(requestLine[0])
        let response = respond(method: method, target: String(requestLine[1]), headers: headers)
        var answer = Data(
            ("HTTP/1.1 \(response.status) \(response.reason)\r\nContent-Type: text/plain\r\n"
                + "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n").utf8)
        if method != "HEAD" { answer += response.body }
        answer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = write(connection, base.advanced(by: offset), raw.count - offset)
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
