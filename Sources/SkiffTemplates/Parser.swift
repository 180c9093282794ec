/// Parses the token stream of a whole ERB template (text, output tags and Ruby code) into one node.
struct Parser {
    private var tokens: [Token]
    private var position = 0
    /// Known local variable names, innermost block last (Ruby decides `foo` vs `foo()` at parse time).
    private var locals: [Set<String>]
    /// Whether a `do` block may bind to the call being parsed (not inside command arguments).
    private var doAllowed = true
    /// Current expression nesting, bounded so that hostile input cannot exhaust the stack.
    private var depth = 0
    static let maximumDepth = 150

    private mutating func enter() throws(TemplateError) {
        depth += 1
        if depth > Parser.maximumDepth {
            throw TemplateError(
                code: .unsupportedSyntax,
                message: "unsupported syntax: expressions nested deeper than \(Parser.maximumDepth) levels", line: line)
        }
    }

    init(tokens: [Token], locals: [Set<String>] = [[]], endLine: Int? = nil) {
        var tokens = tokens
        let lastLine = endLine ?? tokens.last?.line ?? 1
        tokens.append(Token(kind: .end, line: lastLine, spaced: true))
        self.tokens = tokens
        self.locals = locals
    }

    /// Compiles ERB source into a node.
    static func compile(_ source: String) throws(TemplateError) -> SyntaxNode {
        var tokens: [Token] = []
        for segment in try ERBScanner.scan(source) {
            switch segment {
            case .text(let text, let line):
                tokens.append(Token(kind: .text(text), line: line, spaced: true))
            case .code(let code, let line):
                tokens += try Lexer.tokenize(code, line: line)
                tokens.append(Token(kind: .newline, line: tokens.last?.line ?? line, spaced: true))
            case .output(let code, let line):
                tokens.append(Token(kind: .outputOpen, line: line, spaced: true))
                tokens += try Lexer.tokenize(code, line: line)
                tokens.append(Token(kind: .outputClose, line: tokens.last?.line ?? line, spaced: true))
            }
        }
        let endLine = source.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
        var parser = Parser(tokens: tokens, endLine: endLine)
        let node = try parser.parseStatements(terminators: [])
        if parser.current.kind != .end {
            throw parser.unexpected()
        }
        return node
    }

    // MARK: - Token helpers

    private var current: Token { tokens[position] }
    private var line: Int { current.line }

    private func peekToken(_ offset: Int = 1) -> Token {
        tokens[min(position + offset, tokens.count - 1)]
    }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(let actual) = current.kind { return actual == op }
        return false
    }

    private func isKeyword(_ word: String) -> Bool {
        if case .keyword(let actual) = current.kind { return actual == word }
        return false
    }

    private mutating func acceptOp(_ op: String) -> Bool {
        if isOp(op) {
            advance()
            return true
        }
        return false
    }

    private mutating func acceptKeyword(_ word: String) -> Bool {
        if isKeyword(word) {
            advance()
            return true
        }
        return false
    }

    private mutating func expectOp(_ op: String) throws(TemplateError) {
        guard acceptOp(op) else { throw unexpected(expecting: "'\(op)'") }
    }

    private mutating func expectKeyword(_ word: String) throws(TemplateError) {
        guard acceptKeyword(word) else { throw unexpected(expecting: "'\(word)'") }
    }

    private mutating func skipNewlines() {
        while current.kind == .newline { advance() }
    }

    private func isLocal(_ name: String) -> Bool {
        locals.contains { $0.contains(name) }
    }

    private mutating func declareLocal(_ name: String) {
        locals[locals.count - 1].insert(name)
    }

    static func describe(_ kind: TokenKind) -> String {
        switch kind {
        case .text: return "template text"
        case .outputOpen: return "'<%='"
        case .outputClose: return "'%>'"
        case .newline: return "end of line"
        case .identifier(let name), .keyword(let name), .constant(let name): return "'\(name)'"
        case .label(let name): return "'\(name):'"
        case .symbol(let name): return "':\(name)'"
        case .integer(let value): return "'\(value)'"
        case .float(let value): return "'\(value)'"
        case .string: return "string literal"
        case .words: return "%w literal"
        case .op(let op): return "'\(op)'"
        case .unsupported(let what): return what
        case .end: return "end of template"
        }
    }

    private func unexpected(expecting: String? = nil) -> TemplateError {
        if case .unsupported(let what) = current.kind {
            return TemplateError(code: .unsupportedSyntax, message: "unsupported syntax: \(what)", line: line)
        }
        var message = "syntax error, unexpected \(Parser.describe(current.kind))"
        if let expecting { message += ", expecting \(expecting)" }
        return TemplateError(code: .syntax, message: message, line: line)
    }

    private func unsupported(_ what: String, line: Int? = nil) -> TemplateError {
        TemplateError(code: .unsupportedSyntax, message: "unsupported syntax: \(what)", line: line ?? self.line)
    }

    // MARK: - Statements

    /// Parses statements until a keyword in `terminators`, a closing `}`/`)`, `%>` of an output tag, or the end.
    private mutating func parseStatements(terminators: Set<String>, closing: String? = nil) throws(TemplateError)
        -> SyntaxNode
    {
        let startLine = line
        var nodes: [SyntaxNode] = []
        while true {
            skipNewlines()
            switch current.kind {
            case .end, .outputClose:
                return SyntaxNode(kind: .sequence(nodes), line: startLine)
            case .keyword(let word) where terminators.contains(word):
                return SyntaxNode(kind: .sequence(nodes), line: startLine)
            case .op(let op) where op == closing:
                return SyntaxNode(kind: .sequence(nodes), line: startLine)
            default:
                break
            }
            let statement = try parseStatement()
            nodes.append(statement)
            switch statement.kind {
            case .text, .output: continue
            default: break
            }
            switch current.kind {
            case .newline, .end, .text, .outputOpen, .outputClose:
                break
            case .keyword(let word) where terminators.contains(word):
                break
            case .op(let op) where op == closing:
                break
            default:
                throw unexpected()
            }
        }
    }

    private mutating func parseStatement() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        switch current.kind {
        case .text(let text):
            advance()
            return SyntaxNode(kind: .text(text), line: startLine)
        case .outputOpen:
            advance()
            let body = try parseStatements(terminators: [])
            guard current.kind == .outputClose else { throw unexpected(expecting: "'%>'") }
            advance()
            return SyntaxNode(kind: .output(body), line: startLine)
        default:
            break
        }
        var node = try parseExpressionStatement()
        while true {
            if acceptKeyword("if") {
                let condition = try parseExpressionStatement()
                node = SyntaxNode(kind: .conditional(condition: condition, then: node, otherwise: nil), line: startLine)
            } else if acceptKeyword("unless") {
                let condition = try parseExpressionStatement()
                let negated = SyntaxNode(kind: .not(condition), line: condition.line)
                node = SyntaxNode(kind: .conditional(condition: negated, then: node, otherwise: nil), line: startLine)
            } else if acceptKeyword("rescue") {
                let fallback = try parseExpressionStatement()
                if case .assign(let name, let value) = node.kind {
                    // `a = b rescue c` assigns `b rescue c`, as Ruby parses it.
                    let guarded = SyntaxNode(kind: .rescueModifier(value, fallback), line: startLine)
                    node = SyntaxNode(kind: .assign(name, guarded), line: startLine)
                } else {
                    node = SyntaxNode(kind: .rescueModifier(node, fallback), line: startLine)
                }
            } else if isKeyword("while") || isKeyword("until") {
                throw unsupported("'\(Parser.describe(current.kind).trimmingQuotes)' modifier")
            } else {
                return node
            }
        }
    }

    /// `not`, `and`, `or` level.
    private mutating func parseExpressionStatement() throws(TemplateError) -> SyntaxNode {
        var left = try parseLowNot()
        while true {
            let startLine = line
            if acceptKeyword("and") {
                skipNewlines()
                let right = try parseLowNot()
                left = SyntaxNode(kind: .and(left, right), line: startLine)
            } else if acceptKeyword("or") {
                skipNewlines()
                let right = try parseLowNot()
                left = SyntaxNode(kind: .or(left, right), line: startLine)
            } else {
                return left
            }
        }
    }

    private mutating func parseLowNot() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        if acceptKeyword("not") {
            return SyntaxNode(kind: .not(try parseLowNot()), line: startLine)
        }
        return try parseExpression()
    }

    private static let assignmentOperators: [String: String] = [
        "+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "**=": "**", "||=": "||", "&&=": "&&", "<<=": "<<",
        "|=": "|", "&=": "&",
    ]

    /// Assignment level (right-associative), above the ternary.
    private mutating func parseExpression() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let left = try parseTernary()
        guard case .op(let op) = current.kind else { return left }
        if op == "=" {
            advance()
            skipNewlines()
            switch left.kind {
            case .localVariable(let name):
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .assign(name, value), line: startLine)
            case .call(receiver: nil, let name, let arguments, block: nil) where arguments.isEmpty:
                declareLocal(name)
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .assign(name, value), line: startLine)
            case .index(let receiver, let index):
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .indexAssign(receiver: receiver, index: index, value: value), line: startLine)
            case .call(receiver: .some, let name, _, block: nil):
                throw unsupported("attribute assignment '\(name)='", line: startLine)
            default:
                throw TemplateError(
                    code: .syntax, message: "syntax error, cannot assign to this expression",
                    line: startLine)
            }
        }
        if let binary = Parser.assignmentOperators[op] {
            advance()
            skipNewlines()
            var target = left
            switch left.kind {
            case .call(receiver: nil, let name, let arguments, block: nil) where arguments.isEmpty:
                declareLocal(name)
                target = SyntaxNode(kind: .localVariable(name), line: left.line)
            case .localVariable, .index:
                break
            default:
                throw TemplateError(
                    code: .syntax, message: "syntax error, cannot assign to this expression",
                    line: startLine)
            }
            let value = try parseAssignedValue()
            return SyntaxNode(kind: .operatorAssign(target: target, op: binary, value: value), line: startLine)
        }
        return left
    }

    /// The right side of `=`: an expression, or `a, b` (an array) as Ruby allows.
    private mutating func parseAssignedValue() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let first = try parseExpression()
        guard isOp(",") else { return first }
        var items = [first]
        while acceptOp(",") {
            skipNewlines()
            items.append(try parseExpression())
        }
        return SyntaxNode(kind: .array(items), line: startLine)
    }

    private mutating func parseTernary() throws(TemplateError) -> SyntaxNode {
        try enter()
        defer { depth -= 1 }
        let startLine = line
        let condition = try parseRange()
        guard acceptOp("?") else { return condition }
        skipNewlines()
        let whenTrue = try parseTernary()
        skipNewlines()
        // `a ? b :c` lexes `:c` as a symbol; Ruby reads it as the else branch.
        if case .symbol(let name) = current.kind {
            advance()
            let whenFalse = SyntaxNode(kind: .call(receiver: nil, name: name, arguments: [], block: nil), line: line)
            let resolved = isLocal(name) ? SyntaxNode(kind: .localVariable(name), line: line) : whenFalse
            return SyntaxNode(
                kind: .conditional(condition: condition, then: whenTrue, otherwise: resolved), line: startLine)
        }
        try expectOp(":")
        skipNewlines()
        let whenFalse = try parseTernary()
        return SyntaxNode(
            kind: .conditional(condition: condition, then: whenTrue, otherwise: whenFalse), line: startLine)
    }

    private mutating func parseRange() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let left = try parseBinary(level: 0)
        if isOp("..") || isOp("...") {
            let exclusive = isOp("...")
            advance()
            switch current.kind {
            case .op("]"), .op(")"), .newline, .outputClose, .end: throw unsupported("endless ranges")
            default: break
            }
            let right = try parseBinary(level: 0)
            return SyntaxNode(kind: .range(left, right, exclusive: exclusive), line: startLine)
        }
        return left
    }

    /// Binary operator levels, loosest first.
    private static let binaryLevels: [[String]] = [
        ["||"], ["&&"], ["==", "!=", "===", "=~", "!~", "<=>"], ["<", ">", "<=", ">="], ["|", "^"], ["&"],
        ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
    ]

    private mutating func parseBinary(level: Int) throws(TemplateError) -> SyntaxNode {
        guard level < Parser.binaryLevels.count else { return try parseUnaryMinus() }
        var left = try parseBinary(level: level + 1)
        while case .op(let op) = current.kind, Parser.binaryLevels[level].contains(op) {
            let startLine = line
            if op == "=~" || op == "!~" { throw unsupported("regular expression match '\(op)'") }
            advance()
            skipNewlines()
            let right = try parseBinary(level: level + 1)
            switch op {
            case "||": left = SyntaxNode(kind: .or(left, right), line: startLine)
            case "&&": left = SyntaxNode(kind: .and(left, right), line: startLine)
            case "!=":
                let equal = SyntaxNode(kind: .binary("==", left, right), line: startLine)
                left = SyntaxNode(kind: .not(equal), line: startLine)
            default: left = SyntaxNode(kind: .binary(op, left, right), line: startLine)
            }
        }
        return left
    }

    private mutating func parseUnaryMinus() throws(TemplateError) -> SyntaxNode {
        try enter()
        defer { depth -= 1 }
        let startLine = line
        if acceptOp("-") {
            let operand = try parseUnaryMinus()
            switch operand.kind {
            case .integer(let value): return SyntaxNode(kind: .integer(-value), line: startLine)
            case .float(let value): return SyntaxNode(kind: .float(-value), line: startLine)
            default: return SyntaxNode(kind: .negate(operand), line: startLine)
            }
        }
        return try parsePower()
    }

    private mutating func parsePower() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let base = try parseUnary()
        if acceptOp("**") {
            skipNewlines()
            let exponent = try parseUnaryMinus()
            return SyntaxNode(kind: .binary("**", base, exponent), line: startLine)
        }
        return base
    }

    private mutating func parseUnary() throws(TemplateError) -> SyntaxNode {
        try enter()
        defer { depth -= 1 }
        let startLine = line
        if acceptOp("!") {
            return SyntaxNode(kind: .not(try parseUnary()), line: startLine)
        }
        if acceptOp("+") {
            return try parseUnary()
        }
        if isOp("~") || isOp("->") || isOp("::") || isOp("*") || isOp("&") {
            throw unsupported("operator \(Parser.describe(current.kind))")
        }
        return try parsePostfix(try parsePrimary())
    }

    // MARK: - Calls and postfix

    /// Whether the current token can start a command argument (`p 'x'`, `join ', '`).
    private var startsCommandArgument: Bool {
        let token = current
        guard token.spaced else { return false }
        switch token.kind {
        case .string, .integer, .float, .symbol, .identifier, .constant, .label, .words, .unsupported:
            return true
        case .keyword(let word):
            return ["nil", "true", "false", "not", "self", "lambda", "proc", "defined?"].contains(word)
        case .op(let op):
            let next = peekToken()
            if op == "[" || op == "(" { return true }
            if op == "-" || op == "!" || op == "&" || op == "*" || op == ":" || op == "->" { return !next.spaced }
            return false
        default:
            return false
        }
    }

    /// Parses `(args)` or command arguments, then an optional block.
    private mutating func parseCallRest(receiver: SyntaxNode?, name: String, line startLine: Int, allowCommand: Bool)
        throws(TemplateError) -> SyntaxNode
    {
        var arguments: [SyntaxNode] = []
        if isOp("(") && !current.spaced {
            advance()
            let saved = doAllowed
            doAllowed = true
            arguments = try parseArguments(closing: ")")
            doAllowed = saved
            try expectOp(")")
        } else if allowCommand && startsCommandArgument {
            let saved = doAllowed
            doAllowed = false
            arguments = try parseArguments(closing: nil)
            doAllowed = saved
        }
        let block = try parseBlock()
        return SyntaxNode(
            kind: .call(receiver: receiver, name: name, arguments: arguments, block: block), line: startLine)
    }

    /// Parses comma-separated arguments; `k => v` and `k: v` pairs are gathered into a trailing hash.
    private mutating func parseArguments(closing: String?) throws(TemplateError) -> [SyntaxNode] {
        var arguments: [SyntaxNode] = []
        var pairs: [HashEntry] = []
        let startLine = line
        if closing != nil { skipNewlines() }
        if let closing, isOp(closing) { return [] }
        while true {
            if case .label(let name) = current.kind {
                let keyLine = line
                advance()
                skipNewlines()
                let value = try parseExpression()
                pairs.append(HashEntry(key: SyntaxNode(kind: .symbol(name), line: keyLine), value: value))
            } else if isOp("&"), case .symbol(let name) = peekToken().kind {
                advance()
                advance()
                arguments.append(SyntaxNode(kind: .blockPass(name), line: startLine))
            } else if isOp("*") || isOp("**") || isOp("&") {
                throw unsupported("splat and block arguments")
            } else {
                let value = try parseExpression()
                if acceptOp("=>") {
                    skipNewlines()
                    pairs.append(HashEntry(key: value, value: try parseExpression()))
                } else {
                    arguments.append(value)
                }
            }
            if closing != nil { skipNewlines() }
            guard acceptOp(",") else { break }
            skipNewlines()
            if let closing, isOp(closing) { break }
        }
        if !pairs.isEmpty { arguments.append(SyntaxNode(kind: .hash(pairs), line: startLine)) }
        return arguments
    }

    private mutating func parseBlock() throws(TemplateError) -> Block? {
        if isOp("{") {
            advance()
            locals.append([])
            defer { locals.removeLast() }
            let parameters = try parseBlockParameters()
            let saved = doAllowed
            doAllowed = true
            let body = try parseStatements(terminators: [], closing: "}")
            doAllowed = saved
            try expectOp("}")
            return Block(parameters: parameters, body: body)
        }
        if doAllowed && isKeyword("do") {
            advance()
            locals.append([])
            defer { locals.removeLast() }
            let parameters = try parseBlockParameters()
            let body = try parseStatements(terminators: ["end"])
            try expectKeyword("end")
            return Block(parameters: parameters, body: body)
        }
        return nil
    }

    private mutating func parseBlockParameters() throws(TemplateError) -> [BlockParameter] {
        if acceptOp("||") { return [] }
        guard acceptOp("|") else { return [] }
        let parameters = try parseParameterList(closing: "|")
        try expectOp("|")
        return parameters
    }

    private mutating func parseParameterList(closing: String) throws(TemplateError) -> [BlockParameter] {
        var parameters: [BlockParameter] = []
        while !isOp(closing) {
            if case .identifier(let name) = current.kind {
                advance()
                declareLocal(name)
                parameters.append(.name(name))
            } else if acceptOp("(") {
                parameters.append(.destructure(try parseParameterList(closing: ")")))
                try expectOp(")")
            } else if isOp("*") || isOp("&") {
                throw unsupported("splat block parameters")
            } else {
                throw unexpected(expecting: "a block parameter")
            }
            if !acceptOp(",") { break }
        }
        return parameters
    }

    private mutating func parsePostfix(_ start: SyntaxNode) throws(TemplateError) -> SyntaxNode {
        var node = start
        while true {
            // A method chain may continue on the next line: `items\n  .map { ... }`.
            if current.kind == .newline {
                var offset = 0
                while peekToken(offset).kind == .newline { offset += 1 }
                if case .op(let op) = peekToken(offset).kind, op == "." || op == "&." {
                    skipNewlines()
                } else {
                    return node
                }
            }
            let startLine = line
            if isOp(".") || isOp("&.") {
                let safe = isOp("&.")
                advance()
                skipNewlines()
                guard case .identifier(let name) = current.kind else {
                    if isOp("(") { throw unsupported("'.()' calls") }
                    throw unexpected(expecting: "a method name")
                }
                advance()
                if isOp("=") && !isOp("==") && peekToken().kind != .op("=") {
                    throw unsupported("attribute assignment '\(name)='")
                }
                let call = try parseCallRest(receiver: node, name: name, line: startLine, allowCommand: true)
                if safe {
                    // `a&.b` evaluates to nil when a is nil.
                    let isNil = SyntaxNode(
                        kind: .call(receiver: node, name: "nil?", arguments: [], block: nil),
                        line: startLine)
                    node = SyntaxNode(
                        kind: .conditional(
                            condition: isNil, then: SyntaxNode(kind: .nilLiteral, line: startLine),
                            otherwise: call), line: startLine)
                } else {
                    node = call
                }
            } else if isOp("[") && !current.spaced {
                advance()
                let arguments = try parseArguments(closing: "]")
                try expectOp("]")
                node = SyntaxNode(kind: .index(node, arguments), line: startLine)
            } else if isOp("::") {
                throw unsupported("'::' scope lookup")
            } else {
                return node
            }
        }
    }

    // MARK: - Primary expressions

    private mutating func parsePrimary() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let token = current
        switch token.kind {
        case .integer(let value):
            advance()
            return SyntaxNode(kind: .integer(value), line: startLine)
        case .float(let value):
            advance()
            return SyntaxNode(kind: .float(value), line: startLine)
        case .symbol(let name):
            advance()
            return SyntaxNode(kind: .symbol(name), line: startLine)
        case .words(let words):
            advance()
            return SyntaxNode(
                kind: .array(words.map { SyntaxNode(kind: .string([.literal($0)]), line: startLine) }),
                line: startLine)
        case .string(let parts):
            advance()
            var node = try stringNode(parts, line: startLine)
            // Adjacent literals concatenate: 'a' 'b'.
            while case .string(let more) = current.kind {
                advance()
                let next = try stringNode(more, line: startLine)
                if case .string(let left) = node.kind, case .string(let right) = next.kind {
                    node = SyntaxNode(kind: .string(left + right), line: startLine)
                }
            }
            return node
        case .identifier(let name):
            advance()
            if isLocal(name) && !(isOp("(") && !current.spaced) {
                return SyntaxNode(kind: .localVariable(name), line: startLine)
            }
            return try parseCallRest(receiver: nil, name: name, line: startLine, allowCommand: true)
        case .constant(let name):
            advance()
            if isOp("(") && !current.spaced {
                return try parseCallRest(receiver: nil, name: name, line: startLine, allowCommand: false)
            }
            return SyntaxNode(kind: .constant(name), line: startLine)
        case .keyword(let word):
            return try parseKeyword(word, line: startLine)
        case .op("["):
            advance()
            let items = try parseArguments(closing: "]")
            try expectOp("]")
            return SyntaxNode(kind: .array(items), line: startLine)
        case .op("{"):
            advance()
            return try parseHashLiteral(line: startLine)
        case .op("("):
            advance()
            let saved = doAllowed
            doAllowed = true
            let body = try parseStatements(terminators: [], closing: ")")
            doAllowed = saved
            try expectOp(")")
            return body
        case .label(let name):
            throw TemplateError(code: .syntax, message: "syntax error, unexpected label '\(name):'", line: startLine)
        default:
            throw unexpected()
        }
    }

    private mutating func stringNode(_ parts: [StringPart], line startLine: Int) throws(TemplateError) -> SyntaxNode {
        var result: [InterpolationPart] = []
        for part in parts {
            switch part {
            case .literal(let text):
                result.append(.literal(text))
            case .code(let tokens):
                var inner = Parser(tokens: tokens, locals: locals)
                let node = try inner.parseStatements(terminators: [])
                if inner.current.kind != .end { throw inner.unexpected() }
                result.append(.node(node))
            }
        }
        return SyntaxNode(kind: .string(result), line: startLine)
    }

    private mutating func parseHashLiteral(line startLine: Int) throws(TemplateError) -> SyntaxNode {
        var entries: [HashEntry] = []
        skipNewlines()
        while !isOp("}") {
            let keyLine = line
            if case .label(let name) = current.kind {
                advance()
                skipNewlines()
                entries.append(
                    HashEntry(key: SyntaxNode(kind: .symbol(name), line: keyLine), value: try parseExpression()))
            } else if case .string = current.kind, peekToken().kind == .op(":"), !peekToken().spaced {
                let key = try parsePrimary()
                try expectOp(":")
                skipNewlines()
                let symbolKey: SyntaxNode
                if case .string(let parts) = key.kind, parts.count == 1, case .literal(let text) = parts[0] {
                    symbolKey = SyntaxNode(kind: .symbol(text), line: keyLine)
                } else {
                    throw unsupported("interpolated symbol keys", line: keyLine)
                }
                entries.append(HashEntry(key: symbolKey, value: try parseExpression()))
            } else {
                let key = try parseExpression()
                skipNewlines()
                try expectOp("=>")
                skipNewlines()
                entries.append(HashEntry(key: key, value: try parseExpression()))
            }
            skipNewlines()
            guard acceptOp(",") else { break }
            skipNewlines()
        }
        try expectOp("}")
        return SyntaxNode(kind: .hash(entries), line: startLine)
    }

    private mutating func parseKeyword(_ word: String, line startLine: Int) throws(TemplateError) -> SyntaxNode {
        switch word {
        case "nil":
            advance()
            return SyntaxNode(kind: .nilLiteral, line: startLine)
        case "true", "false":
            advance()
            return SyntaxNode(kind: .boolean(word == "true"), line: startLine)
        case "if", "unless":
            advance()
            return try parseIf(negated: word == "unless", line: startLine)
        case "case":
            advance()
            return try parseCase(line: startLine)
        case "for":
            advance()
            var parameters: [BlockParameter] = []
            repeat {
                guard case .identifier(let name) = current.kind else {
                    throw unexpected(expecting: "a loop variable")
                }
                advance()
                declareLocal(name)
                parameters.append(.name(name))
            } while acceptOp(",")
            try expectKeyword("in")
            let saved = doAllowed
            doAllowed = false
            let iterable = try parseExpressionStatement()
            doAllowed = saved
            _ = acceptKeyword("do")
            let body = try parseStatements(terminators: ["end"])
            try expectKeyword("end")
            return SyntaxNode(kind: .forLoop(parameters: parameters, iterable: iterable, body: body), line: startLine)
        case "next", "break":
            advance()
            var value: SyntaxNode?
            if current.kind != .newline && !isKeyword("if") && !isKeyword("unless") && current.kind != .end
                && current.kind != .outputClose && !isKeyword("end") && !isOp("}")
            {
                value = try parseExpression()
            }
            return SyntaxNode(kind: word == "next" ? .next(value) : .breakLoop(value), line: startLine)
        case "else", "elsif", "end", "when", "then", "do", "in", "and", "or":
            throw unexpected()
        default:
            throw unsupported("'\(word)'")
        }
    }

    private mutating func parseIf(negated: Bool, line startLine: Int) throws(TemplateError) -> SyntaxNode {
        var condition = try parseExpressionStatement()
        if negated { condition = SyntaxNode(kind: .not(condition), line: condition.line) }
        _ = acceptKeyword("then")
        let body = try parseStatements(terminators: ["elsif", "else", "end"])
        var otherwise: SyntaxNode?
        if !negated, isKeyword("elsif") {
            let elsifLine = line
            advance()
            otherwise = try parseIf(negated: false, line: elsifLine)
            return SyntaxNode(
                kind: .conditional(condition: condition, then: body, otherwise: otherwise), line: startLine)
        }
        if acceptKeyword("else") {
            otherwise = try parseStatements(terminators: ["end"])
        }
        try expectKeyword("end")
        return SyntaxNode(kind: .conditional(condition: condition, then: body, otherwise: otherwise), line: startLine)
    }

    /// Skips newlines and whitespace-only text between `case` and `when`.
    private mutating func skipBlankText() {
        while true {
            if current.kind == .newline {
                advance()
            } else if case .text(let text) = current.kind, text.allSatisfy(\.isWhitespace) {
                advance()
            } else {
                return
            }
        }
    }

    private mutating func parseCase(line startLine: Int) throws(TemplateError) -> SyntaxNode {
        var subject: SyntaxNode?
        if current.kind != .newline {
            subject = try parseExpressionStatement()
        }
        skipBlankText()
        var clauses: [WhenClause] = []
        while acceptKeyword("when") {
            var values: [SyntaxNode] = []
            repeat {
                skipNewlines()
                values.append(try parseTernary())
            } while acceptOp(",")
            _ = acceptKeyword("then")
            let body = try parseStatements(terminators: ["when", "else", "end"])
            clauses.append(WhenClause(values: values, body: body))
        }
        var otherwise: SyntaxNode?
        if acceptKeyword("else") {
            otherwise = try parseStatements(terminators: ["end"])
        }
        try expectKeyword("end")
        return SyntaxNode(kind: .caseWhen(subject: subject, clauses: clauses, otherwise: otherwise), line: startLine)
    }
}

extension String {
    /// The text without surrounding single quotes.
    var trimmingQuotes: String {
        var text = self
        if text.hasPrefix("'") { text.removeFirst() }
        if text.hasSuffix("'") { text.removeLast() }
        return text
    }
}
