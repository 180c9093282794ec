/// One level of a JSON-shaped value: a scalar, or a list or map of children. The common ground of skiff's value
/// models (``JSONValue``, the manifest's values, the templates' values), so that one converter serves them all.
public enum ValueNode<Child> {
    /// `null` / `~`.
    case null
    /// A boolean.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A number with a fraction.
    case double(Double)
    /// A string.
    case string(String)
    /// A list.
    case list([Child])
    /// A map with string keys, in its order.
    case map([(key: String, value: Child)])
}

/// A value model that can be read one level at a time.
public protocol ValueTreeReadable {
    /// This value's top level.
    var valueNode: ValueNode<Self> { get }
}

/// A value model that can be built one level at a time.
public protocol ValueTreeBuildable {
    /// Builds a value from its top level.
    init(valueNode: ValueNode<Self>)
}

extension ValueTreeBuildable {
    /// The one converter between value models: `source` rebuilt level by level, map order kept.
    public init<Source: ValueTreeReadable>(converting source: Source) {
        switch source.valueNode {
        case .null: self.init(valueNode: .null)
        case .bool(let flag): self.init(valueNode: .bool(flag))
        case .int(let number): self.init(valueNode: .int(number))
        case .double(let number): self.init(valueNode: .double(number))
        case .string(let text): self.init(valueNode: .string(text))
        case .list(let items): self.init(valueNode: .list(items.map { Self(converting: $0) }))
        case .map(let entries):
            self.init(valueNode: .map(entries.map { (key: $0.key, value: Self(converting: $0.value)) }))
        }
    }
}

extension JSONValue: ValueTreeReadable, ValueTreeBuildable {
    /// The top level; object members in sorted key order (a JSON object has none of its own).
    public var valueNode: ValueNode<JSONValue> {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let number): .int(number)
        case .double(let number): .double(number)
        case .string(let text): .string(text)
        case .array(let items): .list(items)
        case .object(let members): .map(members.keys.sorted().compactMap { key in members[key].map { (key, $0) } })
        }
    }

    /// Builds a value; a repeated map key keeps its last value.
    public init(valueNode: ValueNode<JSONValue>) {
        switch valueNode {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .list(let items): self = .array(items)
        case .map(let entries):
            self = .object(Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))
        }
    }
}
