import SkiffCore

/// A problem create-env or delete-env met, in the words of the manifest or release the user wrote.
public struct DeployError: Error, Sendable, CustomStringConvertible {
    /// The kind of problem, stable enough to test against.
    public enum Code: String, Sendable {
        case release
        case manifest
        case stemcell
        case state
        case cloud
        case agent
        case template
        case health
        case interrupted
        case io
    }

    /// The kind of problem.
    public let code: Code
    /// What went wrong, in one line.
    public let message: String
    /// Where: a place in the user's files (`file:line: field`, each part when known), or nowhere.
    public let location: SourceLocation

    /// Creates an error at a place in the user's files (`file:line: field`).
    public init(_ code: Code, _ message: String, at location: SourceLocation) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// Creates an error about `file` (a path or URL as the user wrote it, or a release by name), or about nothing
    /// in particular.
    public init(_ code: Code, _ message: String, at file: String? = nil) {
        self.init(code, message, at: SourceLocation(file: file))
    }

    /// `location: message`, or the message alone.
    public var description: String { location.prefixing(message) }
}
