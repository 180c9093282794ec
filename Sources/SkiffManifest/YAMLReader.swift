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
    ///   - deserializing: what bosh calls the input when it refuses it (`ops file 'ops.yml'`): syntax errors then
    ///     read `Deserializing ops file 'ops.yml': yaml: line 3: ...` as bosh's do, instead of `Malformed YAML`.
    public static func parse(
        _ text: String, fileName: String, fileIndex: Int32 = 0, stringKeys: Bool = false,
        deserializing: String? = nil
    ) throws(ManifestError) -> ManifestValue {
        do {
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            // The anchors that tell an alias from its anchor live as long as the parser: keep it alive throughout.
            return try withExtendedLifetime(parser) { () throws -> ManifestValue in
                guard let root = try parser.nextRoot() else { return .null }
                var builder = Builder(fileName: fileName, fileIndex: fileIndex, stringKeys: stringKeys)
                builder.decodeCount = 1  // yaml.v2 counts the document node too
                return try builder.value(root)
            }
        } catch let error as ManifestError {
            guard let deserializing, error.code == .malformedYAML else { throw error }
            var wrapped = error
            wrapped.message =
                "Deserializing \(deserializing): yaml: "
                + error.message.replacingOccurrences(of: "Malformed YAML: ", with: "")
            throw wrapped
        } catch let error as YamlError {
            let syntax = describe(error, text: text)
            guard let deserializing else {
                throw ManifestError(
                    .malformedYAML, "Malformed YAML: \(syntax.problem)", file: fileName, line: syntax.line)
            }
            let place = syntax.goLine.map { "line \($0): " } ?? ""
            throw ManifestError(
                .malformedYAML, "Deserializing \(deserializing): yaml: \(place)\(syntax.problem)", file: fileName,
                line: syntax.line)
        } catch {
            throw ManifestError(.malformedYAML, "Malformed YAML: \(error)", file: fileName)
        }
    }

    /// A YAML syntax error as go-yaml (a port of the same libyaml) words it.
    struct SyntaxProblem {
        /// libyaml's problem, or go-yaml's own wording where it differs (unknown anchors).
        var problem: String
        /// The line go-yaml names (`yaml: line N: ...`), with its quirks, or nil when it names none.
        var goLine: Int?
        /// The 1-based line of the problem, for skiff's `file:line:` prefix.
        var line: Int?
    }

    static func describe(_ error: YamlError, text: String) -> SyntaxProblem {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            var scanner = false
            if case .scanner = error { scanner = true }
            // go-yaml v2 `parser.fail`: libyaml's 0-based problem line (+1 for scanner errors) when not 0,
            // else the 0-based context line when not 0, else no line at all.
            var goLine: Int?
            if mark.line - 1 != 0 {
                goLine = scanner ? mark.line : mark.line - 1
            } else if let context, context.mark.line - 1 != 0 {
                goLine = context.mark.line - 1
            }
            return SyntaxProblem(problem: problem, goLine: goLine, line: mark.line)
        case .composer(_, let problem, let mark, _):
            if problem == "found undefined alias", let name = aliasName(at: mark, in: text) {
                return SyntaxProblem(problem: "unknown anchor '\(name)' referenced", goLine: nil, line: mark.line)
            }
            return SyntaxProblem(problem: problem, goLine: nil, line: mark.line)
        case .reader(let problem, _, _, _):
            return SyntaxProblem(problem: problem, goLine: nil, line: nil)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return SyntaxProblem(problem: "duplicate map key \(names)", goLine: nil, line: context.mark.line)
        default:
            return SyntaxProblem(problem: "\(error)", goLine: nil, line: nil)
        }
    }

    /// The anchor name of the alias (`*name`) that starts at `mark`.
    private static func aliasName(at mark: Mark, in text: String) -> String? {
        var lineNumber = 1
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            defer { lineNumber += 1 }
            guard lineNumber == mark.line else { continue }
            let scalars = line.unicodeScalars
            guard
                let start = scalars.index(scalars.startIndex, offsetBy: mark.column - 1, limitedBy: scalars.endIndex),
                start < scalars.endIndex, scalars[start] == "*"
            else { return nil }
            var name = ""
            for scalar in scalars[scalars.index(after: start)...] {
                if scalar == " " || scalar == "\t" || scalar == "," || scalar == "]" || scalar == "}" { break }
                name.unicodeScalars.append(scalar)
            }
            return name.isEmpty ? nil : name
        }
        return nil
    }

    /// A map being read: entries in order plus an index of their keys, so that reading n keys takes linear time
    /// (a later duplicate replaces the earlier value in place, as ``ManifestMap/set(_:_:origin:)`` does).
    struct MapAccumulator {
        var map = ManifestMap()
        var positions: [ManifestValue: Int] = [:]

        init(capacity: Int) {
            map.entries.reserveCapacity(capacity)
            positions.reserveCapacity(capacity)
        }

        mutating func set(_ key: ManifestValue, _ value: ManifestValue, origin: SourceOrigin) {
            if let position = positions[key] {
                map.entries[position].value = value
                if origin.isKnown { map.entries[position].origin = origin }
            } else {
                positions[key] = map.entries.count
                map.entries.append(ManifestMap.Entry(key: key, value: value, origin: origin))
            }
        }
    }

    /// Builds a ``ManifestValue`` from Yams' node tree as gopkg.in/yaml.v2 decodes into `interface{}`, including
    /// its guard against alias bombs (`document contains excessive aliasing`).
    private struct Builder {
        let fileName: String
        let fileIndex: Int32
        /// Only the root mapping's keys are read as text (the Go type is `map[string]interface{}`).
        var stringKeys: Bool
        /// yaml.v2's counters: nodes decoded, and nodes decoded inside an alias.
        var decodeCount = 0
        var aliasCount = 0
        var aliasDepth = 0
        /// Anchors already defined in document order: a node carrying one of them again is an alias of it.
        var definedAnchors: Set<ObjectIdentifier> = []

        init(fileName: String, fileIndex: Int32, stringKeys: Bool) {
            self.fileName = fileName
            self.fileIndex = fileIndex
            self.stringKeys = stringKeys
        }

        /// yaml.v2's `allowedAliasRatio`: 99% of decodes may come from aliases for documents up to 400,000
        /// decodes, scaling down to 10% at 4,000,000.
        static func allowedAliasRatio(_ decodeCount: Int) -> Double {
            let low = 400_000.0
            let high = 4_000_000.0
            let count = Double(decodeCount)
            if count <= low { return 0.99 }
            if count >= high { return 0.10 }
            return 0.99 - 0.89 * ((count - low) / (high - low))
        }

        /// Counts one decode as yaml.v2's `unmarshal` does, and refuses a document that is mostly alias expansion.
        mutating func count() throws(ManifestError) {
            decodeCount += 1
            if aliasDepth > 0 { aliasCount += 1 }
            if aliasCount > 100 && decodeCount > 1000
                && Double(aliasCount) / Double(decodeCount) > Self.allowedAliasRatio(decodeCount)
            {
                // No line: an alias' node carries its anchor's position, not where the expansion ran away.
                throw ManifestError(
                    .malformedYAML, "Malformed YAML: document contains excessive aliasing", file: fileName)
            }
        }

        /// Decodes `node`, following it as an alias when its anchor was defined earlier.
        mutating func value(_ node: Node) throws(ManifestError) -> ManifestValue {
            try count()
            guard let anchor = node.anchor else { return try decode(node) }
            let identity = ObjectIdentifier(anchor)
            guard definedAnchors.contains(identity) else {
                definedAnchors.insert(identity)
                return try decode(node)
            }
            // An alias: yaml.v2 counts the alias node, then its target inside the alias.
            aliasDepth += 1
            defer { aliasDepth -= 1 }
            try count()
            return try decode(node)
        }

        private mutating func decode(_ node: Node) throws(ManifestError) -> ManifestValue {
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
                var map = MapAccumulator(capacity: mapping.count)
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
                return .map(map.map)
            case .alias:
                return .null
            }
        }

        /// Yams resolves key tags while checking for duplicate keys, so a plain key's `str` tag is not explicit.
        private mutating func key(_ node: Node) throws(ManifestError) -> ManifestValue {
            if case .scalar(let scalar) = node, scalar.style == .plain, scalar.tag.rawValue == Tag.Name.str.rawValue,
                scalar.anchor == nil
            {
                try count()
                return stringKeys ? .string(scalar.string) : ScalarResolver.resolve(scalar.string)
            }
            return try value(node)
        }

        private func isMergeKey(_ node: Node) -> Bool {
            guard case .scalar(let scalar) = node, scalar.style == .plain, scalar.string == "<<" else { return false }
            let tag = scalar.tag.rawValue
            return tag.isEmpty || tag == Tag.Name.merge.rawValue || tag == Tag.Name.str.rawValue
        }

        private mutating func merge(_ node: Node, into map: inout MapAccumulator) throws(ManifestError) {
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
            return isBase60Float(text) || isTimestamp(text)
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

    /// Whether yaml.v2 resolves the plain scalar `text` as a timestamp (and so quotes such a string on output):
    /// `YYYY-` and then all of it parses with one of Go's layouts `2006-1-2T15:4:5.999999999Z07:00` (also with
    /// `t`), `2006-1-2 15:4:5.999999999` or `2006-1-2`. `2001-01-01` is one; `2024-01` and `1024-1033` are not.
    public static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 5 else { return false }
        for i in 0..<4 where !(bytes[i] >= 48 && bytes[i] <= 57) { return false }
        guard bytes[4] == UInt8(ascii: "-") else { return false }
        var i = 5
        /// Go's `getnum(value, false)`: one digit, or two when the second is a digit too.
        func number() -> Int? {
            guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { return nil }
            var value = Int(bytes[i] - 48)
            i += 1
            if i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                value = value * 10 + Int(bytes[i] - 48)
                i += 1
            }
            return value
        }
        func literal(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }
        let year = (0..<4).reduce(0) { $0 * 10 + Int(bytes[$1] - 48) }
        guard let month = number(), (1...12).contains(month), literal(UInt8(ascii: "-")), let day = number()
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day >= 1, day <= days else { return false }
        if i == bytes.count { return true }
        let separator = bytes[i]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ")
        else { return false }
        i += 1
        guard let hour = number(), hour < 24, literal(UInt8(ascii: ":")), let minute = number(), minute < 60,
            literal(UInt8(ascii: ":")), let second = number(), second < 60
        else { return false }
        // Optional fraction: `.` or `,` then any number of digits.
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ","),
            bytes[i + 1] >= 48, bytes[i + 1] <= 57
        {
            i += 1
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        if separator == UInt8(ascii: " ") { return i == bytes.count }
        // `Z07:00`: `Z`, or a sign, two digits, `:`, two digits.
        if literal(UInt8(ascii: "Z")) { return i == bytes.count }
        guard bytes.count - i == 6, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-"),
            bytes[i + 3] == UInt8(ascii: ":")
        else { return false }
        for j in [1, 2, 4, 5] where !(bytes[i + j] >= 48 && bytes[i + j] <= 57) { return false }
        let offsetHours = Int(bytes[i + 1] - 48) * 10 + Int(bytes[i + 2] - 48)
        let offsetMinutes = Int(bytes[i + 4] - 48) * 10 + Int(bytes[i + 5] - 48)
        return offsetHours <= 24 && offsetMinutes <= 60
    }
}
