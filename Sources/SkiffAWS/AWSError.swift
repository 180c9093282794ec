import Foundation

/// An error answered by EC2 (or an EC2 emulator): the AWS error code, its message and the request id.
///
/// The description is one line in the user's vocabulary; it never holds credentials, because neither the
/// request parameters nor the signature are part of it.
public struct EC2Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// The AWS error code, e.g. `InvalidVpcID.NotFound`, `RequestLimitExceeded`, `AuthFailure`.
    public let code: String
    /// The message EC2 sent with the code.
    public let message: String
    /// The request id EC2 assigned, when the body carried one.
    public let requestID: String?
    /// The HTTP status of the answer.
    public let status: Int
    /// The EC2 action that failed, e.g. `CreateVpc`.
    public let action: String

    /// Creates an error value.
    public init(code: String, message: String, requestID: String?, status: Int, action: String) {
        self.code = code
        self.message = message
        self.requestID = requestID
        self.status = status
        self.action = action
    }

    /// `EC2 CreateVpc failed: AuthFailure (HTTP 401): message [request id …]`.
    public var description: String {
        var text = "EC2 \(action) failed: \(code) (HTTP \(status))"
        if !message.isEmpty { text += ": \(Self.oneLine(message))" }
        if let requestID, !requestID.isEmpty { text += " [request id \(requestID)]" }
        return text
    }

    /// True for codes and statuses worth another try after a pause: throttling and server-side failures.
    public var isRetryable: Bool {
        if Self.throttlingCodes.contains(code) { return true }
        if Self.transientCodes.contains(code) { return true }
        return [500, 502, 503, 504].contains(status)
    }

    /// True for throttling answers.
    public var isThrottling: Bool { Self.throttlingCodes.contains(code) }

    /// True for `…NotFound` codes: the resource is unknown (just created and not yet visible, or gone).
    public var isNotFound: Bool { code.hasSuffix(".NotFound") || code.hasSuffix("NotFound") }

    /// Codes AWS uses when the caller sends too many requests.
    public static let throttlingCodes: Set<String> = [
        "RequestLimitExceeded", "Throttling", "ThrottlingException", "EC2ThrottledException",
        "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
    ]

    /// Codes for transient server-side trouble.
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "InternalError", "InternalFailure",
        "ServiceUnavailable",
    ]

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// A failure to reach EC2 at all: connection refused, TLS failure, timeout.
public struct EC2TransportError: Error, Sendable, CustomStringConvertible {
    /// The EC2 action that was being sent.
    public let action: String
    /// The endpoint, as the user configured it.
    public let endpoint: String
    /// What went wrong, from the HTTP client.
    public let reason: String

    /// Creates the error.
    public init(action: String, endpoint: String, reason: String) {
        self.action = action
        self.endpoint = endpoint
        self.reason = reason
    }

    /// `cannot reach EC2 at http://…: reason (while sending CreateVpc)`.
    public var description: String { "cannot reach EC2 at \(endpoint): \(reason) (while sending \(action))" }
}

/// A problem with the AWS settings: missing credentials or region, an unreadable profile, a bad endpoint.
public struct AWSConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the variable, file or profile involved.
    public let message: String

    /// Creates the error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
