/// Where a value came from, in the user's words: a file, a line in it, and a field path inside the document
/// (`instance_groups/0/networks`, `env.bosh.mbus.cert`). Any part may be unknown.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file, as the user named it.
    public var file: String?
    /// The 1-based line in `file`.
    public var line: Int?
    /// The field path inside the document.
    public var field: String?

    /// Creates a location; give what is known.
    public init(file: String? = nil, line: Int? = nil, field: String? = nil) {
        self.file = file
        self.line = line.flatMap { $0 > 0 ? $0 : nil }
        self.field = field.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The same place, one field further in.
    public func appending(field component: String) -> SourceLocation {
        SourceLocation(file: file, line: line, field: field.map { "\($0).\(component)" } ?? component)
    }

    /// `file:line: field`, leaving out what is unknown; empty when nothing is.
    public var description: String {
        var parts: [String] = []
        if let file { parts.append(line.map { "\(file):\($0)" } ?? file) }
        if let field { parts.append(field) }
        return parts.joined(separator: ": ")
    }

    /// `location: message`, or the message alone when the location is empty.
    public func prefixing(_ message: String) -> String {
        let location = description
        return location.isEmpty ? message : "\(location): \(message)"
    }
}
