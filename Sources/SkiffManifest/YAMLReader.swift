import Foundation
import Yams

/// Reads YAML text into a ``ManifestValue`` tree the way gopkg.in/yaml.v2 (and so bosh) reads it.
public enum YAMLReader {
    /// Parses the first document of `text`; an empty document is `null`.
    ///
    /// - Parameters:
    ///   - text: YAML source.
    ///   - fileName: the name used in error messages.
    ///   - fileIndex: the number stored in each map entry's ``SourceOrigin``.
    ///   - stringKeys: read plain scalar map keys as their text, as yaml.v2 does when decoding into
    ///     `map[string]interface{}` (vars files, the vars store): `y: 1` has the key `"y"`, not `true`.
    public static func parse(
        _ text: String, fileName: String, fileIndex: Int32 = 0, stringKeys: Bool = false
    ) throws(ManifestError) -> ManifestValue {
        do {
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            guard let root = try parser.nextRoot() else { return .null }
            var builder = Builder(fileName: fileName, fileIndex: fileIndex, stringKeys: stringKeys)
            return try builder.value(root)
        } catch let error as ManifestError {
            throw error
        } catch let error as YamlError {
            throw describe(error, fileName: fileName)
        } catch {
            throw ManifestError(.malformedYAML, "\(error)", file: fileName)
        }
    }

    private static func describe(_ error: YamlError, fileName: String) -> ManifestError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "Malformed YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return ManifestError(.malformedYAML, message, file: fileName, line: mark.line)
        case .reader(let problem, _, _, _):
            return ManifestError(.malformedYAML, "Malformed YAML: \(problem)", file: fileName)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ManifestError(
                .malformedYAML, "Malformed YAML: duplicate map key \(names)", file: fileName, line: context.mark.line)
        default:
            return ManifestError(.malformedYAML, "Malformed YAML: \(error)", file: fileName)
        }
    }

    private struct Builder {
        let fileName: String
        let fileIndex: Int32
        /// Only the root mapping's keys are read as text (the Go type is `map[string]interface{}`).
        var stringKeys: Bool

        mutating func value(_ node: Node) throws(ManifestError) -> ManifestValue {
            switch node {
            case .scalar(let scalar):
                return try self.scalar(scalar)
            case .sequence(let sequence):
                stringKeys = false
                var items: [ManifestValue] = []
                items.reserveCapacity(sequence.count)
                for child in sequence { items.append(try value(child)) }
                return .list(items)
            case .mapping(let mapping):
                var map = ManifestMap()
                map.entries.reserveCapacity(mapping.count)
                for (keyNode, valueNode) in mapping {
                    if isMergeKey(keyNode) {
                        try merge(valueNode, into: &map)
                        continue
                    }
                    let key = try self.key(keyNode)
                    let line = Int32(keyNode.mark?.line ?? 0)
                    let rootKeys = stringKeys
                    stringKeys = false
                    let child = try value(valueNode)
                    stringKeys = rootKeys
                    map.set(key, child, origin: SourceOrigin(file: fileIndex, line: line))
                }
                return .map(map)
            case .alias:
                return .null
            }
        }

        /// Yams resolves key tags while checking for duplicate keys, so a plain key's `str` tag is not explicit.
        private mutating func key(_ node: Node) throws(ManifestError) -> ManifestValue {
            if case .scalar(let scalar) = node, scalar.style == .plain, scalar.tag.rawValue == Tag.Name.str.rawValue {
                return stringKeys ? .string(scalar.string) : ScalarResolver.resolve(scalar.string)
            }
            return try value(node)
        }

        private func isMergeKey(_ node: Node) -> Bool {
            guard case .scalar(let scalar) = node, scalar.style == .plain, scalar.string == "<<" else { return false }
            let tag = scalar.tag.rawValue
            return tag.isEmpty || tag == Tag.Name.merge.rawValue || tag == Tag.Name.str.rawValue
        }

        private mutating func merge(_ node: Node, into map: inout ManifestMap) throws(ManifestError) {
            switch node {
            case .mapping:
                guard case .map(let source) = try value(node) else { return }
                for entry in source.entries { map.set(entry.key, entry.value, origin: entry.origin) }
            case .sequence(let sequence):
                // Earlier maps take precedence, so apply them last.
                for child in sequence.reversed() {
                    guard case .map(let source) = try value(child) else {
                        throw ManifestError(
                            .malformedYAML, "Malformed YAML: map merge requires map or sequence of maps as the value",
                            file: fileName, line: child.mark?.line)
                    }
                    for entry in source.entries { map.set(entry.key, entry.value, origin: entry.origin) }
                }
            default:
                throw ManifestError(
                    .malformedYAML, "Malformed YAML: map merge requires map or sequence of maps as the value",
                    file: fileName, line: node.mark?.line)
            }
        }

        private func scalar(_ scalar: Node.Scalar) throws(ManifestError) -> ManifestValue {
            let text = scalar.string
            let tag = scalar.tag.rawValue
            if scalar.style != .plain {
                if tag.isEmpty || tag == Tag.Name.str.rawValue || tag == "!" { return .string(text) }
            } else if tag.isEmpty {
                return ScalarResolver.resolve(text)
            }
            switch tag {
            case Tag.Name.str.rawValue, "!": return .string(text)
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue, Tag.Name.int.rawValue, Tag.Name.float.rawValue:
                let resolved = ScalarResolver.resolve(text)
                switch (tag, resolved) {
                case (Tag.Name.bool.rawValue, .bool), (Tag.Name.int.rawValue, .int), (Tag.Name.float.rawValue, .float):
                    return resolved
                case (Tag.Name.float.rawValue, .int(let number)):
                    return .float(Double(number))
                default:
                    throw ManifestError(
                        .malformedYAML, "Malformed YAML: cannot decode '\(text)' as \(tag)", file: fileName,
                        line: scalar.mark?.line)
                }
            case Tag.Name.binary.rawValue:
                let compact = text.filter { !$0.isWhitespace }
                if let data = Data(base64Encoded: compact), let decoded = String(data: data, encoding: .utf8) {
                    return .string(decoded)
                }
                return .string(text)
            default:
                return ScalarResolver.resolve(text)
            }
        }
    }
}

/// Resolves plain YAML scalars with YAML 1.1 rules, as gopkg.in/yaml.v2 `resolve` does.
public enum ScalarResolver {
    /// The value a plain (unquoted, untagged) scalar stands for.
    public static func resolve(_ text: String) -> ManifestValue {
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"),
            UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"), UInt8(ascii: "O"),
            UInt8(ascii: "~"):
            if let known = keywords[text] { return known }
            return .string(text)
        case UInt8(ascii: "."):
            if let known = keywords[text] { return known }
            if isYAMLFloat(text), let number = Double(text) { return .float(number) }
            return .string(text)
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let known = keywords[text] { return known }
            return number(text) ?? .string(text)
        default:
            return .string(text)
        }
    }

    /// Whether writing `text` plain would read back as something other than the same string.
    static func needsQuoting(_ text: String) -> Bool {
        if text.isEmpty { return true }
        if text == "<<" { return true }
        if case .string = resolve(text) {
            return isBase60Float(text) || looksLikeTimestamp(text)
        }
        return true
    }

    private static let keywords: [String: ManifestValue] = {
        var table: [String: ManifestValue] = [:]
        for word in ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] {
            table[word] = .bool(true)
        }
        for word in ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] {
            table[word] = .bool(false)
        }
        for word in ["~", "null", "Null", "NULL"] { table[word] = .null }
        for word in [".nan", ".NaN", ".NAN"] { table[word] = .float(.nan) }
        for word in [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"] { table[word] = .float(.infinity) }
        for word in ["-.inf", "-.Inf", "-.INF"] { table[word] = .float(-.infinity) }
        return table
    }()

    private static func number(_ text: String) -> ManifestValue? {
        let plain = text.utf8.contains(UInt8(ascii: "_")) ? text.replacingOccurrences(of: "_", with: "") : text
        if let integer = goParseInt(plain) { return .int(integer) }
        if isYAMLFloat(plain), let number = Double(plain) { return .float(number) }
        // yaml.v2 also accepts 0b/-0b binary here; goParseInt already handled those.
        return nil
    }

    /// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b`, leading-`0` octal or decimal.
    static func goParseInt(_ text: String) -> Int? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var radix = 10
        if bytes.count >= 2, bytes.first == UInt8(ascii: "0") {
            let second = bytes[bytes.index(after: bytes.startIndex)] | 0x20
            switch second {
            case UInt8(ascii: "x"):
                radix = 16
                bytes = bytes.dropFirst(2)
            case UInt8(ascii: "o"):
                radix = 8
                bytes = bytes.dropFirst(2)
            case UInt8(ascii: "b"):
                radix = 2
                bytes = bytes.dropFirst(2)
            default:
                radix = 8
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty else { return nil }
        }
        var magnitude: UInt64 = 0
        for byte in bytes {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < UInt64(radix) else { return nil }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (sum, overflow2) = times.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            magnitude = sum
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int(magnitude)
    }

    /// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
    static func isYAMLFloat(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            return i - start
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                _ = digits()
            }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == bytes.count
    }

    /// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$` (YAML 1.1 sexagesimal floats, quoted by yaml.v2).
    static func isBase60Float(_ text: String) -> Bool {
        guard text.utf8.contains(UInt8(ascii: ":")) else { return false }
        let bytes = Array(text.utf8)
        var i = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { return false }
        i += 1
        while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == UInt8(ascii: "_") { i += 1 }
        var groups = 0
        while i < bytes.count, bytes[i] == UInt8(ascii: ":") {
            i += 1
            var count = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57, count < 2 {
                i += 1
                count += 1
            }
            guard count > 0 else { return false }
            if count == 2, bytes[i - 2] > UInt8(ascii: "5") { return false }
            groups += 1
        }
        guard groups > 0 else { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == UInt8(ascii: "_") { i += 1 }
        }
        return i == bytes.count
    }

    /// A `YYYY-` prefix: yaml.v2 reads such values as timestamps and quotes them on output.
    static func looksLikeTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(5))
        guard bytes.count == 5 else { return false }
        for i in 0..<4 where !(bytes[i] >= 48 && bytes[i] <= 57) { return false }
        return bytes[4] == UInt8(ascii: "-")
    }
}
