import SkiffCore

extension TemplateValue: ValueTreeBuildable {
    /// Builds a template value from the common value shape; a map becomes a hash in the map's order.
    public init(valueNode: ValueNode<TemplateValue>) {
        switch valueNode {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .list(let items): self = .array(items)
        case .map(let entries): self = .hash(TemplateHash(entries.map { ($0.key, $0.value) }))
        }
    }
}
