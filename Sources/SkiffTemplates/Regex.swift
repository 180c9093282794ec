import Foundation

/// Ruby regular expressions on top of ICU (`NSRegularExpression`), with Ruby's syntax and semantics where they
/// differ: `^`/`$` always match at line boundaries, `/m` lets `.` match a newline, `\h` is a hex digit, `{,n}` is
/// `{0,n}`, and positions are counted in characters (code points).
extension Interpreter {
    /// A Regexp value: its Ruby source and option letters (`i`, `m`, `x`).
    static func regexpValue(source: String, options: String) -> RValue {
        .instance(
            RObject(
                className: "Regexp",
                fields: RHash([(.string("source"), .string(source)), (.string("options"), .string(options))])))
    }

    /// The Regexp's source and options when `value` is one.
    static func regexpParts(_ value: RValue) -> (source: String, options: String)? {
        guard case .instance(let object) = value, object.className == "Regexp",
            case .string(let source) = object["source"], case .string(let options) = object["options"]
        else { return nil }
        return (source, options)
    }

    /// Translates Ruby regexp syntax to ICU's.
    static func icuPattern(_ source: String) -> String {
        var result = ""
        var inClass = 0
        var scalars = Array(source.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "\\":
                guard let next = scalars.popFirst() else {
                    result += "\\\\"
                    continue
                }
                switch next {
                case "h": result += inClass > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]"
                case "H": result += inClass > 0 ? "\\x{0}-/:-@G-`g-\\x{10FFFF}" : "[^0-9a-fA-F]"
                case "/": result += "/"
                default:
                    result += "\\"
                    result.unicodeScalars.append(next)
                }
            case "[":
                inClass += 1
                result += "["
                if scalars.first == "^" {
                    result += "^"
                    scalars.removeFirst()
                }
                // A `]` first in a class is a literal in both dialects; `[` needs escaping for ICU.
                if scalars.first == "]" {
                    result += "\\]"
                    scalars.removeFirst()
                }
            case "]" where inClass > 0:
                inClass -= 1
                result += "]"
            case "{" where inClass == 0 && scalars.first == ",":
                result += "{0"
            case "(" where inClass == 0 && scalars.starts(with: "?m".unicodeScalars):
                // Ruby's inline `m` is ICU's `s` (dot matches newline).
                result += "(?s"
                scalars.removeFirst(2)
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The compiled expression for a Regexp value (cached per interpreter).
    func compiled(_ source: String, _ options: String, _ line: Int) throws(Signal) -> NSRegularExpression {
        let key = options + "/" + source
        if let cached = regexCache[key] { return cached }
        var flags: NSRegularExpression.Options = [.anchorsMatchLines]
        if options.contains("i") { flags.insert(.caseInsensitive) }
        if options.contains("m") { flags.insert(.dotMatchesLineSeparators) }
        if options.contains("x") { flags.insert(.allowCommentsAndWhitespace) }
        do {
            let pattern = source.isEmpty ? "(?:)" : Interpreter.icuPattern(source)
            let expression = try NSRegularExpression(pattern: pattern, options: flags)
            regexCache[key] = expression
            return expression
        } catch {
            throw raised("RegexpError", "invalid regular expression: /\(source)/", line)
        }
    }

    /// The expression for a pattern argument: a Regexp, or a String matched literally.
    func pattern(_ value: RValue, _ line: Int) throws(Signal) -> NSRegularExpression {
        if let (source, options) = Interpreter.regexpParts(value) { return try compiled(source, options, line) }
        guard case .string(let text) = value else {
            throw raised("TypeError", "wrong argument type \(value.className) (expected Regexp)", line)
        }
        return try compiled(NSRegularExpression.escapedPattern(for: text), "", line)
    }

    /// The names of the named groups of a Ruby source, in order.
    static func groupNames(_ source: String) -> [String] {
        var names: [String] = []
        var rest = Substring(source)
        while let range = rest.range(of: "(?<") {
            rest = rest[range.upperBound...]
            guard let first = rest.first, first != "=", first != "!", let end = rest.firstIndex(of: ">") else {
                continue
            }
            names.append(String(rest[..<end]))
        }
        return names
    }

    /// All matches of `expression` in `text`, as MatchData values.
    func matches(_ expression: NSRegularExpression, _ text: String, names: [String], limit: Int = Int.max)
        -> [RValue]
    {
        let whole = NSRange(text.startIndex..., in: text)
        return expression.matches(in: text, options: [], range: whole).prefix(limit).map {
            matchData($0, text, names: names)
        }
    }

    /// The first match at or after character offset `start`, or nil.
    func firstMatch(_ expression: NSRegularExpression, _ text: String, names: [String], start: Int = 0) -> RValue? {
        var from = text.startIndex
        if start > 0 {
            guard start <= text.unicodeScalars.count else { return nil }
            from = text.unicodeScalars.index(text.startIndex, offsetBy: start)
        }
        let range = NSRange(from..., in: text)
        guard let result = expression.firstMatch(in: text, options: [], range: range) else { return nil }
        return matchData(result, text, names: names)
    }

    private func matchData(_ result: NSTextCheckingResult, _ text: String, names: [String]) -> RValue {
        func substring(_ range: NSRange) -> RValue {
            guard range.location != NSNotFound, let swiftRange = Range(range, in: text) else { return .null }
            return .string(String(text[swiftRange]))
        }
        var groups: [RValue] = []
        for index in 0..<result.numberOfRanges { groups.append(substring(result.range(at: index))) }
        let whole = Range(result.range, in: text) ?? text.startIndex..<text.startIndex
        var named = RHash()
        for name in names { named[.string(name)] = substring(result.range(withName: name)) }
        return .instance(
            RObject(
                className: "MatchData",
                fields: RHash([
                    (.string("match"), groups.first ?? .null),
                    (.string("groups"), .array(groups)),
                    (.string("named"), .hash(named)),
                    (.string("pre"), .string(String(text[..<whole.lowerBound]))),
                    (.string("post"), .string(String(text[whole.upperBound...]))),
                    (.string("begin"), .int(text.unicodeScalars.distance(from: text.startIndex, to: whole.lowerBound))),
                    (.string("end"), .int(text.unicodeScalars.distance(from: text.startIndex, to: whole.upperBound))),
                ])))
    }

    /// `text =~ pattern`: the character offset of the first match (setting `$~`), or nil.
    func matchOperator(_ text: String, _ patternValue: RValue, _ line: Int) throws(Signal) -> RValue {
        guard let (source, options) = Interpreter.regexpParts(patternValue) else {
            throw raised("TypeError", "wrong argument type \(patternValue.className) (expected Regexp)", line)
        }
        let match =
            firstMatch(try compiled(source, options, line), text, names: Interpreter.groupNames(source)) ?? .null
        lastMatch = match
        guard case .instance(let object) = match else { return .null }
        return object["begin"]
    }

    /// `str.match(pattern)` / `re.match(str)`: MatchData or nil, setting `$~`.
    func match(_ text: String, _ patternValue: RValue, start: Int = 0, _ line: Int) throws(Signal) -> RValue {
        let names = Interpreter.regexpParts(patternValue).map { Interpreter.groupNames($0.source) } ?? []
        let match = firstMatch(try pattern(patternValue, line), text, names: names, start: start) ?? .null
        lastMatch = match
        return match
    }

    /// `$~`, `$1`...: the last match or one of its groups.
    func lastMatchValue(_ name: String) -> RValue {
        guard case .instance(let object) = lastMatch else { return .null }
        switch name {
        case "~": return lastMatch
        case "&": return object["match"]
        case "`": return object["pre"]
        case "'": return object["post"]
        default:
            guard let index = Int(name), case .array(let groups) = object["groups"], index < groups.count else {
                return .null
            }
            return groups[index]
        }
    }

    /// Expands `\1`, `\0`, `\&`, `\k<name>`, `` \` ``, `\'` and `\\` in a replacement string.
    func expandReplacement(_ replacement: String, _ match: RObject) -> String {
        guard replacement.contains("\\") else { return replacement }
        var groups: [RValue] = []
        if case .array(let items) = match["groups"] { groups = items }
        var result = ""
        var scalars = Array(replacement.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            guard scalar == "\\", let next = scalars.first else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch next {
            case "0"..."9":
                scalars.removeFirst()
                let index = Int(next.value - 48)
                if index < groups.count { result += RubyFormat.toS(groups[index]) }
            case "&":
                scalars.removeFirst()
                result += RubyFormat.toS(match["match"])
            case "`":
                scalars.removeFirst()
                result += RubyFormat.toS(match["pre"])
            case "'":
                scalars.removeFirst()
                result += RubyFormat.toS(match["post"])
            case "\\":
                scalars.removeFirst()
                result += "\\"
            case "k":
                let text = String(String.UnicodeScalarView(scalars))
                if text.hasPrefix("k<"), let end = text.firstIndex(of: ">") {
                    let name = String(text[text.index(text.startIndex, offsetBy: 2)..<end])
                    if case .hash(let named) = match["named"] {
                        result += RubyFormat.toS(named[.string(name)] ?? .null)
                    }
                    scalars.removeFirst(text.unicodeScalars.distance(from: text.startIndex, to: end) + 1)
                } else {
                    result += "\\"
                }
            default:
                result += "\\"
            }
        }
        return result
    }

    /// `sub`/`gsub` with a Regexp (or a String pattern with a block): replacement string, hash or block.
    func substitute(
        _ text: String, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int
    ) throws(Signal) -> RValue {
        guard (1...2).contains(arguments.count) else {
            throw raised("ArgumentError", "wrong number of arguments (given \(arguments.count), expected 1..2)", line)
        }
        guard arguments.count == 2 || block != nil else {
            throw failure(.unsupportedMethod, "unsupported method '\(name)' without a replacement or block", line)
        }
        let names = Interpreter.regexpParts(arguments[0]).map { Interpreter.groupNames($0.source) } ?? []
        let expression = try pattern(arguments[0], line)
        let found = matches(expression, text, names: names, limit: name == "sub" ? 1 : Int.max)
        guard !found.isEmpty else {
            if Interpreter.regexpParts(arguments[0]) != nil { lastMatch = .null }
            return .string(text)
        }
        var result = ""
        var position = text.unicodeScalars.startIndex
        let scalars = text.unicodeScalars
        for value in found {
            guard case .instance(let object) = value, case .int(let begin) = object["begin"],
                case .int(let end) = object["end"]
            else { continue }
            let start = scalars.index(scalars.startIndex, offsetBy: begin)
            result += String(scalars[position..<start])
            let matched = RubyFormat.toS(object["match"])
            if arguments.count == 2 {
                switch arguments[1] {
                case .string(let replacement): result += expandReplacement(replacement, object)
                case .hash(let table): result += RubyFormat.toS(table[.string(matched)] ?? .null)
                default:
                    throw raised("TypeError", "no implicit conversion of \(arguments[1].className) into String", line)
                }
            } else {
                lastMatch = value
                result += RubyFormat.toS(try invoke(block, [.string(matched)], line))
            }
            position = scalars.index(scalars.startIndex, offsetBy: end)
        }
        result += String(scalars[position...])
        lastMatch = found.last ?? .null
        return .string(result)
    }

    /// `scan`: every match (or every match's groups), yielded to the block when there is one.
    func scan(_ text: String, _ arguments: [RValue], _ block: Callable?, _ line: Int) throws(Signal) -> RValue {
        try arity("scan", arguments, 1...1, line)
        let names = Interpreter.regexpParts(arguments[0]).map { Interpreter.groupNames($0.source) } ?? []
        var results: [RValue] = []
        for value in matches(try pattern(arguments[0], line), text, names: names) {
            guard case .instance(let object) = value, case .array(let groups) = object["groups"] else { continue }
            let item: RValue = groups.count > 1 ? .array(Array(groups.dropFirst())) : object["match"]
            lastMatch = value
            if block != nil { _ = try invoke(block, [item], line) } else { results.append(item) }
        }
        return block != nil ? .string(text) : .array(results)
    }

    /// `split(regexp, limit)`: fields between matches, with captured groups in between, as Ruby does.
    func split(_ text: String, regexp: RValue, limit: Int, _ line: Int) throws(Signal) -> [String] {
        if text.isEmpty { return [] }
        let names = Interpreter.regexpParts(regexp).map { Interpreter.groupNames($0.source) } ?? []
        let scalars = text.unicodeScalars
        var fields: [String] = []
        var start = 0
        var searchFrom = 0
        let count = scalars.count
        for value in matches(try pattern(regexp, line), text, names: names) {
            if limit > 0 && fields.count >= limit - 1 { break }
            guard case .instance(let object) = value, case .int(let begin) = object["begin"],
                case .int(let end) = object["end"], case .array(let groups) = object["groups"]
            else { continue }
            if begin < searchFrom { continue }
            if begin == end {
                // An empty match splits between characters (never at the very start or end).
                if begin == 0 || begin >= count { continue }
            }
            let from = scalars.index(scalars.startIndex, offsetBy: start)
            let to = scalars.index(scalars.startIndex, offsetBy: begin)
            fields.append(String(scalars[from..<to]))
            for group in groups.dropFirst() where group != .null { fields.append(RubyFormat.toS(group)) }
            start = end
            searchFrom = max(end, begin + 1)
        }
        fields.append(String(scalars[scalars.index(scalars.startIndex, offsetBy: min(start, count))...]))
        if limit == 0 {
            while fields.last == "" { fields.removeLast() }
        }
        return fields
    }

    /// Methods of Regexp and MatchData objects; nil when `name` is not one of theirs.
    func sendRegexpObject(_ object: RObject, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue?
    {
        if object.className == "Regexp", let (source, options) = Interpreter.regexpParts(.instance(object)) {
            switch name {
            case "source": return .string(source)
            case "match", "=~", "match?", "===":
                try arity(name, arguments, 1...2, line)
                guard case .string(let text) = arguments[0] else {
                    if arguments[0] == .null {
                        if name != "match?" { lastMatch = .null }
                        return name == "===" || name == "match?" ? .bool(false) : .null
                    }
                    if name == "===" { return .bool(false) }
                    throw raised("TypeError", "no implicit conversion of \(arguments[0].className) into String", line)
                }
                var start = 0
                if arguments.count == 2, case .int(let offset) = arguments[1] { start = offset }
                if name == "=~" { return try matchOperator(text, .instance(object), line) }
                if name == "match?" {
                    let expression = try compiled(source, options, line)
                    return .bool(firstMatch(expression, text, names: [], start: start) != nil)
                }
                let result = try match(text, .instance(object), start: start, line)
                return name == "===" ? .bool(result != .null) : result
            case "names": return .array(Interpreter.groupNames(source).map(RValue.string))
            case "options":
                var bits = 0
                if options.contains("i") { bits |= 1 }
                if options.contains("x") { bits |= 2 }
                if options.contains("m") { bits |= 4 }
                return .int(bits)
            case "casefold?": return .bool(options.contains("i"))
            case "==", "eql?": return .bool(arguments.first == .instance(object))
            default: return nil
            }
        }
        if object.className == "MatchData" {
            var groups: [RValue] = []
            if case .array(let items) = object["groups"] { groups = items }
            switch name {
            case "[]":
                try arity(name, arguments, 1...1, line)
                switch arguments[0] {
                case .int(let index):
                    let position = index < 0 ? groups.count + index : index
                    return position >= 0 && position < groups.count ? groups[position] : .null
                case .string(let key), .symbol(let key):
                    guard case .hash(let named) = object["named"], let value = named[.string(key)] else {
                        throw raised("IndexError", "undefined group name reference: \(key)", line)
                    }
                    return value
                default:
                    throw raised("TypeError", "no implicit conversion of \(arguments[0].className) into Integer", line)
                }
            case "captures": return .array(Array(groups.dropFirst()))
            case "to_a": return .array(groups)
            case "named_captures": return object["named"]
            case "names":
                guard case .hash(let named) = object["named"] else { return .array([]) }
                return .array(named.keys)
            case "pre_match": return object["pre"]
            case "post_match": return object["post"]
            case "to_s": return object["match"]
            case "size", "length": return .int(groups.count)
            case "begin", "end":
                try arity(name, arguments, 1...1, line)
                guard arguments[0] == .int(0) else {
                    throw failure(.unsupportedMethod, "unsupported method 'MatchData#\(name)' for a group", line)
                }
                return object[name]
            case "values_at":
                var values: [RValue] = []
                for argument in arguments {
                    guard case .int(let index) = argument else { continue }
                    values.append(index >= 0 && index < groups.count ? groups[index] : .null)
                }
                return .array(values)
            default: return nil
            }
        }
        return nil
    }
}
