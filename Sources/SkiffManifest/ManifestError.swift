import SkiffCore

/// An error from reading, patching or interpolating a manifest, in bosh's vocabulary, with a location when known.
public struct ManifestError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable {
        /// A file could not be read (missing, unreadable).
        case unreadableFile
        /// YAML syntax error.
        case malformedYAML
        /// A document had the wrong shape (vars file not a map, ops file not a list, ...).
        case wrongShape
        /// A command-line flag value was malformed.
        case invalidFlag
        /// An ops file operation was malformed (missing path/value, unknown type, bad pointer).
        case invalidOperation
        /// An ops file operation failed to apply.
        case operationFailed
        /// `--path` could not be resolved.
        case pathNotFound
        /// Variables were referenced but not provided (with `--var-errs`, or always in create-env).
        case missingVariables
        /// Variables were provided but not used (with `--var-errs-unused`).
        case unusedVariables
        /// A variable had a type that cannot be interpolated where it was used, or its sub-path failed.
        case invalidVariable
        /// A variable could not be generated for the vars store.
        case generationFailed
        /// The vars store could not be read or written.
        case varsStore
    }

    /// What kind of failure this is.
    public var code: Code
    /// The message, without location.
    public var message: String
    /// Where the problem is: the file as the user named it, the 1-based line, and the field (like
    /// `instance_groups[0].networks`), each when known.
    public var location: SourceLocation

    /// Creates an error at `location`.
    public init(_ code: Code, _ message: String, at location: SourceLocation) {
        self.code = code
        self.message = message
        self.location = location
    }

    /// Creates an error; give what is known of its location.
    public init(_ code: Code, _ message: String, file: String? = nil, line: Int? = nil, field: String? = nil) {
        self.init(code, message, at: SourceLocation(file: file, line: line, field: field))
    }

    /// `file:line: field: message`, leaving out the parts that are unknown.
    public var description: String { location.prefixing(message) }

    /// A copy with the file and line filled in where the file is still missing.
    func located(file: String, line: Int?) -> ManifestError {
        guard location.file == nil else { return self }
        var copy = self
        copy.location = SourceLocation(file: file, line: line, field: location.field)
        return copy
    }
}
