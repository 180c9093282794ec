import Foundation
import SkiffNet
import Yams

/// A value visible to a job template: the data model of manifest properties and the spec context.
public enum TemplateValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case hash(TemplateHash)

    /// The value at `key` when this is a hash, otherwise nil.
    public subscript(key: String) -> TemplateValue? {
        if case .hash(let hash) = self { return hash[key] }
        return nil
    }

    /// The value at a dotted path (`a.b.c`) through nested hashes, or nil when any step is missing.
    public func value(atPath path: String) -> TemplateValue? {
        var current = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .hash(let hash) = current, let next = hash[String(part)] else { return nil }
            current = next
        }
        return current
    }

    /// Whether this is `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The string payload when this is a string.
    public var asString: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The hash payload when this is a hash.
    public var asHash: TemplateHash? {
        if case .hash(let hash) = self { return hash }
        return nil
    }

    /// The array payload when this is an array.
    public var asArray: [TemplateValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// Deep-merges `other` into this value: hashes merge key by key (other wins), anything else is replaced.
    public func deepMerged(with other: TemplateValue) -> TemplateValue {
        guard case .hash(var mine) = self, case .hash(let theirs) = other else { return other }
        for (key, value) in theirs {
            if let existing = mine[key] {
                mine[key] = existing.deepMerged(with: value)
            } else {
                mine[key] = value
            }
        }
        return .hash(mine)
    }
}

/// A hash with string keys that keeps insertion order, as Ruby hashes do.
public struct TemplateHash: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    /// An empty hash.
    public init() {}

    /// A hash from pairs in order; a repeated key keeps its first position and its last value.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// A hash from a dictionary literal, in literal order.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// Whether the hash has no entries.
    public var isEmpty: Bool { keys.isEmpty }

    /// The values in key order.
    public var values: [TemplateValue] { keys.compactMap { storage[$0] } }

    /// Reads, inserts (at the end) or replaces an entry; assigning nil removes it.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Iterates `(key, value)` pairs in insertion order.
    public func makeIterator() -> AnyIterator<(key: String, value: TemplateValue)> {
        var index = 0
        let keys = self.keys
        let storage = self.storage
        return AnyIterator {
            while index < keys.count {
                let key = keys[index]
                index += 1
                if let value = storage[key] { return (key, value) }
            }
            return nil
        }
    }

    /// Equal when keys (in order) and values are equal.
    public static func == (lhs: TemplateHash, rhs: TemplateHash) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }

    /// Hashes keys in order and values.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
        hasher.combine(storage)
    }
}

/// Literal syntax for tests and fixed values: `["port": 80, "hosts": ["a", "b"], "tls": nil]`.
extension TemplateValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// Creates the value for a literal.
    public init(nilLiteral: ()) { self = .null }
    /// Creates the value for a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Creates the value for a literal.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// Creates the value for a literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// Creates the value for a literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// Creates the value for a literal.
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    /// Creates the value for a literal.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .hash(TemplateHash(elements)) }
}

// MARK: - Conversions

extension TemplateValue {
    /// Converts a Yams node, keeping mapping order and resolving scalars by the YAML 1.1 core tags.
    public init(node: Node) {
        switch node {
        case .scalar:
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .null
            case .bool: self = node.bool.map(TemplateValue.bool) ?? .string(node.string ?? "")
            case .int:
                if let value = node.int {
                    self = .int(value)
                } else if let value = node.float {
                    self = .double(value)
                } else {
                    self = .string(node.string ?? "")
                }
            case .float: self = node.float.map(TemplateValue.double) ?? .string(node.string ?? "")
            default: self = .string(node.string ?? "")
            }
        case .mapping(let mapping):
            var hash = TemplateHash()
            for (key, value) in mapping {
                hash[TemplateValue(node: key).keyText] = TemplateValue(node: value)
            }
            self = .hash(hash)
        case .sequence(let sequence):
            self = .array(sequence.map { TemplateValue(node: $0) })
        case .alias:
            self = .null
        }
    }

    /// Parses YAML text into a value (an empty document is `.null`).
    public init(yaml text: String) throws(TemplateError) {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                self = .null
                return
            }
            self.init(node: node)
        } catch {
            let (message, line) = yamlProblem(error)
            throw TemplateError(code: .invalidYAML, message: "invalid YAML: \(message)", line: line)
        }
    }

    /// Converts a Foundation-style value (`[String: Any]`, `[Any]`, `String`, `NSNumber`, `NSNull`, ...).
    ///
    /// Dictionary keys are sorted because Foundation dictionaries have no order; prefer `init(node:)`.
    public init(any value: Any?) {
        switch value {
        case nil, is NSNull: self = .null
        case let value as TemplateValue: self = value
        case let number as NSNumber:
            // Foundation (JSONSerialization) numbers: only the boolean type code means a Bool, so 1 stays 1.
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "d", "f": self = .double(number.doubleValue)
            default: self = .int(number.intValue)
            }
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .int(value)
        case let value as Double: self = .double(value)
        case let value as String: self = .string(value)
        case let value as [Any?]: self = .array(value.map { TemplateValue(any: $0) })
        case let value as [String: Any?]:
            self = .hash(TemplateHash(value.keys.sorted().map { ($0, TemplateValue(any: value[$0] ?? nil)) }))
        default: self = .string(String(describing: value ?? ""))
        }
    }

    /// The text used when this value is a hash key coming from YAML.
    var keyText: String {
        switch self {
        case .null: return ""
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .double(let value): return RubyFormat.float(value)
        case .string(let value): return value
        case .array, .hash: return RubyFormat.inspect(RValue(self))
        }
    }
}

extension TemplateValue {
    /// An address as templates see it: its canonical text (RFC 5952 for IPv6).
    public init(_ address: IPAddress) {
        self = .string(address.description)
    }
}

/// A one-line description of a Yams error and the line it points at.
func yamlProblem(_ error: any Error) -> (String, Int?) {
    guard let yamlError = error as? YamlError else {
        return (String(describing: error).split(separator: "\n").first.map(String.init) ?? "unknown error", nil)
    }
    switch yamlError {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
        .composer(let context, let problem, let mark, _):
        let prefix = context.map { "\($0.text) at line \($0.mark.line): " } ?? ""
        return (prefix + problem, mark.line)
    case .duplicatedKeysInMapping(let duplicates, let context):
        return ("duplicate keys \(duplicates.joined(separator: ", "))", context.mark.line)
    default:
        return (String(describing: yamlError).split(separator: "\n").first.map(String.init) ?? "unknown error", nil)
    }
}
