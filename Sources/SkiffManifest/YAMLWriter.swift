/// Writes a ``ManifestValue`` as YAML the way bosh prints it (gopkg.in/yaml.v2 with libyaml's emitter): sorted keys,
/// 2-space indentation, sequences not indented under their key, literal blocks for multi-line strings, and long
/// values folded at 80 columns.
public enum YAMLWriter {
    /// The YAML text of `value`, ending with a newline.
    public static func write(_ value: ManifestValue) -> String {
        var emitter = Emitter()
        emitter.out.reserveCapacity(1 << 16)
        switch value {
        case .map(let map) where !map.isEmpty:
            emitter.writeMap(map, indent: 0)
        case .list(let items) where !items.isEmpty:
            emitter.writeList(items, indent: 0)
        default:
            emitter.writeScalar(value, indent: 2, isKey: false)
            emitter.newline()
        }
        return emitter.out
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
}

/// libyaml's best width: plain and quoted values are folded at a space once the line is longer.
private let bestWidth = 80

private struct Emitter {
    var out = ""
    /// Characters (Unicode scalars) on the current line.
    var column = 0

    mutating func put(_ text: String) {
        out.append(text)
        column += text.unicodeScalars.count
    }

    mutating func put(_ scalar: Unicode.Scalar) {
        out.unicodeScalars.append(scalar)
        column += 1
    }

    mutating func newline() {
        out.append("\n")
        column = 0
    }

    mutating func pad(to count: Int) {
        while column < count { put(" ") }
    }

    /// Map entries at `indent`; when `inline`, the first key continues the current line (after `- `).
    mutating func writeMap(_ map: ManifestMap, indent: Int, inline: Bool = false) {
        var first = true
        for entry in map.sortedEntries() {
            if !(first && inline) { pad(to: indent) }
            first = false
            writeKey(entry.key)
            put(":")
            switch entry.value {
            case .map(let child) where !child.isEmpty:
                newline()
                writeMap(child, indent: indent + 2)
            case .list(let items) where !items.isEmpty:
                newline()
                writeList(items, indent: indent)
            default:
                put(" ")
                writeScalar(entry.value, indent: indent + 2, isKey: false)
                newline()
            }
        }
    }

    /// Sequence items at `indent`; when `inline`, the first `-` continues the current line.
    mutating func writeList(_ items: [ManifestValue], indent: Int, inline: Bool = false) {
        var first = true
        for item in items {
            if !(first && inline) { pad(to: indent) }
            first = false
            put("-")
            switch item {
            case .map(let child) where !child.isEmpty:
                put(" ")
                writeMap(child, indent: indent + 2, inline: true)
            case .list(let children) where !children.isEmpty:
                put(" ")
                writeList(children, indent: indent + 2, inline: true)
            default:
                put(" ")
                writeScalar(item, indent: indent + 2, isKey: false)
                newline()
            }
        }
    }

    mutating func writeKey(_ key: ManifestValue) {
        switch key {
        case .map, .list: put(flow(key))
        default: writeScalar(key, indent: 0, isKey: true)
        }
    }

    /// Flow-style text of a value (only used for the rare map or list used as a map key).
    func flow(_ value: ManifestValue) -> String {
        switch value {
        case .map(let map):
            return "{" + map.sortedEntries().map { flow($0.key) + ": " + flow($0.value) }.joined(separator: ", ") + "}"
        case .list(let items):
            return "[" + items.map(flow).joined(separator: ", ") + "]"
        case .string(let text):
            var copy = Emitter()
            copy.writeDoubleQuoted(Array(text.unicodeScalars), indent: 0, allowBreaks: false)
            return copy.out
        default:
            return YAMLWriter.scalarText(value)
        }
    }

    /// A scalar whose continuation lines (folds, literal block lines) are indented to `indent`.
    mutating func writeScalar(_ value: ManifestValue, indent: Int, isKey: Bool) {
        switch value {
        case .map: put("{}")
        case .list: put("[]")
        case .string(let text): writeString(text, indent: indent, isKey: isKey)
        default: put(YAMLWriter.scalarText(value))
        }
    }

    // MARK: strings

    enum Style { case plain, singleQuoted, doubleQuoted, literal }

    mutating func writeString(_ text: String, indent: Int, isKey: Bool) {
        let scalars = Array(text.unicodeScalars)
        switch Emitter.style(for: text, scalars: scalars, isKey: isKey) {
        case .plain: writePlain(scalars, indent: indent, allowBreaks: !isKey)
        case .singleQuoted: writeSingleQuoted(scalars, indent: indent, allowBreaks: !isKey)
        case .doubleQuoted: writeDoubleQuoted(scalars, indent: indent, allowBreaks: !isKey)
        case .literal: writeLiteral(text, indent: indent)
        }
    }

    /// yaml.v2's style request (literal for multi-line, plain unless it would read back differently, else
    /// double-quoted) refined by libyaml's analysis of what each style allows.
    static func style(for text: String, scalars: [Unicode.Scalar], isKey: Bool) -> Style {
        var special = false
        var lineBreaks = false
        var spaceBreak = false
        var breakSpace = false
        var blockIndicators = false
        guard !scalars.isEmpty else { return .doubleQuoted }
        if text.hasPrefix("---") || text.hasPrefix("...") { blockIndicators = true }
        var previous: Unicode.Scalar?
        for (index, scalar) in scalars.enumerated() {
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            let followedByBlank = next == nil || next == " " || next == "\t" || next == "\n"
            if index == 0 {
                switch scalar {
                case "#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`":
                    blockIndicators = true
                case "?", ":", "-":
                    if followedByBlank { blockIndicators = true }
                default: break
                }
            } else {
                switch scalar {
                case ":": if followedByBlank { blockIndicators = true }
                case "#": if previous == " " || previous == "\t" || previous == "\n" { blockIndicators = true }
                default: break
                }
            }
            if !isPrintable(scalar) { special = true }
            if scalar == "\n" {
                lineBreaks = true
                if previous == " " { spaceBreak = true }
            } else if scalar == " ", previous == "\n" {
                breakSpace = true
            }
            previous = scalar
        }
        let leadingSpace = scalars.first == " "
        let trailingSpace = scalars.last == " "
        let leadingBreak = scalars.first == "\n"
        let trailingBreak = scalars.last == "\n"
        var plainAllowed = true
        var singleAllowed = true
        var blockAllowed = true
        if leadingSpace || leadingBreak || trailingSpace || trailingBreak { plainAllowed = false }
        if trailingSpace { blockAllowed = false }
        if breakSpace {
            plainAllowed = false
            singleAllowed = false
        }
        if spaceBreak || special {
            plainAllowed = false
            singleAllowed = false
            blockAllowed = false
        }
        if lineBreaks || blockIndicators { plainAllowed = false }

        if lineBreaks {
            if isKey || !blockAllowed || scalars.allSatisfy({ $0 == "\n" }) { return .doubleQuoted }
            return .literal
        }
        if ScalarResolver.needsQuoting(text) { return .doubleQuoted }
        if plainAllowed { return .plain }
        return singleAllowed ? .singleQuoted : .doubleQuoted
    }

    /// libyaml's printable set for a UTF-8 emitter (characters outside the BMP are escaped).
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x20...0x7E, 0xA0...0xD7FF: return true
        case 0xE000...0xFFFD: return scalar.value != 0xFEFF
        default: return false
        }
    }

    /// Writes a line break and the continuation indentation (libyaml's write_indent).
    mutating func fold(to indent: Int) {
        newline()
        pad(to: indent)
    }

    mutating func writePlain(_ scalars: [Unicode.Scalar], indent: Int, allowBreaks: Bool) {
        var spaces = false
        for (index, scalar) in scalars.enumerated() {
            if scalar == " " {
                let nextIsSpace = index + 1 < scalars.count && scalars[index + 1] == " "
                if allowBreaks && !spaces && column > bestWidth && !nextIsSpace {
                    fold(to: indent)
                } else {
                    put(scalar)
                }
                spaces = true
            } else {
                put(scalar)
                spaces = false
            }
        }
    }

    mutating func writeSingleQuoted(_ scalars: [Unicode.Scalar], indent: Int, allowBreaks: Bool) {
        put("'")
        var spaces = false
        for (index, scalar) in scalars.enumerated() {
            if scalar == " " {
                let nextIsSpace = index + 1 < scalars.count && scalars[index + 1] == " "
                if allowBreaks && !spaces && column > bestWidth && index > 0 && index < scalars.count - 1
                    && !nextIsSpace
                {
                    fold(to: indent)
                } else {
                    put(scalar)
                }
                spaces = true
            } else {
                if scalar == "'" { put("'") }
                put(scalar)
                spaces = false
            }
        }
        put("'")
    }

    mutating func writeDoubleQuoted(_ scalars: [Unicode.Scalar], indent: Int, allowBreaks: Bool) {
        put("\"")
        var spaces = false
        for (index, scalar) in scalars.enumerated() {
            if !Emitter.isPrintable(scalar) || scalar == "\n" || scalar == "\"" || scalar == "\\" {
                put("\\")
                switch scalar.value {
                case 0x00: put("0")
                case 0x07: put("a")
                case 0x08: put("b")
                case 0x09: put("t")
                case 0x0A: put("n")
                case 0x0B: put("v")
                case 0x0C: put("f")
                case 0x0D: put("r")
                case 0x1B: put("e")
                case 0x22: put("\"")
                case 0x5C: put("\\")
                case 0x85: put("N")
                case 0xA0: put("_")
                case 0x2028: put("L")
                case 0x2029: put("P")
                default:
                    let (letter, width): (String, Int) =
                        scalar.value <= 0xFF ? ("x", 2) : scalar.value <= 0xFFFF ? ("u", 4) : ("U", 8)
                    let digits = String(scalar.value, radix: 16, uppercase: true)
                    put(letter + String(repeating: "0", count: max(0, width - digits.count)) + digits)
                }
                spaces = false
            } else if scalar == " " {
                if allowBreaks && !spaces && column > bestWidth && index > 0 && index < scalars.count - 1 {
                    fold(to: indent)
                    if scalars[index + 1] == " " { put("\\") }
                } else {
                    put(scalar)
                }
                spaces = true
            } else {
                put(scalar)
                spaces = false
            }
        }
        put("\"")
    }

    /// A literal block (`|`, `|-`, `|+`, with an indentation indicator when the text starts with a space or
    /// a line break).
    mutating func writeLiteral(_ text: String, indent: Int) {
        put("|")
        if text.hasPrefix(" ") || text.hasPrefix("\n") { put("2") }
        var body = Substring(text)
        var trailingBreaks = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailingBreaks += 1
        }
        if trailingBreaks == 0 {
            put("-")
        } else if trailingBreaks > 1 {
            put("+")
        }
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            newline()
            if !line.isEmpty {
                pad(to: indent)
                put(String(line))
            }
        }
        for _ in 1..<max(trailingBreaks, 1) { newline() }
    }
}
