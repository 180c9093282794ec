/// A problem in the agent or while talking to it, in words an operator understands.
public struct AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is, stable enough to test against.
    public enum Code: String, Sendable, Hashable {
        case invalidMbusURL
        case invalidSettings
        case invalidCertificate
        case invalidArguments
        case unknownMethod
        case blobNotFound
        case digestMismatch
        case commandFailed
        case scriptFailed
        case compileFailed
        case applyFailed
        case diskFailed
        case invalidMonit
        case taskNotFound
        case io
        case server
    }

    /// The kind of problem.
    public let code: Code
    /// One line saying what went wrong.
    public let message: String

    /// Creates an error with a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
