import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SkiffCore
import SkiffNet

/// A failure talking to an agent, as a value: what was tried and why it did not work. Never holds the password.
public struct AgentClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// No TCP connection (refused, timed out, no route).
        case unreachable
        /// The TLS handshake failed (certificate not trusted, wrong name).
        case tls
        /// The agent answered 401.
        case unauthorized
        /// The agent answered another non-success status.
        case badStatus
        /// The agent answered `{"exception": …}`.
        case agentException
        /// An asynchronous task failed.
        case taskFailed
        /// The answer was not what the protocol says.
        case invalidResponse
        /// The agent did not become ready in time.
        case timeout
        /// Bad client configuration (CA certificate).
        case configuration
    }

    /// The kind of failure.
    public let code: Code
    /// The agent method or blob operation involved, if any.
    public let method: String?
    /// One line in the user's words.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, method: String? = nil, _ message: String) {
        self.code = code
        self.method = method
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// Whether the agent answered `unknown message …` (an older agent lacking the method).
    public var isUnknownMessage: Bool { code == .agentException && message.contains("unknown message") }
}

/// The agent's view of itself from `get_state`.
public struct AgentState: Sendable, Hashable {
    /// One supervised process.
    public struct Process: Sendable, Hashable {
        /// The process name.
        public var name: String
        /// Its state, `running` when healthy.
        public var state: String

        /// Creates a process entry.
        public init(name: String, state: String) {
            self.name = name
            self.state = state
        }
    }

    /// `running`, `failing`, `starting`, `stopped`, …
    public var jobState: String
    /// The agent's id.
    public var agentID: String?
    /// The supervised processes.
    public var processes: [Process]
    /// Networks by name, with the addresses the VM has.
    public var networks: [String: JSONValue]
    /// The whole answer.
    public var raw: JSONValue

    /// Reads a `get_state` value; it must have `job_state`.
    public init(_ value: JSONValue) throws(AgentClientError) {
        guard let jobState = value["job_state"]?.stringValue else {
            throw AgentClientError(.invalidResponse, method: "get_state", "get_state answer has no job_state: \(value)")
        }
        self.jobState = jobState
        agentID = value["agent_id"]?.stringValue
        processes = (value["processes"]?.arrayValue ?? []).compactMap { entry in
            guard let name = entry["name"]?.stringValue else { return nil }
            return Process(name: name, state: entry["state"]?.stringValue ?? "unknown")
        }
        networks = value["networks"]?.objectValue ?? [:]
        raw = value
    }
}

/// Talks to a bosh-agent (or `skiff agent`) over the HTTPS mbus, as the bosh CLI's create-env does.
public final class AgentClient: Sendable {
    /// How the agent's certificate is checked.
    public enum TLSVerification: Sendable, Hashable {
        /// Verify the chain against this CA (PEM) and the address against the certificate's IP SANs.
        case verify(caPEM: String)
        /// Accept any certificate: only when the manifest gives no `cloud_provider.cert.ca`, as bosh does.
        case skip

        /// bosh's rule for `cloud_provider.cert.ca`: verify against it when given, skip when absent or empty.
        public static func fromManifestCA(_ caPEM: String?) -> TLSVerification {
            guard let caPEM, !caPEM.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return .skip }
            return .verify(caPEM: caPEM)
        }
    }

    /// How to reach the agent.
    public struct Configuration: Sendable {
        /// The mbus URL with user and password.
        public var mbus: MbusURL
        /// How the agent's certificate is checked.
        public var verification: TLSVerification
        /// `reply_to` in requests (bosh sends the state's director id).
        public var replyTo: String
        /// The longest delay between `get_task` polls (the first polls come sooner).
        public var pollInterval: Duration
        /// `get_task` failures tolerated in a row while polling.
        public var toleratedPollErrors: Int
        /// TCP connect timeout.
        public var connectTimeout: Duration
        /// Longest wait for one HTTP answer.
        public var requestTimeout: Duration

        /// Creates a configuration with bosh's defaults (1 s polls, 10 tolerated errors, 30 s connect).
        public init(
            mbus: MbusURL, verification: TLSVerification, replyTo: String = "skiff",
            pollInterval: Duration = .seconds(1), toleratedPollErrors: Int = 10,
            connectTimeout: Duration = .seconds(30),
            requestTimeout: Duration = .seconds(300)
        ) {
            self.mbus = mbus
            self.verification = verification
            self.replyTo = replyTo
            self.pollInterval = pollInterval
            self.toleratedPollErrors = toleratedPollErrors
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
        }

        /// Creates a configuration from the manifest's `cloud_provider.cert.ca` (nil or empty skips verification).
        public init(
            mbus: MbusURL, caPEM: String?, replyTo: String = "skiff", pollInterval: Duration = .seconds(1),
            toleratedPollErrors: Int = 10, connectTimeout: Duration = .seconds(30),
            requestTimeout: Duration = .seconds(300)
        ) {
            self.init(
                mbus: mbus, verification: .fromManifestCA(caPEM), replyTo: replyTo, pollInterval: pollInterval,
                toleratedPollErrors: toleratedPollErrors, connectTimeout: connectTimeout,
                requestTimeout: requestTimeout)
        }
    }

    /// The configuration in use.
    public let configuration: Configuration
    private let http: HTTPClient

    /// Creates a client; call `shutdown()` when done.
    public init(configuration: Configuration) throws(AgentClientError) {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch configuration.verification {
        case .verify(let ca):
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            } catch {
                throw AgentClientError(.configuration, "the mbus CA certificate is not valid PEM: \(error)")
            }
            tls.certificateVerification = .fullVerification
        case .skip:
            tls.certificateVerification = .none
        }
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls,
            timeout: .init(
                connect: configuration.connectTimeout.timeAmount, read: configuration.requestTimeout.timeAmount)
        )
        http.httpVersion = .http1Only
        http.connectionPool = .init(idleTimeout: .seconds(5))
        // One connection attempt per request, as the Go client makes; callers retry (waitUntilReady, get_task).
        http.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: http)
    }

    /// Closes connections; the client cannot be used afterwards.
    public func shutdown() async {
        try? await http.shutdown()
    }

    private var target: String {
        "the agent at \(configuration.mbus.host.hostPort(configuration.mbus.port)) (\(configuration.mbus.host.family))"
    }

    // MARK: transport

    private func perform(
        _ method: HTTPMethod, path: String, body: ByteBuffer?, what: String, contentType: String? = nil
    ) async throws(AgentClientError) -> (HTTPResponseStatus, ByteBuffer) {
        var request = HTTPClientRequest(url: configuration.mbus.baseURL + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let authorization = configuration.mbus.basicAuthorization {
            request.headers.add(name: "Authorization", value: authorization)
        }
        if let body { request.body = .bytes(body) }
        do {
            let response = try await http.execute(request, timeout: configuration.requestTimeout.timeAmount)
            let bytes = try await response.body.collect(upTo: 1 << 30)
            if response.status == .unauthorized {
                throw AgentClientError(
                    .unauthorized, method: what,
                    "\(target) refused the mbus credentials for '\(what)' (401 Unauthorized)")
            }
            return (response.status, bytes)
        } catch let error as AgentClientError {
            throw error
        } catch {
            throw classify(error, what: what)
        }
    }

    private func classify(_ error: any Error, what: String) -> AgentClientError {
        let typeName = String(describing: type(of: error))
        if typeName.contains("SSL") || "\(error)".contains("certificate") {
            return AgentClientError(.tls, method: what, "TLS handshake with \(target) failed: \(error)")
        }
        var cause = "\(error)"
        if let io = error as? IOError {
            cause = String(cString: strerror(io.errnoCode)).lowercased()
        } else if let connection = error as? NIOConnectionError,
            let first = connection.connectionErrors.first?.error as? IOError
        {
            cause = String(cString: strerror(first.errnoCode)).lowercased()
        } else if let channel = error as? ChannelError, case .connectTimeout = channel {
            cause = "connection timed out"
        } else if let client = error as? HTTPClientError {
            if client == .connectTimeout { cause = "connection timed out" }
            if client == .deadlineExceeded || client == .readTimeout {
                return AgentClientError(.timeout, method: what, "\(target) did not answer '\(what)' in time")
            }
            if client == .remoteConnectionClosed { cause = "the connection was closed" }
        }
        return AgentClientError(.unreachable, method: what, "cannot reach \(target): \(cause)")
    }

    /// Sends one message and returns its `value` without waiting for tasks.
    public func send(_ method: String, _ arguments: [JSONValue] = []) async throws(AgentClientError) -> JSONValue {
        let request = AgentRequest(method: method, arguments: arguments, replyTo: configuration.replyTo)
        let body: Data
        do {
            body = try JSONEncoder().encode(request)
        } catch {
            throw AgentClientError(.invalidResponse, method: method, "cannot encode '\(method)': \(error)")
        }
        let (status, bytes) = try await perform(
            .POST, path: "/agent", body: ByteBuffer(bytes: body), what: method, contentType: "application/json")
        guard status == .ok else {
            throw AgentClientError(
                .badStatus, method: method,
                "Sending '\(method)' to the agent: Agent responded with non-successful status code: \(status.code)")
        }
        let response: AgentResponse
        do {
            response = try JSONDecoder().decode(AgentResponse.self, from: Data(bytes.readableBytesView))
        } catch {
            throw AgentClientError(
                .invalidResponse, method: method, "Sending '\(method)' to the agent: the answer is not JSON")
        }
        switch response {
        case .value(let value): return value
        case .exception(let message):
            throw AgentClientError(
                .agentException, method: method,
                "Sending '\(method)' to the agent: Agent responded with error: \(message)")
        }
    }

    /// Sends a message and, when it starts a task, polls `get_task` until the task ends.
    public func call(_ method: String, _ arguments: [JSONValue] = []) async throws(AgentClientError) -> JSONValue {
        let value = try await send(method, arguments)
        return try await waitForTask(value, method: method)
    }

    /// Polls `get_task` while `value` is a running task, every `pollInterval`, tolerating transient failures.
    public func waitForTask(_ value: JSONValue, method: String) async throws(AgentClientError) -> JSONValue {
        guard let id = value["agent_task_id"]?.stringValue, value["state"]?.stringValue == "running" else {
            return value
        }
        var failures = 0
        // Short tasks finish in milliseconds: poll after 10 ms, doubling up to `pollInterval` (bosh polls every 1 s).
        var delay = min(Duration.milliseconds(10), configuration.pollInterval)
        while true {
            do {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.pollInterval)
            } catch {
                throw AgentClientError(.timeout, method: method, "waiting for '\(method)' was cancelled")
            }
            do {
                let answer = try await send("get_task", [.string(id)])
                failures = 0
                if answer["agent_task_id"]?.stringValue == id, answer["state"]?.stringValue == "running" { continue }
                return answer
            } catch let error where error.code == .agentException {
                throw AgentClientError(.taskFailed, method: method, "'\(method)' failed on the agent: \(error.message)")
            } catch {
                failures += 1
                if failures > configuration.toleratedPollErrors { throw error }
            }
        }
    }

    // MARK: messages create-env sends

    /// `ping` once; the agent answers `pong`.
    public func ping() async throws(AgentClientError) -> String {
        let value = try await send("ping")
        return value.stringValue ?? "\(value)"
    }

    /// Pings until the agent answers or `timeout` passes; TLS and credential failures are not retried.
    public func waitUntilReady(timeout: Duration = .seconds(600), delay: Duration = .milliseconds(500))
        async throws(AgentClientError)
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError = AgentClientError(.timeout, "\(target) did not answer")
        while true {
            do {
                _ = try await ping()
                return
            } catch let error where error.code == .tls || error.code == .unauthorized {
                throw error
            } catch {
                lastError = error
            }
            if clock.now + delay >= deadline { break }
            do { try await Task.sleep(for: delay) } catch { break }
        }
        throw AgentClientError(
            lastError.code == .unreachable ? .unreachable : .timeout, method: "ping",
            "gave up waiting for the agent after \(timeout.components.seconds) s: \(lastError.message)")
    }

    /// `get_state`, retried up to 11 attempts as bosh does.
    public func getState(full: Bool = false) async throws(AgentClientError) -> AgentState {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try AgentState(try await send("get_state", full ? ["full"] : []))
            } catch {
                if attempt >= 11 || error.code == .tls || error.code == .unauthorized { throw error }
                try? await Task.sleep(for: configuration.pollInterval)
            }
        }
    }

    /// `apply` a spec and wait; returns the task's result (`"applied"` from bosh-agent and skiff's agent).
    @discardableResult
    public func apply(_ spec: ApplySpec) async throws(AgentClientError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue(encoding: spec)
        } catch {
            throw AgentClientError(.invalidResponse, method: "apply", "cannot encode the apply spec: \(error)")
        }
        return try await call("apply", [value])
    }

    /// `start`; the agent must answer `started`.
    public func start() async throws(AgentClientError) {
        let value = try await call("start")
        guard value.stringValue == "started" else {
            throw AgentClientError(
                .invalidResponse, method: "start", "Failed to start agent services with response: '\(value)'")
        }
    }

    /// `stop` and wait for the jobs to be stopped.
    public func stop() async throws(AgentClientError) {
        _ = try await call("stop")
    }

    /// One `drain` call of `type` (`shutdown`, `update`, `status`); the answer is seconds.
    public func drain(type: String) async throws(AgentClientError) -> Int {
        let value = try await call("drain", [.string(type), .object([:])])
        guard let seconds = value.intValue else {
            throw AgentClientError(.invalidResponse, method: "drain", "drain answered '\(value)', not a number")
        }
        return seconds
    }

    /// Drains as the CLI does: `shutdown`, then while the answer is negative sleep |n| and ask `status`.
    public func drain() async throws(AgentClientError) {
        var seconds = try await drain(type: "shutdown")
        while seconds < 0 {
            try? await Task.sleep(for: .seconds(-seconds))
            seconds = try await drain(type: "status")
        }
        if seconds > 0 { try? await Task.sleep(for: .seconds(seconds)) }
    }

    /// `run_script NAME` (pre-start, post-start, pre-stop, post-stop); an agent without the method is tolerated.
    public func runScript(_ name: String) async throws(AgentClientError) {
        do {
            _ = try await call("run_script", [.string(name), .object([:])])
        } catch let error where error.isUnknownMessage {
            return
        }
    }

    /// `compile_package`: compiles an uploaded source blob; returns the compiled blob.
    public func compilePackage(
        blobstoreID: String, sha1: String, name: String, version: String,
        dependencies: [String: ApplySpec.BlobRef] = [:]
    ) async throws(AgentClientError) -> CompiledPackage {
        let deps: JSONValue
        do {
            deps = try JSONValue(encoding: dependencies)
        } catch {
            throw AgentClientError(.invalidResponse, method: "compile_package", "cannot encode dependencies: \(error)")
        }
        let value = try await call(
            "compile_package", [.string(blobstoreID), .string(sha1), .string(name), .string(version), deps])
        guard let id = value["result"]?["blobstore_id"]?.stringValue, let digest = value["result"]?["sha1"]?.stringValue
        else {
            throw AgentClientError(
                .invalidResponse, method: "compile_package", "compile_package answered '\(value)' without a result")
        }
        return CompiledPackage(blobstoreID: id, sha1: digest)
    }

    /// `add_persistent_disk CID HINT`; an agent without the method is tolerated.
    public func addPersistentDisk(cid: String, hint: JSONValue) async throws(AgentClientError) {
        do {
            _ = try await call("add_persistent_disk", [.string(cid), hint])
        } catch let error where error.isUnknownMessage {
            return
        }
    }

    /// `remove_persistent_disk CID`; an agent without the method is tolerated.
    public func removePersistentDisk(cid: String) async throws(AgentClientError) {
        do {
            _ = try await call("remove_persistent_disk", [.string(cid)])
        } catch let error where error.isUnknownMessage {
            return
        }
    }

    /// `mount_disk CID`.
    public func mountDisk(cid: String) async throws(AgentClientError) {
        _ = try await call("mount_disk", [.string(cid)])
    }

    /// `unmount_disk CID`.
    public func unmountDisk(cid: String) async throws(AgentClientError) {
        _ = try await call("unmount_disk", [.string(cid)])
    }

    /// `list_disk`: the CIDs of mounted persistent disks.
    public func listDisk() async throws(AgentClientError) -> [String] {
        let value = try await call("list_disk")
        guard let list = value.arrayValue else {
            throw AgentClientError(.invalidResponse, method: "list_disk", "list_disk answered '\(value)', not a list")
        }
        return list.compactMap(\.stringValue)
    }

    /// `migrate_disk`.
    public func migrateDisk() async throws(AgentClientError) {
        _ = try await call("migrate_disk")
    }

    /// `get_task ID` once.
    public func getTask(_ id: String) async throws(AgentClientError) -> JSONValue {
        try await send("get_task", [.string(id)])
    }

    // MARK: blobstore

    /// The mbus path of a blob: `/blobs/XX/ID`, XX the first byte of SHA-1(ID) in hex (davcli layout).
    public static func blobPath(_ id: String) -> String {
        let first: UInt8 = Array(Insecure.SHA1.hash(data: Data(id.utf8))).first ?? 0
        return "/blobs/\(Hex.string([first]))/\(id)"
    }

    /// Uploads bytes as blob `id`.
    public func uploadBlob(id: String, data: Data) async throws(AgentClientError) {
        let (status, _) = try await perform(
            .PUT, path: Self.blobPath(id), body: ByteBuffer(bytes: data), what: "blob upload",
            contentType: "application/octet-stream")
        guard status == .created || status == .noContent || status == .ok else {
            throw AgentClientError(
                .badStatus, method: "blob upload", "uploading blob '\(id)' to \(target): status \(status.code)")
        }
    }

    /// Uploads a file under a new UUID; returns the id and its `sha256:HEX` digest, as the CLI does.
    public func uploadBlob(file: String) async throws(AgentClientError) -> (id: String, digest: String) {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw AgentClientError(.configuration, method: "blob upload", "cannot read '\(file)' to upload it")
        }
        let id = UUID().uuidString.lowercased()
        try await uploadBlob(id: id, data: data)
        let hex = Hex.string(SHA256.hash(data: data))
        return (id, "sha256:\(hex)")
    }

    /// Downloads blob `id`.
    public func downloadBlob(id: String) async throws(AgentClientError) -> Data {
        let (status, bytes) = try await perform(.GET, path: Self.blobPath(id), body: nil, what: "blob download")
        guard status == .ok else {
            throw AgentClientError(
                .badStatus, method: "blob download", "downloading blob '\(id)' from \(target): status \(status.code)")
        }
        return Data(bytes.readableBytesView)
    }
}

extension Duration {
    /// The duration as NIO's `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
