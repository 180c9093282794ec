/// A part of a double-quoted string literal.
enum StringPart: Equatable, Sendable {
    case literal(String)
    case code([Token])
}

/// A lexical token of the Ruby subset, or an ERB structure marker.
enum TokenKind: Equatable, Sendable {
    /// Literal ERB text to emit.
    case text(String)
    /// Start of `<%= ... %>`.
    case outputOpen
    /// End of `<%= ... %>`.
    case outputClose
    /// A statement separator: newline, `;`, or the end of a `<% %>` tag.
    case newline
    case identifier(String)
    case keyword(String)
    case constant(String)
    /// `name:` inside a hash literal or argument list.
    case label(String)
    case symbol(String)
    case integer(Int)
    case float(Double)
    case string([StringPart])
    case words([String])
    /// An operator or punctuation mark.
    case op(String)
    /// A regular expression literal: its source (with `#{}` parts) and option letters.
    case regex([StringPart], String)
    /// A global variable: `$1`, `$~`, `$stdout`, ... (the name without `$`).
    case global(String)
    /// Syntax recognised only to be refused (regex literals, instance and global variables, %i literals).
    case unsupported(String)
    case end
}

/// A token and where it came from.
struct Token: Equatable, Sendable {
    var kind: TokenKind
    var line: Int
    /// Whether whitespace separates this token from the previous one.
    var spaced: Bool
}

/// Turns Ruby source of the supported subset into tokens.
struct Lexer {
    static let keywords: Set<String> = [
        "if", "elsif", "else", "unless", "end", "then", "do", "and", "or", "not", "nil", "true", "false",
        "case", "when", "while", "until", "for", "in", "def", "class", "module", "begin", "rescue", "ensure",
        "yield", "return", "break", "next", "redo", "retry", "self", "super", "lambda", "proc", "defined?",
        "alias", "undef", "__FILE__", "__LINE__",
    ]

    private let chars: [Unicode.Scalar]
    private var index = 0
    private var line: Int
    private var tokens: [Token] = []
    private var spaced = true

    /// A heredoc whose body starts on the next line: its placeholder token and how to read it.
    private struct PendingHeredoc {
        var tokenIndex: Int
        var terminator: String
        var squiggly: Bool
        var indentedTerminator: Bool
        var raw: Bool
    }
    private var pendingHeredocs: [PendingHeredoc] = []

    private init(_ source: String, line: Int) {
        self.chars = Array(source.unicodeScalars)
        self.line = line
    }

    /// Lexes `source`, whose first line is `line` in the template.
    static func tokenize(_ source: String, line: Int) throws(TemplateError) -> [Token] {
        var lexer = Lexer(source, line: line)
        try lexer.run()
        return lexer.tokens
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let position = index + offset
        return position < chars.count ? chars[position] : nil
    }

    private mutating func emit(_ kind: TokenKind, line: Int? = nil) {
        tokens.append(Token(kind: kind, line: line ?? self.line, spaced: spaced))
        spaced = false
    }

    private static func isIdentStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || (scalar.properties.isAlphabetic && scalar.value < 0x80) || scalar.value >= 0x80
    }

    private static func isIdentChar(_ scalar: Unicode.Scalar) -> Bool {
        isIdentStart(scalar) || ("0"..."9").contains(scalar)
    }

    private static func isDigit(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return ("0"..."9").contains(scalar)
    }

    /// Whether the next token would start an operand (so `/` is a regex and `:x` a symbol).
    private var expectsOperand: Bool {
        guard let last = tokens.last else { return true }
        switch last.kind {
        case .op(let op): return ![")", "]", "}"].contains(op)
        case .keyword(let word): return !["end", "self", "nil", "true", "false"].contains(word)
        case .newline, .outputOpen, .label: return true
        case .identifier: return spaced
        default: return false
        }
    }

    private func syntaxError(_ message: String) -> TemplateError {
        TemplateError(code: .syntax, message: message, line: line)
    }

    /// The length of `<<~ID`, `<<-ID`, `<<ID`, `<<~'ID'` or `<<~"ID"` at the current position, if one starts here.
    private func heredocStartLength() -> Int? {
        var offset = 2
        if let flag = peek(offset), flag == "~" || flag == "-" { offset += 1 }
        guard let first = peek(offset) else { return nil }
        if first == "'" || first == "\"" {
            var end = offset + 1
            while let next = peek(end), next != first, next != "\n" { end += 1 }
            return peek(end) == first && end > offset + 1 ? end + 1 : nil
        }
        guard ("A"..."Z").contains(first) || first == "_" else { return nil }
        var end = offset
        while let next = peek(end), Lexer.isIdentChar(next) { end += 1 }
        return end
    }

    private mutating func startHeredoc() throws(TemplateError) {
        guard let length = heredocStartLength() else { throw syntaxError("invalid heredoc") }
        var text = String(String.UnicodeScalarView(chars[(index + 2)..<(index + length)]))
        let squiggly = text.hasPrefix("~")
        let indented = squiggly || text.hasPrefix("-")
        if indented { text.removeFirst() }
        var raw = false
        if text.hasPrefix("'") || text.hasPrefix("\"") {
            raw = text.hasPrefix("'")
            text = String(text.dropFirst().dropLast())
        }
        index += length
        pendingHeredocs.append(
            PendingHeredoc(
                tokenIndex: tokens.count, terminator: text, squiggly: squiggly, indentedTerminator: indented,
                raw: raw))
        emit(.string([.literal("")]))
    }

    /// Reads the bodies of the heredocs started on the line just ended, filling in their placeholder tokens.
    private mutating func readHeredocBodies() throws(TemplateError) {
        let pending = pendingHeredocs
        pendingHeredocs = []
        for heredoc in pending {
            let bodyLine = line
            var lines: [String] = []
            var found = false
            while index < chars.count {
                var end = index
                while end < chars.count, chars[end] != "\n" { end += 1 }
                let text = String(String.UnicodeScalarView(chars[index..<end]))
                index = min(end + 1, chars.count)
                line += 1
                let candidate = heredoc.indentedTerminator ? text.drop { $0 == " " || $0 == "\t" } : Substring(text)
                if candidate == heredoc.terminator || candidate == heredoc.terminator + "\r" {
                    found = true
                    break
                }
                lines.append(text + "\n")
            }
            guard found else {
                throw TemplateError(
                    code: .syntax, message: "unterminated heredoc (missing '\(heredoc.terminator)')", line: bodyLine - 1
                )
            }
            if heredoc.squiggly {
                let indents = lines.filter { !$0.allSatisfy(\.isWhitespace) }
                    .map { $0.prefix { $0 == " " || $0 == "\t" }.count }
                let common = indents.min() ?? 0
                lines = lines.map { line in
                    let leading = line.prefix { $0 == " " || $0 == "\t" }.count
                    return String(line.dropFirst(min(common, leading)))
                }
            }
            let body = lines.joined()
            if heredoc.raw {
                tokens[heredoc.tokenIndex].kind = .string([.literal(body)])
            } else {
                var inner = Lexer(body, line: bodyLine)
                tokens[heredoc.tokenIndex].kind = .string(try inner.interpolatedParts(until: nil, startLine: bodyLine))
            }
        }
    }

    private mutating func run() throws(TemplateError) {
        while let scalar = peek() {
            switch scalar {
            case " ", "\t", "\r":
                index += 1
                spaced = true
            case "\\" where peek(1) == "\n":
                index += 2
                line += 1
                spaced = true
            case "\n":
                emit(.newline)
                index += 1
                line += 1
                spaced = true
                if !pendingHeredocs.isEmpty { try readHeredocBodies() }
            case "#":
                while let next = peek(), next != "\n" { index += 1 }
            case ";":
                emit(.newline)
                index += 1
                spaced = true
            case "'":
                try lexSingleQuoted()
            case "\"":
                try lexDoubleQuoted()
            case "0"..."9":
                try lexNumber()
            case "$":
                index += 1
                if let next = peek(), "~&`'!0123456789".unicodeScalars.contains(next) {
                    var name = String(Character(next))
                    index += 1
                    if Lexer.isDigit(next) {
                        while let digit = peek(), Lexer.isDigit(digit) {
                            name.unicodeScalars.append(digit)
                            index += 1
                        }
                    }
                    emit(.global(name))
                } else {
                    emit(.global(lexWord(allowSuffix: false)))
                }
            case "`":
                // A shell command in Ruby: refused when evaluated, never run.
                let start = line
                index += 1
                while let next = peek(), next != "`" {
                    if next == "\n" { line += 1 }
                    index += next == "\\" ? 2 : 1
                }
                index += 1
                emit(.unsupported("shell commands (backticks)"), line: start)
            case "@":
                let start = line
                index += 1
                while let next = peek(), Lexer.isIdentChar(next) || next == "@" { index += 1 }
                emit(.unsupported("instance variables"), line: start)
            case ":" where peek(1) == ":":
                emit(.op("::"))
                index += 2
            case ":" where expectsOperand && peek(1).map(Lexer.isIdentStart) == true:
                index += 1
                let name = lexWord(allowSuffix: true)
                emit(.symbol(name))
            case ":" where expectsOperand && (peek(1) == "\"" || peek(1) == "'"):
                index += 1
                let before = tokens.count
                if peek() == "'" { try lexSingleQuoted() } else { try lexDoubleQuoted() }
                if tokens.count == before + 1, case .string(let parts) = tokens[before].kind,
                    parts.allSatisfy({ if case .literal = $0 { true } else { false } })
                {
                    let text = parts.map { if case .literal(let text) = $0 { text } else { "" } }.joined()
                    tokens[before].kind = .symbol(text)
                } else {
                    throw syntaxError("unsupported symbol literal")
                }
            case ":" where expectsOperand && Lexer.operatorSymbol(after: index, in: chars) != nil:
                let name = Lexer.operatorSymbol(after: index, in: chars) ?? ""
                index += 1 + name.unicodeScalars.count
                emit(.symbol(name))
            case "%" where expectsOperand && (peek(1) == "w" || peek(1) == "i" || peek(1) == "W"):
                try lexWords()
            case "%"
            where expectsOperand && (peek(1) == "q" || peek(1) == "Q")
                && peek(2).map({ "([{<|!/".unicodeScalars.contains($0) }) == true:
                let raw = peek(1) == "q"
                index += 2
                let open = peek() ?? "("
                let closers: [Unicode.Scalar: Unicode.Scalar] = ["(": ")", "[": "]", "{": "}", "<": ">"]
                let close = closers[open] ?? open
                index += 1
                let startLine = line
                if raw {
                    var text = String.UnicodeScalarView()
                    var depth = 0
                    while true {
                        guard let next = peek() else { throw syntaxError("unterminated string literal") }
                        index += 1
                        if next == "\\", let escaped = peek(), escaped == close || escaped == "\\" || escaped == open {
                            text.append(escaped)
                            index += 1
                            continue
                        }
                        if next == open && close != open { depth += 1 }
                        if next == close {
                            if depth == 0 { break }
                            depth -= 1
                        }
                        if next == "\n" { line += 1 }
                        text.append(next)
                    }
                    emit(.string([.literal(String(text))]), line: startLine)
                } else {
                    emit(.string(try interpolatedParts(until: close, startLine: startLine)), line: startLine)
                }
            case "%"
            where expectsOperand && peek(1) == "r" && peek(2).map({ !Lexer.isIdentChar($0) && $0 != " " }) == true:
                index += 2
                let open = peek() ?? "{"
                let closers: [Unicode.Scalar: Unicode.Scalar] = ["(": ")", "[": "]", "{": "}", "<": ">"]
                index += 1
                try lexRegex(open: closers[open] == nil ? nil : open, close: closers[open] ?? open)
            case "/"
            where expectsOperand
                && !(tokens.last.map { if case .identifier = $0.kind { true } else { false } }
                    == true && peek(1) == " "):
                index += 1
                try lexRegex(open: nil, close: "/")
            case "<" where peek(1) == "<" && expectsOperand && heredocStartLength() != nil:
                try startHeredoc()
            default:
                if Lexer.isIdentStart(scalar) {
                    lexIdentifier()
                } else {
                    try lexOperator()
                }
            }
        }
    }

    /// Reads a regular expression literal's body up to `close` (nesting `open`), then its option letters.
    /// Escapes stay as written (they are regexp syntax), except that an escaped delimiter loses its backslash.
    private mutating func lexRegex(open: Unicode.Scalar?, close: Unicode.Scalar) throws(TemplateError) {
        let startLine = line
        var parts: [StringPart] = []
        var text = String.UnicodeScalarView()
        var depth = 0
        while true {
            guard let next = peek() else {
                throw TemplateError(code: .syntax, message: "unterminated regexp meets end of file", line: startLine)
            }
            index += 1
            if next == "\\", let escaped = peek() {
                index += 1
                if escaped == close || escaped == open {
                    text.append(escaped)
                } else {
                    text.append(next)
                    text.append(escaped)
                }
                if escaped == "\n" { line += 1 }
                continue
            }
            if next == "#", peek() == "{" {
                index += 1
                if !text.isEmpty { parts.append(.literal(String(text))) }
                text = String.UnicodeScalarView()
                let codeLine = line
                let code = try scanInterpolation()
                parts.append(.code(try Lexer.tokenize(code, line: codeLine)))
                continue
            }
            if let open, next == open {
                depth += 1
            } else if next == close {
                if depth == 0 { break }
                depth -= 1
            }
            if next == "\n" { line += 1 }
            text.append(next)
        }
        if !text.isEmpty || parts.isEmpty { parts.append(.literal(String(text))) }
        var options = ""
        while let flag = peek(), "imxounse".unicodeScalars.contains(flag) {
            if "imx".unicodeScalars.contains(flag) { options.unicodeScalars.append(flag) }
            index += 1
        }
        emit(.regex(parts, options), line: startLine)
    }

    /// The operator named by a symbol such as `:+` or `:<=>` starting at `position` (the colon), if any.
    static func operatorSymbol(after position: Int, in chars: [Unicode.Scalar]) -> String? {
        for name in ["<=>", "===", "==", "<=", ">=", "<<", ">>", "**", "[]", "+", "-", "*", "/", "%", "<", ">"] {
            var offset = position + 1
            var matches = true
            for scalar in name.unicodeScalars {
                if offset >= chars.count || chars[offset] != scalar {
                    matches = false
                    break
                }
                offset += 1
            }
            if matches { return name }
        }
        return nil
    }

    private mutating func lexWord(allowSuffix: Bool) -> String {
        var word = String.UnicodeScalarView()
        while let next = peek(), Lexer.isIdentChar(next) {
            word.append(next)
            index += 1
        }
        if allowSuffix, let next = peek(), next == "?" || next == "!", peek(1) != "=" || peek(2) == "=" {
            word.append(next)
            index += 1
        }
        return String(word)
    }

    private mutating func lexIdentifier() {
        let afterDot: Bool
        if let last = tokens.last, case .op(let op) = last.kind, op == "." || op == "&." {
            afterDot = true
        } else {
            afterDot = false
        }
        let first = peek() ?? "_"
        let word = lexWord(allowSuffix: true)
        // `name:` is a label (hash key) unless it is `name::`.
        if !afterDot, peek() == ":", peek(1) != ":", !word.hasSuffix("?") {
            index += 1
            emit(.label(word))
            spaced = true
            return
        }
        if afterDot {
            emit(.identifier(word))
        } else if word == "defined" && peek() == "?" {
            emit(.keyword("defined?"))
        } else if Lexer.keywords.contains(word) {
            emit(.keyword(word))
        } else if ("A"..."Z").contains(first) {
            emit(.constant(word))
        } else {
            emit(.identifier(word))
        }
    }

    private mutating func lexNumber() throws(TemplateError) {
        var text = ""
        var isFloat = false
        if peek() == "0", let radix = peek(1), radix == "x" || radix == "b" || radix == "o" {
            index += 2
            var digits = ""
            while let next = peek(), Lexer.isIdentChar(next) {
                if next != "_" { digits.unicodeScalars.append(next) }
                index += 1
            }
            let base = radix == "x" ? 16 : radix == "b" ? 2 : 8
            guard let value = Int(digits, radix: base) else { throw syntaxError("invalid number literal") }
            emit(.integer(value))
            return
        }
        while let next = peek() {
            if Lexer.isDigit(next) || next == "_" {
                if next != "_" { text.unicodeScalars.append(next) }
                index += 1
            } else if next == ".", !isFloat, Lexer.isDigit(peek(1)) {
                isFloat = true
                text += "."
                index += 1
            } else if next == "e" || next == "E",
                Lexer.isDigit(peek(1)) || ((peek(1) == "-" || peek(1) == "+") && Lexer.isDigit(peek(2)))
            {
                isFloat = true
                text += "e"
                index += 1
                if let sign = peek(), sign == "-" || sign == "+" {
                    text.unicodeScalars.append(sign)
                    index += 1
                }
            } else {
                break
            }
        }
        if !isFloat, text.count > 1, text.hasPrefix("0") {
            guard let value = Int(text.dropFirst(), radix: 8) else {
                throw syntaxError("invalid octal literal '\(text)'")
            }
            emit(.integer(value))
            return
        }
        if isFloat {
            guard let value = Double(text) else { throw syntaxError("invalid number literal '\(text)'") }
            emit(.float(value))
        } else {
            guard let value = Int(text) else { throw syntaxError("integer literal out of range '\(text)'") }
            emit(.integer(value))
        }
    }

    private mutating func lexSingleQuoted() throws(TemplateError) {
        let startLine = line
        index += 1
        var text = String.UnicodeScalarView()
        while true {
            guard let next = peek() else {
                throw TemplateError(code: .syntax, message: "unterminated string literal", line: startLine)
            }
            index += 1
            if next == "'" { break }
            if next == "\\", let escaped = peek(), escaped == "'" || escaped == "\\" {
                text.append(escaped)
                index += 1
                continue
            }
            if next == "\n" { line += 1 }
            text.append(next)
        }
        emit(.string([.literal(String(text))]), line: startLine)
    }

    private mutating func lexDoubleQuoted() throws(TemplateError) {
        let startLine = line
        index += 1
        let parts = try interpolatedParts(until: "\"", startLine: startLine)
        emit(.string(parts), line: startLine)
    }

    /// Reads double-quoted string content (escapes and `#{}`) up to `terminator`, or to the end when nil.
    private mutating func interpolatedParts(until terminator: Unicode.Scalar?, startLine: Int) throws(TemplateError)
        -> [StringPart]
    {
        var parts: [StringPart] = []
        var text = String.UnicodeScalarView()
        while true {
            guard let next = peek() else {
                if terminator == nil {
                    if !text.isEmpty || parts.isEmpty { parts.append(.literal(String(text))) }
                    return parts
                }
                throw TemplateError(code: .syntax, message: "unterminated string literal", line: startLine)
            }
            index += 1
            switch next {
            case terminator:
                if !text.isEmpty || parts.isEmpty { parts.append(.literal(String(text))) }
                return parts
            case "\\":
                try lexEscape(into: &text)
            case "#" where peek() == "{":
                index += 1
                if !text.isEmpty { parts.append(.literal(String(text))) }
                text = String.UnicodeScalarView()
                let codeLine = line
                let code = try scanInterpolation()
                parts.append(.code(try Lexer.tokenize(code, line: codeLine)))
            default:
                if next == "\n" { line += 1 }
                text.append(next)
            }
        }
    }

    /// Reads up to the `}` that closes `#{`, skipping nested braces and quoted strings.
    private mutating func scanInterpolation() throws(TemplateError) -> String {
        let startLine = line
        var depth = 0
        var code = String.UnicodeScalarView()
        var quote: Unicode.Scalar?
        while let next = peek() {
            index += 1
            if next == "\n" { line += 1 }
            if let open = quote {
                code.append(next)
                if next == "\\", let escaped = peek() {
                    code.append(escaped)
                    index += 1
                } else if next == open {
                    quote = nil
                }
                continue
            }
            switch next {
            case "'", "\"":
                quote = next
            case "{":
                depth += 1
            case "}":
                if depth == 0 { return String(code) }
                depth -= 1
            default:
                break
            }
            code.append(next)
        }
        throw TemplateError(code: .syntax, message: "unterminated string interpolation", line: startLine)
    }

    private mutating func lexEscape(into text: inout String.UnicodeScalarView) throws(TemplateError) {
        guard let escaped = peek() else { throw syntaxError("unterminated string literal") }
        index += 1
        switch escaped {
        case "n": text.append("\n")
        case "t": text.append("\t")
        case "r": text.append("\r")
        case "0": text.append("\0")
        case "s": text.append(" ")
        case "e": text.append("\u{1B}")
        case "a": text.append("\u{07}")
        case "b": text.append("\u{08}")
        case "f": text.append("\u{0C}")
        case "v": text.append("\u{0B}")
        case "\n": line += 1
        case "u":
            var digits = ""
            if peek() == "{" {
                index += 1
                while let next = peek(), next != "}" {
                    digits.unicodeScalars.append(next)
                    index += 1
                }
                index += 1
            } else {
                for _ in 0..<4 {
                    if let next = peek() {
                        digits.unicodeScalars.append(next)
                        index += 1
                    }
                }
            }
            guard let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw syntaxError("invalid unicode escape")
            }
            text.append(scalar)
        case "x":
            var digits = ""
            while digits.count < 2, let next = peek(), next.properties.isASCIIHexDigit {
                digits.unicodeScalars.append(next)
                index += 1
            }
            guard let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw syntaxError("invalid hex escape")
            }
            text.append(scalar)
        default:
            text.append(escaped)
        }
    }

    private mutating func lexWords() throws(TemplateError) {
        let kind = peek(1) ?? "w"
        index += 2
        guard let open = peek() else { throw syntaxError("unterminated %\(kind) literal") }
        let closers: [Unicode.Scalar: Unicode.Scalar] = ["(": ")", "[": "]", "{": "}", "<": ">"]
        let close = closers[open] ?? open
        index += 1
        var words: [String] = []
        var current = ""
        while true {
            guard let next = peek() else { throw syntaxError("unterminated %\(kind) literal") }
            index += 1
            if next == close { break }
            if next == " " || next == "\n" || next == "\t" {
                if next == "\n" { line += 1 }
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.unicodeScalars.append(next)
            }
        }
        if !current.isEmpty { words.append(current) }
        emit(kind == "i" ? .unsupported("%i literals") : .words(words))
    }

    private static let operators: [String] = [
        "**=", "||=", "&&=", "<=>", "===", "...", "<<=", ">>=",
        "**", "==", "!=", ">=", "<=", "&&", "||", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "=>", "..",
        "::", "->", "=~", "!~", "&.",
        "+", "-", "*", "/", "%", "=", "<", ">", "!", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}", "|", "&",
        "^", "~",
    ]

    private mutating func lexOperator() throws(TemplateError) {
        for op in Lexer.operators {
            var matches = true
            var offset = 0
            for scalar in op.unicodeScalars {
                if peek(offset) != scalar {
                    matches = false
                    break
                }
                offset += 1
            }
            if matches {
                emit(.op(op))
                index += offset
                return
            }
        }
        throw syntaxError("unexpected character '\(Character(peek() ?? " "))'")
    }
}
