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
    /// The file the problem is in, as the user named it.
    public var file: String?
    /// The 1-based line in `file`, when known.
    public var line: Int?
    /// The field the problem is in, like `instance_groups[0].networks`, when known.
    public var field: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, file: String? = nil, line: Int? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.field = field
    }

    /// `file:line: field: message`, leaving out the parts that are unknown.
    public var description: String {
        var prefix = ""
        if let file {
            prefix = file
            if let line, line > 0 { prefix += ":\(line)" }
            prefix += ": "
        }
        if let field, !field.isEmpty { prefix += field + ": " }
        return prefix + message
    }

    /// A copy with the location filled in where it is still missing.
    func located(file: String, line: Int?) -> ManifestError {
        var copy = self
        if copy.file == nil {
            copy.file = file
            copy.line = line
        }
        return copy
    }
}
