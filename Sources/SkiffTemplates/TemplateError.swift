import Foundation
import SkiffCore

/// A failure to load or render a job template, located at `job/templates/src:line` where known.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Equatable {
        /// `p(...)` named a property that is neither set nor defaulted (or not declared in the job spec).
        case unknownProperty = "unknown-property"
        /// The template uses Ruby or ERB syntax that the renderer does not support.
        case unsupportedSyntax = "unsupported-syntax"
        /// The template calls a method the renderer does not support (or that does not exist).
        case unsupportedMethod = "unsupported-method"
        /// The template is malformed (unterminated tag, string or block).
        case syntax = "syntax"
        /// The template failed while running (type mismatch, nil receiver, division by zero, ...).
        case runtime = "runtime"
        /// The template called `raise`.
        case raised = "raised"
        /// The job spec is missing or malformed.
        case invalidSpec = "invalid-spec"
        /// YAML text could not be parsed.
        case invalidYAML = "invalid-yaml"
        /// A job file could not be read or a path is unsafe.
        case io = "io"
    }

    /// What kind of failure this is.
    public var code: Code
    /// The message, in the words of the template author.
    public var message: String
    /// The job name, when known.
    public var job: String?
    /// Where inside the job: the file (e.g. `templates/nginx.conf.erb`, `monit` or `spec`) and the 1-based line,
    /// when known.
    public var location: SourceLocation
    /// The Ruby exception class this failure is, when it came from `raise` or a library (for `rescue`).
    var rubyClass: String?

    /// Creates an error; location fields are usually filled in later by the renderer.
    public init(code: Code, message: String, job: String? = nil, file: String? = nil, line: Int? = nil) {
        self.code = code
        self.message = message
        self.job = job
        self.location = SourceLocation(file: file, line: line)
    }

    /// The location prefix, e.g. `nginx/templates/nginx.conf.erb:12`, or "" when nothing is known.
    public var locationText: String {
        let path = [job, location.file].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
        return SourceLocation(file: path.isEmpty ? nil : path, line: location.line).description
    }

    /// One line: `nginx/templates/nginx.conf.erb:12: unsupported method 'frobnicate' for String`.
    ///
    /// Messages never quote property values (they may be secrets); line breaks in a message (from `raise`) are
    /// shown as `\n` so the error stays on one line.
    public var description: String {
        let location = locationText
        let text = message.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        return location.isEmpty ? text : "\(location): \(text)"
    }

    /// A copy with job and file set (keeping any line already known).
    func located(job: String?, file: String?) -> TemplateError {
        var copy = self
        if copy.job == nil { copy.job = job }
        if copy.location.file == nil { copy.location = SourceLocation(file: file, line: location.line) }
        return copy
    }
}
