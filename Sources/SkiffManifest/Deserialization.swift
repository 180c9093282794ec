import Yams

/// bosh's words for an ops file, vars file or vars store of the wrong shape: gopkg.in/yaml.v2's unmarshal errors
/// (`line 1: cannot unmarshal !!map into []patch.OpDefinition`), wrapped in `Deserializing ...` as bosh wraps them.
///
/// These are only worked out once a file is known to be of the wrong shape, from a second read of its text
/// (the value tree does not keep the line of every node).
enum Deserialization {
    /// What a document is decoded into, with the Go type names yaml.v2 prints.
    enum Target {
        /// An ops file: `[]patch.OpDefinition`.
        case opsFile
        /// A vars file or the vars store: `template.StaticVariables` (`map[string]interface{}`).
        case variables
    }

    /// The error for `text` decoded into `target`, or nil when yaml.v2 would decode it without type errors.
    static func error(
        text: String, target: Target, fileName: String, what: String
    ) -> ManifestError? {
        guard let parser = try? Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8),
            let root = try? parser.nextRoot()
        else { return nil }
        let errors = withExtendedLifetime(parser) { unmarshalErrors(root, target: target) }
        guard let first = errors.first else { return nil }
        return ManifestError(
            .wrongShape,
            "Deserializing \(what): yaml: unmarshal errors: " + errors.map(\.text).joined(separator: "; "),
            file: fileName, line: first.line)
    }

    struct TypeError {
        var line: Int
        var text: String
    }

    static func unmarshalErrors(_ root: Node, target: Target) -> [TypeError] {
        var errors: [TypeError] = []
        switch target {
        case .opsFile:
            switch root {
            case .sequence(let items):
                for item in items {
                    switch item {
                    case .mapping(let fields):
                        for (key, value) in fields {
                            guard case .scalar(let name) = key else { continue }
                            switch name.string {
                            case "type", "path", "error":
                                if !isScalar(value) { errors.append(typeError(value, into: "string")) }
                            case "absent":
                                if !isNull(value), !isBool(value) { errors.append(typeError(value, into: "bool")) }
                            default: break
                            }
                        }
                    default:
                        if !isNull(item) { errors.append(typeError(item, into: "patch.OpDefinition")) }
                    }
                }
            default:
                if !isNull(root) { errors.append(typeError(root, into: "[]patch.OpDefinition")) }
            }
        case .variables:
            switch root {
            case .mapping(let entries):
                for (key, _) in entries where !isScalar(key) {
                    errors.append(typeError(key, into: "string"))
                }
            default:
                if !isNull(root) { errors.append(typeError(root, into: "template.StaticVariables")) }
            }
        }
        return errors
    }

    private static func isScalar(_ node: Node) -> Bool {
        if case .scalar = node { return true }
        return false
    }

    private static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return shortTag(scalar) == "!!null"
    }

    private static func isBool(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return shortTag(scalar) == "!!bool"
    }

    /// yaml.v2's `terror`: `line N: cannot unmarshal !!tag `value` into TYPE` (values over 10 bytes cut to 7).
    private static func typeError(_ node: Node, into type: String) -> TypeError {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            let bytes = Array(scalar.string.utf8)
            let shown =
                bytes.count > 10 ? String(decoding: bytes.prefix(7), as: UTF8.self) + "..." : scalar.string
            return TypeError(
                line: line, text: "line \(line): cannot unmarshal \(shortTag(scalar)) `\(shown)` into \(type)")
        case .sequence:
            return TypeError(line: line, text: "line \(line): cannot unmarshal !!seq into \(type)")
        default:
            return TypeError(line: line, text: "line \(line): cannot unmarshal !!map into \(type)")
        }
    }

    /// The tag yaml.v2 resolves a scalar to, in its short form (`!!str`, `!!int`, ...).
    private static func shortTag(_ scalar: Node.Scalar) -> String {
        let tag = scalar.tag.rawValue
        if scalar.style == .plain && (tag.isEmpty || tag == Tag.Name.str.rawValue) {
            if ScalarResolver.isTimestamp(scalar.string) { return "!!timestamp" }
            switch ScalarResolver.resolve(scalar.string) {
            case .null: return "!!null"
            case .bool: return "!!bool"
            case .int: return "!!int"
            case .float: return "!!float"
            default: return "!!str"
            }
        }
        if tag.isEmpty || tag == "!" { return "!!str" }
        let prefix = "tag:yaml.org,2002:"
        return tag.hasPrefix(prefix) ? "!!" + tag.dropFirst(prefix.count) : tag
    }
}
