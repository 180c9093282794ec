import AsyncHTTPClient
import Foundation
import NIOCore

/// How often and how long to retry throttled or failed calls: exponential backoff with full jitter.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in total, the first included.
    public var maxAttempts: Int
    /// The backoff cap of the first retry; it doubles each time.
    public var baseDelay: Duration
    /// The largest backoff cap.
    public var maxDelay: Duration

    /// Creates a policy.
    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The default for EC2: six attempts, backoff from 0.25 s up to 20 s.
    public static let standard = RetryPolicy()

    /// The pause before retry number `retry` (1 is the first retry): uniformly random between half the cap and
    /// the cap, where the cap is `baseDelay * 2^(retry-1)` limited to `maxDelay`.
    public func delay(forRetry retry: Int) -> Duration {
        let base = Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18
        let limit = Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18
        let cap = min(limit, base * pow(2, Double(max(0, retry - 1))))
        let seconds = Double.random(in: (cap / 2)...max(cap / 2, cap))
        return .nanoseconds(Int64(seconds * 1e9))
    }
}

/// One HTTP exchange with EC2, reported to an observer: for counting calls and for debug output.
/// It holds the action and outcome only, never parameters or keys.
public struct EC2CallRecord: Sendable, Hashable {
    /// The action, e.g. `CreateVpc`.
    public let action: String
    /// 1 for the first try, 2 for the first retry, …
    public let attempt: Int
    /// The HTTP status, or nil when the endpoint could not be reached.
    public let status: Int?
    /// The AWS error code of a failed call.
    public let errorCode: String?
    /// How long the exchange took.
    public let duration: Duration
}

/// An EC2 Query API client: signs each call with SigV4, posts it, retries throttling and 5xx answers with
/// jittered backoff, and returns the answer as an ``XMLTree`` or throws ``EC2Error``.
public final class EC2Client: Sendable {
    /// The EC2 API version skiff speaks.
    public static let apiVersion = "2016-11-15"

    /// Keys, region and endpoint.
    public let settings: AWSSettings
    /// Retry behaviour for throttling and 5xx.
    public let retry: RetryPolicy
    /// How long to keep retrying `…NotFound` right after a create (eventual consistency).
    public let consistencyWait: Duration
    /// Timeout of one HTTP exchange.
    public let requestTimeout: Duration
    private let http: HTTPClient
    private let observer: (@Sendable (EC2CallRecord) -> Void)?

    /// Creates a client; `observer` sees every HTTP exchange (action, status, attempt; never keys).
    public init(
        settings: AWSSettings, retry: RetryPolicy = .standard, consistencyWait: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(30), httpClient: HTTPClient = EC2Client.sharedHTTPClient,
        observer: (@Sendable (EC2CallRecord) -> Void)? = nil
    ) {
        self.settings = settings
        self.retry = retry
        self.consistencyWait = consistencyWait
        self.requestTimeout = requestTimeout
        self.http = httpClient
        self.observer = observer
    }

    /// The HTTP client EC2 calls use unless told otherwise: a connection must be up within 3 s and a refused one
    /// fails at once (``call(_:_:)`` decides about retrying), so an endpoint that cannot be reached is reported in
    /// seconds, not minutes.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(3)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// How long transport failures (no connection, no answer) are retried before the call gives up: an endpoint
    /// that cannot be reached fails the call in under 10 s with one line.
    public static let transportRetryWindow: Duration = .seconds(5)

    /// Sends `action` with `parameters`; retries throttling and 5xx answers with backoff, and transport failures
    /// for at most ``transportRetryWindow``.
    @discardableResult
    public func call(_ action: String, _ parameters: EC2Parameters = EC2Parameters()) async throws -> XMLTree {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 1
        while true {
            do {
                return try await send(action, parameters, attempt: attempt)
            } catch let error as EC2Error where error.isRetryable && attempt < retry.maxAttempts {
                try await Task.sleep(for: retry.delay(forRetry: attempt))
            } catch let error as EC2TransportError where attempt < retry.maxAttempts {
                let pause = retry.delay(forRetry: attempt)
                guard clock.now + pause - start < Self.transportRetryWindow else { throw error }
                try await Task.sleep(for: pause)
            }
            attempt += 1
        }
    }

    /// Runs `body` again while it fails with a `…NotFound` code in `codes` (any `…NotFound` when nil), for at
    /// most ``consistencyWait``: the window in which EC2 may not yet show a resource it just created.
    @discardableResult
    public func awaitingConsistency<T: Sendable>(
        codes: Set<String>? = nil, _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: consistencyWait)
        var retry = 1
        while true {
            do {
                return try await body()
            } catch let error as EC2Error where codes.map({ $0.contains(error.code) }) ?? error.isNotFound {
                let pause = self.retry.delay(forRetry: min(retry, 6))
                guard clock.now.advanced(by: pause) < deadline else { throw error }
                try await Task.sleep(for: pause)
                retry += 1
            }
        }
    }

    private func send(_ action: String, _ parameters: EC2Parameters, attempt: Int) async throws -> XMLTree {
        let endpoint = settings.endpoint
        let body = Array(parameters.formBody(action: action).utf8)
        let signer = SigV4Signer(credentials: try await settings.currentCredentials(), region: settings.region)
        let signature = signer.sign(
            path: endpoint.path,
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", endpoint.hostHeader),
            ],
            body: body)
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        for (name, value) in signature.headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "User-Agent", value: "skiff/0.1")
        request.body = .bytes(body)

        let clock = ContinuousClock()
        let start = clock.now
        let status: Int
        let answer: [UInt8]
        do {
            let response = try await http.execute(
                request, timeout: .nanoseconds(Int64(requestTimeout / .nanoseconds(1))))
            var buffer = try await response.body.collect(upTo: 64 << 20)
            answer = buffer.readBytes(length: buffer.readableBytes) ?? []
            status = Int(response.status.code)
        } catch {
            observer?(
                EC2CallRecord(
                    action: action, attempt: attempt, status: nil, errorCode: nil, duration: clock.now - start))
            throw EC2TransportError(action: action, endpoint: endpoint.url, reason: Self.describe(error))
        }
        if (200..<300).contains(status), let tree = XMLTree.parse(answer) {
            observer?(
                EC2CallRecord(
                    action: action, attempt: attempt, status: status, errorCode: nil, duration: clock.now - start))
            return tree
        }
        let error = EC2Error.decode(status: status, body: answer, action: action)
        observer?(
            EC2CallRecord(
                action: action, attempt: attempt, status: status, errorCode: error.code, duration: clock.now - start))
        throw error
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return EC2Error.oneLine(text.count > 200 ? String(text.prefix(200)) + "…" : text)
    }
}
