import Foundation
import Yams

/// A Ruby value inside the interpreter.
enum RValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case symbol(String)
    case array([RValue])
    case hash(RHash)
    /// An `OpenStruct` (as bosh wraps `spec` and `properties`): fields by method name, nil when missing.
    case object(RHash)
    case range(Int, Int, exclusive: Bool)
    /// A constant such as `JSON`, `YAML` or a class name.
    case module(String)
    /// An enumerator from a block-less `each`, `map`, `each_with_index`, `select` or `times`.
    case enumerator([RValue], method: String)
    /// The value returned by `if_p`: `active` when the block did not run, so `.else` runs its block.
    case elseBlock(active: Bool)
    /// An object of another class (a link, a link instance, a match, an address, ...): its class and fields.
    case instance(RObject)

    init(_ value: TemplateValue) {
        switch value {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .double(let value): self = .float(value)
        case .string(let value): self = .string(value)
        case .array(let items): self = .array(items.map(RValue.init))
        case .hash(let hash):
            var result = RHash()
            for (key, value) in hash { result[.string(key)] = RValue(value) }
            self = .hash(result)
        }
    }

    /// Which case this is, without holding on to the payload (so in-place mutation stays copy-free).
    var isArray: Bool {
        if case .array = self { return true }
        return false
    }

    var isString: Bool {
        if case .string = self { return true }
        return false
    }

    var isHash: Bool {
        if case .hash = self { return true }
        return false
    }

    /// Appends to a string value without copying its storage (the payload is moved out first).
    mutating func appendInPlace(string more: String) {
        guard case .string(var text) = self else { return }
        self = .null
        text += more
        self = .string(text)
    }

    /// Appends to an array value without copying its storage.
    mutating func appendInPlace(items more: [RValue]) {
        guard case .array(var items) = self else { return }
        self = .null
        items.append(contentsOf: more)
        self = .array(items)
    }

    /// `hash[key] = value` without copying the hash storage.
    mutating func setInPlace(key: RValue, _ value: RValue) {
        guard case .hash(var hash) = self else { return }
        self = .null
        hash[key] = value
        self = .hash(hash)
    }

    /// `array[index] = value` (padding with nil) without copying the array storage.
    mutating func setInPlace(index: Int, _ value: RValue) {
        guard case .array(var items) = self else { return }
        self = .null
        while items.count <= index { items.append(.null) }
        items[index] = value
        self = .array(items)
    }

    /// Ruby truthiness: only nil and false are false.
    var truthy: Bool {
        switch self {
        case .null, .bool(false): return false
        default: return true
        }
    }

    /// The Ruby class name, for messages.
    var className: String {
        switch self {
        case .null: return "nil"
        case .bool(let value): return value ? "true" : "false"
        case .int: return "Integer"
        case .float: return "Float"
        case .string: return "String"
        case .symbol: return "Symbol"
        case .array: return "Array"
        case .hash: return "Hash"
        case .object: return "OpenStruct"
        case .range: return "Range"
        case .module(let name): return name
        case .elseBlock: return "ElseBlock"
        case .enumerator: return "Enumerator"
        case .instance(let object): return object.className
        }
    }

    /// Converts back to the public value model (symbols become strings, structs become hashes).
    var templateValue: TemplateValue {
        switch self {
        case .null, .elseBlock: return .null
        case .instance(let object): return .string(RubyFormat.toS(.instance(object)))
        case .enumerator(let items, _): return .array(items.map(\.templateValue))
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .float(let value): return .double(value)
        case .string(let value), .symbol(let value), .module(let value): return .string(value)
        case .array(let items): return .array(items.map(\.templateValue))
        case .hash(let hash), .object(let hash):
            var result = TemplateHash()
            for (key, value) in hash.pairs { result[RubyFormat.toS(key)] = value.templateValue }
            return .hash(result)
        case .range(let low, let high, let exclusive):
            return .array(Array(exclusive ? low..<max(low, high) : low..<max(low, high + 1)).map(TemplateValue.int))
        }
    }

    /// Wraps nested hashes as `OpenStruct`s, as bosh's `openstruct` helper does for `spec` and `properties`.
    var openStruct: RValue {
        switch self {
        case .hash(let hash):
            var result = RHash()
            for (key, value) in hash.pairs { result[key] = value.openStruct }
            return .object(result)
        case .array(let items):
            return .array(items.map(\.openStruct))
        default:
            return self
        }
    }
}

/// An insertion-ordered hash of Ruby values.
struct RHash: Hashable, Sendable {
    private(set) var keys: [RValue] = []
    private var storage: [RValue: RValue] = [:]

    init() {}

    init(_ pairs: [(RValue, RValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
    var values: [RValue] { keys.compactMap { storage[$0] } }
    var pairs: [(RValue, RValue)] { keys.compactMap { key in storage[key].map { (key, $0) } } }

    subscript(key: RValue) -> RValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    static func == (lhs: RHash, rhs: RHash) -> Bool { lhs.storage == rhs.storage }
    func hash(into hasher: inout Hasher) { hasher.combine(storage) }
}

/// Ruby's text forms of values: `to_s`, `inspect`, `to_json`, `to_yaml`.
enum RubyFormat {
    /// `Float#to_s`: shortest round-trip digits, exponent form below 1e-4 and from 1e15.
    static func float(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Decompose Swift's shortest representation into digits and a decimal exponent.
        let text = "\(abs(value))"
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var integerPart = mantissa
        var fraction = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = String(mantissa[..<dot])
            fraction = String(mantissa[mantissa.index(after: dot)...])
        }
        var digits = integerPart + fraction
        var pointPosition = integerPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let decimalExponent = pointPosition - 1
        if decimalExponent < -4 || decimalExponent >= 15 {
            let first = String(digits.prefix(1))
            var rest = String(digits.dropFirst())
            if rest.isEmpty { rest = "0" }
            let exponentSign = decimalExponent < 0 ? "-" : "+"
            let magnitude = abs(decimalExponent)
            let exponentText = magnitude < 10 ? "0\(magnitude)" : "\(magnitude)"
            return "\(sign)\(first).\(rest)e\(exponentSign)\(exponentText)"
        }
        if pointPosition <= 0 {
            return "\(sign)0.\(String(repeating: "0", count: -pointPosition))\(digits)"
        }
        if pointPosition >= digits.count {
            return "\(sign)\(digits)\(String(repeating: "0", count: pointPosition - digits.count)).0"
        }
        let split = digits.index(digits.startIndex, offsetBy: pointPosition)
        return "\(sign)\(digits[..<split]).\(digits[split...])"
    }

    /// `to_s` as ERB's `<%= %>` applies it.
    static func toS(_ value: RValue) -> String {
        switch value {
        case .null: return ""
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .float(let value): return float(value)
        case .string(let value), .symbol(let value), .module(let value): return value
        case .array, .hash, .object, .range, .elseBlock, .enumerator: return inspect(value)
        case .instance(let object): return object.toS
        }
    }

    /// `inspect`, in the `{"a"=>1}` style.
    static func inspect(_ value: RValue) -> String {
        switch value {
        case .null: return "nil"
        case .string(let text): return inspectString(text)
        case .symbol(let name): return ":\(name)"
        case .array(let items): return "[" + items.map(inspect).joined(separator: ", ") + "]"
        case .hash(let hash):
            return "{" + hash.pairs.map { "\(inspect($0.0))=>\(inspect($0.1))" }.joined(separator: ", ") + "}"
        case .object(let hash):
            let fields = hash.pairs.map { " \(toS($0.0))=\(inspect($0.1))" }.joined(separator: ",")
            return "#<OpenStruct\(fields)>"
        case .range(let low, let high, let exclusive): return "\(low)\(exclusive ? "..." : "..")\(high)"
        case .elseBlock: return "#<ElseBlock>"
        case .instance(let object): return object.inspect
        case .enumerator(let items, let method): return "#<Enumerator: \(inspect(.array(items))):\(method)>"
        default: return toS(value)
        }
    }

    static func inspectString(_ text: String) -> String {
        var result = "\""
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\u{1B}": result += "\\e"
            case "{" where previous == "#": result += "{"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result += String(format: "\\x%02X", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
            previous = scalar
        }
        return result + "\""
    }

    /// `JSON.generate` / `to_json` (compact) or `JSON.pretty_generate` (pretty).
    static func json(_ value: RValue, pretty: Bool = false, indent: String = "") -> String {
        switch value {
        case .null, .elseBlock: return "null"
        case .instance(let object): return jsonString(object.toS)
        case .enumerator(let items, _): return json(.array(items), pretty: pretty, indent: indent)
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .float(let value): return float(value)
        case .string(let text), .symbol(let text), .module(let text): return jsonString(text)
        case .range: return jsonString(inspect(value))
        case .array(let items):
            if items.isEmpty { return "[]" }
            if !pretty { return "[" + items.map { json($0) }.joined(separator: ",") + "]" }
            let inner = indent + "  "
            let body = items.map { inner + json($0, pretty: true, indent: inner) }.joined(separator: ",\n")
            return "[\n\(body)\n\(indent)]"
        case .hash(let hash), .object(let hash):
            if hash.isEmpty { return "{}" }
            if !pretty {
                return "{" + hash.pairs.map { "\(jsonString(toS($0.0))):\(json($0.1))" }.joined(separator: ",") + "}"
            }
            let inner = indent + "  "
            let body = hash.pairs.map { "\(inner)\(jsonString(toS($0.0))): \(json($0.1, pretty: true, indent: inner))" }
                .joined(separator: ",\n")
            return "{\n\(body)\n\(indent)}"
        }
    }

    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// `to_yaml` as Psych emits it: a `---` document, block style.
    static func yaml(_ value: RValue) throws(TemplateError) -> String {
        do {
            return try Yams.serialize(node: yamlNode(value), width: -1, explicitStart: true)
        } catch {
            throw TemplateError(code: .runtime, message: "to_yaml failed: \(error)")
        }
    }

    /// The scalar style Psych asks for when dumping a string.
    static func psychStyle(_ text: String) -> Node.Scalar.Style {
        if let newline = text.firstIndex(of: "\n"), text.index(after: newline) != text.endIndex {
            return .literal
        }
        if text == "<<" { return .singleQuoted }
        if ["y", "Y", "n", "N"].contains(text) { return .doubleQuoted }
        if let first = text.first, !(first.isLetter || first.isNumber || first == "_"), !text.dropFirst().contains("\"")
        {
            return .doubleQuoted
        }
        if text.isEmpty || psychTokenizesAsNonString(text) { return .singleQuoted }
        if text.hasPrefix("0"),
            text.dropFirst().drop(while: { ("0"..."7").contains($0) }).first.map({ $0 == "8" || $0 == "9" }) == true
        {
            return .singleQuoted
        }
        return .any
    }

    private static let psychNonString: [NSRegularExpression] = [
        "^(?:yes|true|on|no|false|off|null|~)$",
        "^(?:[-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[0-9a-fA-F_,]+)$",
        "^(?:[-+]?([0-9][0-9_,]*)?\\.[0-9]*([eE][-+][0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$",
        "^\\d{4}-(?:1[012]|0\\d|\\d)-(?:[12]\\d|3[01]|0\\d|\\d)$",
        "^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}(?:\\.[0-9_]*)?$",
        "^-?\\d{4}-\\d{1,2}-\\d{1,2}(?:[Tt]|\\s+)\\d{1,2}:\\d\\d:\\d\\d(?:\\.\\d*)?"
            + "(?:\\s*(?:Z|[-+]\\d{1,2}:?(?:\\d\\d)?))?$",
    ].compactMap { try? NSRegularExpression(pattern: $0, options: [.caseInsensitive]) }

    /// Whether Psych's scalar scanner would read `text` as something other than a string (bool, null, number,
    /// date), so that dumping it must quote it.
    static func psychTokenizesAsNonString(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..., in: text)
        return psychNonString.contains { $0.firstMatch(in: text, range: range) != nil }
    }

    static func yamlNode(_ value: RValue) -> Node {
        switch value {
        case .null, .elseBlock: return Node("", Tag(.null), .plain)
        case .instance(let object): return Node(object.toS, Tag(.str))
        case .enumerator(let items, _): return yamlNode(.array(items))
        case .bool(let value): return Node(value ? "true" : "false", Tag(.bool))
        case .int(let value): return Node(String(value), Tag(.int))
        case .float(let value): return Node(float(value), Tag(.float))
        case .string(let text), .module(let text):
            return Node(text, Tag(.str), psychStyle(text))
        case .symbol(let name): return Node(":\(name)", Tag(.str))
        case .range: return Node(inspect(value), Tag(.str))
        case .array(let items): return Node(items.map(yamlNode), Tag(.seq))
        case .hash(let hash), .object(let hash):
            return Node(hash.pairs.map { (yamlNode($0.0), yamlNode($0.1)) }, Tag(.map))
        }
    }
}

/// An object of a class other than the core values: its class name and fields.
struct RObject: Hashable, Sendable {
    /// The Ruby class name, e.g. `IPAddr` or `MatchData`.
    var className: String
    /// The object's state by field name.
    var fields: RHash

    subscript(field: String) -> RValue {
        fields[.string(field)] ?? .null
    }

    /// `to_s`.
    var toS: String {
        switch className {
        case "IPAddr": return RubyFormat.toS(self["address"])
        case "MatchData": return RubyFormat.toS(self["match"])
        case "Regexp": return Interpreter.regexpToS(RubyFormat.toS(self["source"]), RubyFormat.toS(self["options"]))
        case "String":
            guard case .string(let latin1) = self["binary"] else { return "" }
            return String(decoding: latin1.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }, as: UTF8.self)
        default:
            if self["exception"] == .bool(true) { return RubyFormat.toS(self["message"]) }
            return "#<\(className)>"
        }
    }

    /// `inspect`.
    var inspect: String {
        switch className {
        case "MatchData": return "#<MatchData \(RubyFormat.inspect(self["match"]))>"
        case "IPAddr": return "#<IPAddr: \(toS)>"
        case "Regexp": return "/\(RubyFormat.toS(self["source"]))/\(RubyFormat.toS(self["options"]))"
        case "String": return RubyFormat.inspectString(toS)
        default:
            if self["exception"] == .bool(true) { return "#<\(className): \(RubyFormat.toS(self["message"]))>" }
            return "#<\(className)>"
        }
    }
}

extension RValue {
    /// A consumed link as templates see it (BOSH's `EvaluationLink`).
    init(link: LinkContext) {
        let instances: [RValue] = link.instances.map { instance in
            .instance(
                RObject(
                    className: "EvaluationLinkInstance",
                    fields: RHash([
                        (.string("name"), instance.name.map(RValue.string) ?? .null),
                        (.string("index"), instance.index.map(RValue.int) ?? .null),
                        (.string("id"), instance.id.map(RValue.string) ?? .null),
                        (.string("az"), instance.az.map(RValue.string) ?? .null),
                        (.string("address"), instance.address.map(RValue.string) ?? .null),
                        (.string("bootstrap"), instance.bootstrap.map(RValue.bool) ?? .null),
                        (.string("properties"), RValue(instance.properties)),
                    ])))
        }
        self = .instance(
            RObject(
                className: "EvaluationLink",
                fields: RHash([
                    (.string("instances"), .array(instances)),
                    (.string("properties"), RValue(link.properties)),
                    (.string("address"), link.address.map(RValue.string) ?? .null),
                ])))
    }
}
