import SkiffCore

extension ManifestValue: ValueTreeReadable {
    /// The top level in the common value shape: map keys as text (``keyText``), map order kept.
    public var valueNode: ValueNode<ManifestValue> {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let number): .int(number)
        case .float(let number): .double(number)
        case .string(let text): .string(text)
        case .list(let items): .list(items)
        case .map(let map): .map(map.entries.map { (key: $0.key.keyText, value: $0.value) })
        }
    }

    /// The text of a value used as a map key: a scalar as written, anything else as Go prints it (as the BOSH CLI
    /// does when it turns a YAML map into JSON).
    public var keyText: String {
        switch self {
        case .int(let number): "\(number)"
        case .float(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        case .string(let text): text
        default: goDescription
        }
    }
}
