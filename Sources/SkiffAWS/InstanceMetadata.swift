import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// Instance-role credentials from the EC2 instance metadata service, IMDSv2 only, as the AWS SDKs fetch them:
/// `PUT /latest/api/token`, then the role name from `GET /latest/meta-data/iam/security-credentials/`, then the
/// credentials JSON of that role. Fetched at the first EC2 call and again five minutes before they expire.
///
/// The endpoint is `AWS_EC2_METADATA_SERVICE_ENDPOINT`, the profile's `ec2_metadata_service_endpoint`, or
/// `http://169.254.169.254` (`http://[fd00:ec2::254]` with `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`). Each
/// request has `AWS_METADATA_SERVICE_TIMEOUT` seconds (default 1) and `AWS_METADATA_SERVICE_NUM_ATTEMPTS` tries
/// (default 1), so a machine that is not on EC2 learns it within a second or two.
public final class InstanceMetadataCredentials: Sendable, CustomStringConvertible {
    /// The metadata service, e.g. `http://169.254.169.254/`.
    public let endpoint: EC2Endpoint
    /// The timeout of one request.
    public let timeout: Duration
    /// Tries per request.
    public let attempts: Int
    /// What the caller failed to find before falling back to the instance role, for the error line.
    let fallbackHint: String
    private let cache = Mutex<AWSCredentials?>(nil)
    private let http: HTTPClient

    /// Creates the provider.
    public init(
        endpoint: EC2Endpoint, timeout: Duration = .seconds(1), attempts: Int = 1, fallbackHint: String = "",
        httpClient: HTTPClient = EC2Client.sharedHTTPClient
    ) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.fallbackHint = fallbackHint
        self.http = httpClient
    }

    /// The provider the environment asks for, or nil when `AWS_EC2_METADATA_DISABLED=true`.
    static func fromEnvironment(
        _ env: (String) -> String?, profileValue: (String) -> String?, fallbackHint: String
    ) throws(AWSConfigurationError) -> InstanceMetadataCredentials? {
        if env("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" { return nil }
        let text: String
        if let configured = env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? profileValue("ec2_metadata_service_endpoint") {
            text = configured
        } else {
            let mode =
                env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") ?? profileValue("ec2_metadata_service_endpoint_mode")
            text = mode?.lowercased() == "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254"
        }
        let endpoint: EC2Endpoint
        do {
            endpoint = try EC2Endpoint(parsing: text)
        } catch {
            throw AWSConfigurationError("AWS_EC2_METADATA_SERVICE_ENDPOINT: \(error)")
        }
        let seconds = env("AWS_METADATA_SERVICE_TIMEOUT").flatMap(Double.init) ?? 1
        let attempts = env("AWS_METADATA_SERVICE_NUM_ATTEMPTS").flatMap(Int.init) ?? 1
        return InstanceMetadataCredentials(
            endpoint: endpoint, timeout: .milliseconds(Int64(max(0.1, min(seconds, 30)) * 1000)), attempts: attempts,
            fallbackHint: fallbackHint)
    }

    /// `instance role from the metadata service at http://…/`.
    public var description: String { "instance role from the metadata service at \(endpoint.url)" }

    /// Valid credentials: the cached ones, or fresh ones when there are none or they expire within five minutes.
    public func current() async throws(AWSConfigurationError) -> AWSCredentials {
        if let cached = cache.withLock({ $0 }), let expiration = cached.expiration,
            expiration.timeIntervalSinceNow > 300
        {
            return cached
        }
        let fresh = try await fetch()
        cache.withLock { $0 = fresh }
        return fresh
    }

    /// Fetches credentials: token, role name, role credentials.
    func fetch() async throws(AWSConfigurationError) -> AWSCredentials {
        do {
            let token = try await request(
                put: true, "latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")])
            let auth = [("X-aws-ec2-metadata-token", token)]
            let roles = try await request(put: false, "latest/meta-data/iam/security-credentials/", headers: auth)
            guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
                throw IMDSFailure("the instance has no IAM role (no instance profile)")
            }
            let body = try await request(put: false, "latest/meta-data/iam/security-credentials/\(role)", headers: auth)
            return try Self.decodeRoleDocument(body, role: role, endpoint: endpoint)
        } catch let failure as IMDSFailure {
            throw AWSConfigurationError(
                "no AWS credentials: \(fallbackHint.isEmpty ? "" : fallbackHint + "; ")the instance metadata service "
                    + "at \(endpoint.url) gave none (\(failure.reason))")
        } catch {
            throw AWSConfigurationError("no AWS credentials from the instance metadata service: \(error)")
        }
    }

    /// Decodes the role credentials document (`Code`, `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
    public static func decodeRoleDocument(
        _ body: String, role: String,
        endpoint: EC2Endpoint = EC2Endpoint(scheme: "http", host: .name("imds"), port: nil)
    ) throws -> AWSCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw IMDSFailure("the credentials of role '\(role)' are not a JSON object")
        }
        if let code = object["Code"] as? String, code != "Success" {
            throw IMDSFailure("role '\(role)' answered Code \(code)")
        }
        guard let key = object["AccessKeyId"] as? String, !key.isEmpty,
            let secret = object["SecretAccessKey"] as? String, !secret.isEmpty
        else {
            throw IMDSFailure("the credentials of role '\(role)' lack AccessKeyId or SecretAccessKey")
        }
        let expiration = (object["Expiration"] as? String).flatMap { try? Date($0, strategy: .iso8601) }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: object["Token"] as? String,
            source: "instance role '\(role)' (metadata service \(endpoint.url))", expiration: expiration)
    }

    private func request(put: Bool, _ path: String, headers: [(String, String)]) async throws -> String {
        let base = endpoint.url.hasSuffix("/") ? endpoint.url : endpoint.url + "/"
        let method = put ? "PUT" : "GET"
        var lastError = ""
        for _ in 0..<attempts {
            var request = HTTPClientRequest(url: base + path)
            request.method = put ? .PUT : .GET
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            do {
                let response = try await http.execute(
                    request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
                let buffer = try await response.body.collect(upTo: 1 << 20)
                let text = String(buffer: buffer)
                switch response.status.code {
                case 200..<300: return text.trimmingCharacters(in: .whitespacesAndNewlines)
                case 404 where path.hasPrefix("latest/meta-data/iam"):
                    throw IMDSFailure("the instance has no IAM role (HTTP 404 for \(path))")
                default: lastError = "HTTP \(response.status.code) for \(method) /\(path)"
                }
            } catch let failure as IMDSFailure {
                throw failure
            } catch {
                lastError = "\(method) /\(path): no answer within \(timeout) (\(Self.brief(error)))"
            }
        }
        throw IMDSFailure(lastError)
    }

    private static func brief(_ error: any Error) -> String {
        let text = EC2Error.oneLine(String(describing: error))
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }
}

/// Why the metadata service gave no credentials.
struct IMDSFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
