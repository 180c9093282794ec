/// Writes a ``ManifestValue`` as YAML the way bosh prints it (gopkg.in/yaml.v2 layout): sorted keys, 2-space
/// indentation, sequences not indented under their key, literal blocks for multi-line strings.
public enum YAMLWriter {
    /// The YAML text of `value`, ending with a newline.
    public static func write(_ value: ManifestValue) -> String {
        var out = ""
        out.reserveCapacity(1 << 16)
        switch value {
        case .map(let map) where !map.isEmpty:
            writeMap(map, indent: 0, into: &out)
        case .list(let items) where !items.isEmpty:
            writeList(items, indent: 0, into: &out)
        default:
            writeScalarLine(value, indent: 0, into: &out)
        }
        return out
    }

    private static func spaces(_ count: Int, into out: inout String) {
        for _ in 0..<count { out.append(" ") }
    }

    /// Writes map entries; the first line's indentation is assumed written when `firstInline` is set.
    private static func writeMap(_ map: ManifestMap, indent: Int, firstInline: Bool = false, into out: inout String) {
        var first = true
        for entry in map.sortedEntries() {
            if !(first && firstInline) { spaces(indent, into: &out) }
            first = false
            writeKey(entry.key, into: &out)
            switch entry.value {
            case .map(let child) where !child.isEmpty:
                out.append(":\n")
                writeMap(child, indent: indent + 2, into: &out)
            case .list(let items) where !items.isEmpty:
                out.append(":\n")
                writeList(items, indent: indent, into: &out)
            default:
                out.append(":")
                writeScalarAfterIndicator(entry.value, blockIndent: indent + 2, into: &out)
            }
        }
    }

    private static func writeList(_ items: [ManifestValue], indent: Int, firstInline: Bool = false,
                                  into out: inout String)
    {
        var first = true
        for item in items {
            if !(first && firstInline) { spaces(indent, into: &out) }
            first = false
            out.append("-")
            switch item {
            case .map(let child) where !child.isEmpty:
                out.append(" ")
                writeMap(child, indent: indent + 2, firstInline: true, into: &out)
            case .list(let children) where !children.isEmpty:
                out.append(" ")
                writeList(children, indent: indent + 2, firstInline: true, into: &out)
            default:
                writeScalarAfterIndicator(item, blockIndent: indent + 2, into: &out)
            }
        }
    }

    /// Writes ` value\n` after a `key:` or `-`.
    private static func writeScalarAfterIndicator(_ value: ManifestValue, blockIndent: Int, into out: inout String) {
        out.append(" ")
        writeScalarLine(value, indent: blockIndent, into: &out)
    }

    private static func writeScalarLine(_ value: ManifestValue, indent: Int, into out: inout String) {
        switch value {
        case .map: out.append("{}\n")
        case .list: out.append("[]\n")
        case .string(let text):
            writeString(text, blockIndent: indent, into: &out)
            out.append("\n")
        default:
            out.append(scalarText(value))
            out.append("\n")
        }
    }

    private static func writeKey(_ key: ManifestValue, into out: inout String) {
        switch key {
        case .string(let text):
            if text.contains("\n") || text.contains("\r") {
                out.append(doubleQuoted(text))
            } else {
                writeString(text, blockIndent: 0, into: &out)
            }
        case .map, .list:
            out.append(flow(key))
        default:
            out.append(scalarText(key))
        }
    }

    /// Flow-style text of a value (only used for the rare map or list used as a map key).
    private static func flow(_ value: ManifestValue) -> String {
        switch value {
        case .map(let map):
            return "{" + map.sortedEntries().map { flow($0.key) + ": " + flow($0.value) }.joined(separator: ", ") + "}"
        case .list(let items):
            return "[" + items.map(flow).joined(separator: ", ") + "]"
        case .string(let text):
            return doubleQuoted(text)
        default:
            return scalarText(value)
        }
    }

    static func scalarText(_ value: ManifestValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .float(let number):
            if number.isNaN { return ".nan" }
            if number.isInfinite { return number < 0 ? "-.inf" : ".inf" }
            return GoFloat.format(number)
        case .string(let text): return text
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    // MARK: strings

    private enum Style { case plain, singleQuoted, doubleQuoted, literal }

    private static func writeString(_ text: String, blockIndent: Int, into out: inout String) {
        switch style(for: text) {
        case .plain: out.append(text)
        case .singleQuoted: out.append("'" + text.replacingOccurrences(of: "'", with: "''") + "'")
        case .doubleQuoted: out.append(doubleQuoted(text))
        case .literal: writeLiteral(text, indent: max(blockIndent, 2), into: &out)
        }
    }

    private static func style(for text: String) -> Style {
        var special = false
        var hasBreak = false
        var spaceBeforeBreak = false
        var previousWasSpace = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0x0A {
                hasBreak = true
                if previousWasSpace { spaceBeforeBreak = true }
            } else if !isPrintable(scalar) {
                special = true
            }
            previousWasSpace = (v == 0x20)
        }
        if special { return .doubleQuoted }
        if hasBreak {
            if spaceBeforeBreak || text.allSatisfy({ $0 == "\n" }) { return .doubleQuoted }
            return .literal
        }
        if ScalarResolver.needsQuoting(text) { return .doubleQuoted }
        return plainAllowed(text) ? .plain : .singleQuoted
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        switch v {
        case 0x0A, 0x20...0x7E, 0x85, 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF:
            return v != 0xFEFF
        default:
            return false
        }
    }

    /// libyaml's block-context plain scalar check.
    private static func plainAllowed(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else { return false }
        if first == " " || last == " " { return false }
        if text.hasPrefix("---") || text.hasPrefix("...") { return false }
        func blankAfter(_ index: Int) -> Bool {
            index + 1 >= scalars.count || scalars[index + 1] == " " || scalars[index + 1] == "\t"
        }
        for (index, scalar) in scalars.enumerated() {
            if index == 0 {
                switch scalar {
                case "#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`": return false
                case "?", ":", "-": if blankAfter(index) { return false }
                default: break
                }
            } else {
                switch scalar {
                case ":": if blankAfter(index) { return false }
                case "#": if scalars[index - 1] == " " || scalars[index - 1] == "\t" { return false }
                default: break
                }
            }
        }
        return true
    }

    private static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\t": out.append("\\t")
            case "\r": out.append("\\r")
            case "\0": out.append("\\0")
            default:
                if isPrintable(scalar) && scalar != "\u{85}" {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out.append("\\x" + hex(scalar.value, width: 2))
                } else if scalar.value <= 0xFFFF {
                    out.append("\\u" + hex(scalar.value, width: 4))
                } else {
                    out.append("\\U" + hex(scalar.value, width: 8))
                }
            }
        }
        out.append("\"")
        return out
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func writeLiteral(_ text: String, indent: Int, into out: inout String) {
        out.append("|")
        if text.hasPrefix(" ") { out.append("2") }
        var body = Substring(text)
        var trailingBreaks = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailingBreaks += 1
        }
        if trailingBreaks == 0 {
            out.append("-")
        } else if trailingBreaks > 1 {
            out.append("+")
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines {
            out.append("\n")
            if !line.isEmpty {
                spaces(indent, into: &out)
                out.append(contentsOf: line)
            }
        }
        for _ in 1..<max(trailingBreaks, 1) { out.append("\n") }
    }
}
