import SkiffCore

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
    /// One line saying what went wrong, without its location.
    public let message: String
    /// Where, in a job's files (`jobs/web/monit:3`), when it is about one.
    public let location: SourceLocation

    /// Creates an error with a message, at `location` when it is about a place in a file.
    public init(_ code: Code, _ message: String, at location: SourceLocation = SourceLocation()) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// `location: message`, or the message alone: what the agent logs and answers.
    public var description: String { location.prefixing(message) }
}
