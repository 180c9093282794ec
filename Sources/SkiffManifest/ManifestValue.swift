/// Where a value came from: an index into the document's file table and a 1-based line (0 when unknown).
public struct SourceOrigin: Sendable, Hashable {
    /// Index into ``InterpolatedDocument/files`` (or the reader's file table).
    public var file: Int32
    /// 1-based line number; 0 when unknown.
    public var line: Int32

    /// An origin that points nowhere.
    public static let unknown = SourceOrigin(file: -1, line: 0)

    /// Creates an origin for `line` of file number `file`.
    public init(file: Int32, line: Int32) {
        self.file = file
        self.line = line
    }

    /// Whether this origin carries a line.
    public var isKnown: Bool { file >= 0 && line > 0 }
}

/// A YAML value as BOSH sees it: the generic tree gopkg.in/yaml.v2 builds (YAML 1.1 scalars, any-typed map keys).
public enum ManifestValue: Sendable {
    /// `~`, `null` or an empty value.
    case null
    /// `true`/`false` and the YAML 1.1 spellings (`yes`, `no`, `on`, `off`, `y`, `n`).
    case bool(Bool)
    /// A 64-bit integer (decimal, `0x`, `0o`, `0b`, leading-zero octal, `_` separators).
    case int(Int)
    /// A floating point number.
    case float(Double)
    /// A string.
    case string(String)
    /// A sequence.
    case list([ManifestValue])
    /// A mapping; its keys may be of any type.
    case map(ManifestMap)

    /// The value as a string, if it is one.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value as a map, if it is one.
    public var mapValue: ManifestMap? {
        if case .map(let map) = self { return map }
        return nil
    }

    /// The value as a list, if it is one.
    public var listValue: [ManifestValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    /// Looks up a string key when the value is a map.
    public subscript(key: String) -> ManifestValue? {
        if case .map(let map) = self { return map[key] }
        return nil
    }

    /// The Go type name bosh prints for this value in error messages (`%T`).
    public var goTypeName: String {
        switch self {
        case .null: "<nil>"
        case .bool: "bool"
        case .int: "int"
        case .float: "float64"
        case .string: "string"
        case .list: "[]interface {}"
        case .map: "map[interface {}]interface {}"
        }
    }

    /// The value formatted as Go's `%v` would (maps with sorted keys).
    public var goDescription: String {
        switch self {
        case .null: return "<nil>"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .float(let number): return GoFloat.format(number)
        case .string(let text): return text
        case .list(let items): return "[" + items.map(\.goDescription).joined(separator: " ") + "]"
        case .map(let map):
            let parts = map.sortedEntries().map { $0.key.goDescription + ":" + $0.value.goDescription }
            return "map[" + parts.joined(separator: " ") + "]"
        }
    }
}

extension ManifestValue: Equatable {
    /// Deep equality as Go's `reflect.DeepEqual` sees it: map entry order does not matter, source lines are ignored.
    public static func == (lhs: ManifestValue, rhs: ManifestValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.float(let a), .float(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.map(let a), .map(let b)): return a == b
        default: return false
        }
    }
}

extension ManifestValue: Hashable {
    /// Hashes consistently with ``==`` (map hashing is order-independent).
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let flag):
            hasher.combine(1)
            hasher.combine(flag)
        case .int(let number):
            hasher.combine(2)
            hasher.combine(number)
        case .float(let number):
            hasher.combine(3)
            hasher.combine(number)
        case .string(let text):
            hasher.combine(4)
            hasher.combine(text)
        case .list(let items):
            hasher.combine(5)
            hasher.combine(items)
        case .map(let map):
            hasher.combine(6)
            hasher.combine(map)
        }
    }
}

extension ManifestValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByFloatLiteral
{
    /// A string value.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer value.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A boolean value.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A list value.
    public init(arrayLiteral elements: ManifestValue...) { self = .list(elements) }
    /// A float value.
    public init(floatLiteral value: Double) { self = .float(value) }
}

/// A YAML mapping with any-typed keys; keeps insertion order and, per entry, the line the key was read from.
public struct ManifestMap: Sendable {
    /// One key/value pair.
    public struct Entry: Sendable {
        /// The key.
        public var key: ManifestValue
        /// The value.
        public var value: ManifestValue
        /// Where the key was read from, if known.
        public var origin: SourceOrigin

        /// Creates an entry.
        public init(key: ManifestValue, value: ManifestValue, origin: SourceOrigin = .unknown) {
            self.key = key
            self.value = value
            self.origin = origin
        }
    }

    /// The entries, in insertion order (output order is decided by the writer).
    public var entries: [Entry]

    /// An empty map.
    public init() { entries = [] }

    /// A map of the given entries (later duplicates of a key replace earlier ones).
    public init(entries: [Entry]) {
        self.entries = []
        self.entries.reserveCapacity(entries.count)
        guard entries.count > 16 else {
            for entry in entries { set(entry.key, entry.value, origin: entry.origin) }
            return
        }
        // Large maps: index the keys so that building stays linear.
        var positions: [ManifestValue: Int] = [:]
        positions.reserveCapacity(entries.count)
        for entry in entries {
            if let position = positions[entry.key] {
                self.entries[position].value = entry.value
                if entry.origin.isKnown { self.entries[position].origin = entry.origin }
            } else {
                positions[entry.key] = self.entries.count
                self.entries.append(entry)
            }
        }
    }

    /// A map of string keys, in the given order.
    public init(_ pairs: KeyValuePairs<String, ManifestValue>) {
        self.entries = []
        for (key, value) in pairs { set(.string(key), value) }
    }

    /// Number of entries.
    public var count: Int { entries.count }
    /// Whether the map is empty.
    public var isEmpty: Bool { entries.isEmpty }

    /// The position of `key`, if present.
    public func index(of key: ManifestValue) -> Int? {
        if case .string(let text) = key { return index(ofString: text) }
        return entries.firstIndex { $0.key == key }
    }

    /// The position of the string key `key`, if present.
    public func index(ofString key: String) -> Int? {
        for position in entries.indices {
            if case .string(let text) = entries[position].key, text == key { return position }
        }
        return nil
    }

    /// The value for a string key.
    public subscript(key: String) -> ManifestValue? {
        index(ofString: key).map { entries[$0].value }
    }

    /// The value for any key.
    public subscript(key key: ManifestValue) -> ManifestValue? {
        index(of: key).map { entries[$0].value }
    }

    /// Sets `key` to `value`, replacing an existing entry in place (keeping its origin unless one is given).
    public mutating func set(_ key: ManifestValue, _ value: ManifestValue, origin: SourceOrigin = .unknown) {
        if let position = index(of: key) {
            entries[position].value = value
            if origin.isKnown { entries[position].origin = origin }
        } else {
            entries.append(Entry(key: key, value: value, origin: origin))
        }
    }

    /// Removes `key` if present.
    public mutating func remove(_ key: ManifestValue) {
        if let position = index(of: key) { entries.remove(at: position) }
    }

    /// The entries in the order bosh prints them (gopkg.in/yaml.v2 key order).
    public func sortedEntries() -> [Entry] {
        if entries.count < 2 { return entries }
        return entries.sorted { KeyOrder.less($0.key, $1.key) }
    }
}

extension ManifestMap: Hashable {
    /// Order-insensitive equality, ignoring origins.
    public static func == (lhs: ManifestMap, rhs: ManifestMap) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        if lhs.entries.count > 16 {
            var others: [ManifestValue: ManifestValue] = [:]
            others.reserveCapacity(rhs.entries.count)
            for entry in rhs.entries { others[entry.key] = entry.value }
            for entry in lhs.entries {
                guard let other = others[entry.key], other == entry.value else { return false }
            }
            return true
        }
        for entry in lhs.entries {
            guard let other = rhs[key: entry.key], other == entry.value else { return false }
        }
        return true
    }

    /// Order-insensitive hash.
    public func hash(into hasher: inout Hasher) {
        var sum = 0
        for entry in entries {
            var inner = Hasher()
            inner.combine(entry.key)
            inner.combine(entry.value)
            sum = sum &+ inner.finalize()
        }
        hasher.combine(entries.count)
        hasher.combine(sum)
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is how bosh prints floats.
enum GoFloat {
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // Swift's description gives the shortest round-trip digits; re-layout them as Go does.
        var text = "\(value.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits = ""
        var pointPosition = text.count
        if let dot = text.firstIndex(of: ".") {
            pointPosition = text.distance(from: text.startIndex, to: dot)
            digits = text.replacingOccurrences(of: ".", with: "")
        } else {
            digits = text
        }
        // Strip leading zeros (adjusting the point) and trailing zeros.
        var decimalPoint = pointPosition + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let exp = decimalPoint - 1
        if exp < -4 || exp >= 6 {
            var mantissa = String(digits.prefix(1))
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let expSign = exp < 0 ? "-" : "+"
            let magnitude = abs(exp)
            let expDigits = magnitude < 10 ? "0\(magnitude)" : "\(magnitude)"
            return sign + mantissa + "e" + expSign + expDigits
        }
        if decimalPoint <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalPoint) + digits
        }
        if decimalPoint >= digits.count {
            return sign + digits + String(repeating: "0", count: decimalPoint - digits.count)
        }
        let head = digits.prefix(decimalPoint)
        let tail = digits.dropFirst(decimalPoint)
        return sign + head + "." + tail
    }
}
