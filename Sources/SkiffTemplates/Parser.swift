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
        case .regex: return "regexp literal"
        case .global(let name): return "'$\(name)'"
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
            let statement = try parseRecoveringStatement()
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

    /// Parses a statement; one that uses syntax the renderer does not support becomes a node that fails when it
    /// is evaluated (Ruby would run it), as long as its extent can be found. True syntax errors still fail here.
    private mutating func parseRecoveringStatement() throws(TemplateError) -> SyntaxNode {
        let (savedPosition, savedLocals, savedDepth, savedDoAllowed) = (position, locals, depth, doAllowed)
        do {
            return try parseStatement()
        } catch {
            guard error.code == .unsupportedSyntax else { throw error }
            (position, locals, depth, doAllowed) = (savedPosition, savedLocals, savedDepth, savedDoAllowed)
            let startLine = line
            guard skipStatement() else { throw error }
            return try parseModifiers(
                SyntaxNode(kind: .unsupported(error.message), line: error.location.line ?? startLine))
        }
    }

    /// Skips one statement, balancing brackets and `... end` constructs; false when its end cannot be found.
    private mutating func skipStatement() -> Bool {
        var depth = 0
        var moved = false
        var previous: TokenKind = .newline
        while true {
            let kind = current.kind
            switch kind {
            case .end:
                return depth == 0 && moved
            case .newline, .outputClose, .text, .outputOpen:
                if depth == 0 { return moved }
            case .op("("), .op("["), .op("{"):
                depth += 1
            case .op(")"), .op("]"), .op("}"):
                if depth == 0 { return moved }
                depth -= 1
            case .keyword(let word):
                switch word {
                case "class", "module", "def", "do", "begin", "case", "for":
                    depth += 1
                case "if", "unless", "while", "until":
                    // Only a statement-initial `if` opens a block; a modifier ends the skipped statement.
                    switch previous {
                    case .newline, .outputOpen, .text, .op("("), .op("="), .op("||="), .keyword("then"),
                        .keyword("else"), .keyword("do"), .keyword("begin"):
                        depth += 1
                    default:
                        if !moved {
                            depth += 1
                        } else if depth == 0 {
                            return true
                        }
                    }
                case "end":
                    if depth == 0 { return moved }
                    depth -= 1
                case "else", "elsif", "when", "rescue", "ensure", "in":
                    if depth == 0 && moved && word != "in" { return true }
                default:
                    break
                }
            default:
                break
            }
            previous = kind
            moved = true
            advance()
            if position >= tokens.count - 1, current.kind == .end { return depth == 0 }
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
        return try parseModifiers(try parseExpressionStatement())
    }

    /// `statement if cond`, `unless`, `rescue` modifiers after a statement.
    private mutating func parseModifiers(_ statement: SyntaxNode) throws(TemplateError) -> SyntaxNode {
        let startLine = statement.line
        var node = statement
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
            case .constant(let name):
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .assignConstant(name, value), line: startLine)
            case .call(receiver: nil, let name, let arguments, block: nil) where arguments.isEmpty:
                declareLocal(name)
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .assign(name, value), line: startLine)
            case .index(let receiver, let index):
                let value = try parseAssignedValue()
                return SyntaxNode(kind: .indexAssign(receiver: receiver, index: index, value: value), line: startLine)
            case .globalVariable(let name):
                throw unsupported("assignment to global variable '$\(name)'", line: startLine)
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
            case .localVariable, .index, .constant:
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
        // A branch may assign: `c ? x = 1 : x = 2` (the assignment level, which includes the ternary).
        let whenTrue = try parseExpression()
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
        let whenFalse = try parseExpression()
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
            advance()
            skipNewlines()
            let right = try parseBinary(level: level + 1)
            switch op {
            case "||": left = SyntaxNode(kind: .or(left, right), line: startLine)
            case "&&": left = SyntaxNode(kind: .and(left, right), line: startLine)
            case "!=":
                let equal = SyntaxNode(kind: .binary("==", left, right), line: startLine)
                left = SyntaxNode(kind: .not(equal), line: startLine)
            case "!~":
                let match = SyntaxNode(kind: .binary("=~", left, right), line: startLine)
                left = SyntaxNode(kind: .not(match), line: startLine)
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
        if isOp("::"), case .constant(let name) = peekToken().kind {
            advance()
            advance()
            return try parsePostfix(SyntaxNode(kind: .constant(name), line: startLine))
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
                advance()
                switch current.kind {
                case .constant(let name):
                    advance()
                    if case .constant(let path) = node.kind, !(isOp("(") && !current.spaced) {
                        node = SyntaxNode(kind: .constant(path + "::" + name), line: startLine)
                    } else {
                        node = try parseCallRest(receiver: node, name: name, line: startLine, allowCommand: false)
                    }
                case .identifier(let name):
                    advance()
                    node = try parseCallRest(receiver: node, name: name, line: startLine, allowCommand: true)
                default:
                    throw unexpected(expecting: "a constant or method name")
                }
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
        case .regex(let parts, let options):
            advance()
            guard case .string(let interpolated) = try stringNode(parts, line: startLine).kind else {
                throw unexpected()
            }
            return SyntaxNode(kind: .regexp(interpolated, options: options), line: startLine)
        case .global(let name):
            advance()
            return SyntaxNode(kind: .globalVariable(name), line: startLine)
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
        case "def":
            advance()
            return try parseDef(line: startLine)
        case "begin":
            advance()
            let body = try parseRescueBody()
            try expectKeyword("end")
            if isKeyword("while") || isKeyword("until") {
                throw unsupported("'begin ... end \(Parser.describe(current.kind).trimmingQuotes)'")
            }
            return body
        case "return":
            advance()
            var value: SyntaxNode?
            if !endsValue { value = try parseAssignedValue() }
            return SyntaxNode(kind: .returnValue(value), line: startLine)
        case "self":
            advance()
            return SyntaxNode(kind: .selfReference, line: startLine)
        case "yield":
            advance()
            var arguments: [SyntaxNode] = []
            if isOp("(") && !current.spaced {
                advance()
                arguments = try parseArguments(closing: ")")
                try expectOp(")")
            } else if !endsValue {
                arguments = try parseArguments(closing: nil)
            }
            return SyntaxNode(kind: .yieldCall(arguments), line: startLine)
        case "while", "until":
            advance()
            let saved = doAllowed
            doAllowed = false
            let condition = try parseExpressionStatement()
            doAllowed = saved
            _ = acceptKeyword("do")
            let body = try parseStatements(terminators: ["end"])
            try expectKeyword("end")
            return SyntaxNode(
                kind: .whileLoop(condition: condition, body: body, negated: word == "until"), line: startLine)
        case "else", "elsif", "end", "when", "then", "do", "in", "and", "or", "rescue", "ensure":
            throw unexpected()
        default:
            throw unsupported("'\(word)'")
        }
    }

    /// Whether the current token is template text.
    private var isText: Bool {
        if case .text = current.kind { return true }
        return false
    }

    /// Whether the current token ends a value (so `return`/`yield` here take no argument).
    private var endsValue: Bool {
        switch current.kind {
        case .newline, .end, .outputClose, .text: return true
        case .keyword(let word):
            return ["if", "unless", "end", "while", "until", "rescue", "else", "ensure"].contains(word)
        case .op(let op): return op == "}" || op == ")" || op == "]"
        default: return false
        }
    }

    /// Statements with optional `rescue`/`else`/`ensure` clauses, up to (not including) `end`.
    private mutating func parseRescueBody() throws(TemplateError) -> SyntaxNode {
        let startLine = line
        let body = try parseStatements(terminators: ["rescue", "else", "ensure", "end"])
        var clauses: [RescueClause] = []
        while acceptKeyword("rescue") {
            var classes: [SyntaxNode] = []
            var variable: String?
            while current.kind != .newline && !isOp("=>") && !isKeyword("then") && current.kind != .end
                && !isText && current.kind != .outputOpen
            {
                classes.append(try parseTernary())
                if !acceptOp(",") { break }
                skipNewlines()
            }
            if acceptOp("=>") {
                guard case .identifier(let name) = current.kind else { throw unexpected(expecting: "a variable name") }
                advance()
                declareLocal(name)
                variable = name
            }
            _ = acceptKeyword("then")
            let clauseBody = try parseStatements(terminators: ["rescue", "else", "ensure", "end"])
            clauses.append(RescueClause(classes: classes, variable: variable, body: clauseBody))
        }
        var otherwise: SyntaxNode?
        if acceptKeyword("else") { otherwise = try parseStatements(terminators: ["ensure", "end"]) }
        var ensure: SyntaxNode?
        if acceptKeyword("ensure") { ensure = try parseStatements(terminators: ["end"]) }
        if clauses.isEmpty && otherwise == nil && ensure == nil { return body }
        return SyntaxNode(
            kind: .beginRescue(body: body, rescues: clauses, otherwise: otherwise, ensure: ensure), line: startLine)
    }

    /// `def name(params) body end` (after `def`); `def self.name` defines the same helper.
    private mutating func parseDef(line startLine: Int) throws(TemplateError) -> SyntaxNode {
        if isKeyword("self"), peekToken().kind == .op(".") {
            advance()
            advance()
        }
        let name: String
        switch current.kind {
        case .identifier(let word), .constant(let word): name = word
        case .keyword(let word) where peekToken().kind == .op("(") || peekToken().kind == .newline: name = word
        case .label(let word):
            throw unsupported("'def \(word):'")
        default:
            throw unsupported("operator method definitions")
        }
        advance()
        if isOp("=") { throw unsupported("endless method definitions") }
        let savedLocals = locals
        locals = [[]]
        defer { locals = savedLocals }
        var parameters: [MethodParameter] = []
        if isOp("(") {
            advance()
            parameters = try parseMethodParameters(closing: ")")
            try expectOp(")")
        } else if current.kind != .newline {
            parameters = try parseMethodParameters(closing: nil)
        }
        if isOp("=") { throw unsupported("endless method definitions") }
        let saved = doAllowed
        doAllowed = true
        let body = try parseRescueBody()
        doAllowed = saved
        try expectKeyword("end")
        let definition = MethodDefinition(name: name, parameters: parameters, body: body)
        return SyntaxNode(kind: .defineMethod(definition), line: startLine)
    }

    private mutating func parseMethodParameters(closing: String?) throws(TemplateError) -> [MethodParameter] {
        var parameters: [MethodParameter] = []
        skipNewlines()
        while true {
            if let closing, isOp(closing) { break }
            if current.kind == .newline { break }
            var kind = MethodParameter.Kind.required
            if acceptOp("*") {
                kind = .splat
            } else if acceptOp("**") {
                kind = .keywordSplat
            } else if acceptOp("&") {
                kind = .block
            }
            switch current.kind {
            case .identifier(let name):
                advance()
                declareLocal(name)
                var defaultValue: SyntaxNode?
                if kind == .required, acceptOp("=") {
                    kind = .optional
                    defaultValue = try parseTernary()
                }
                parameters.append(MethodParameter(name: name, kind: kind, defaultValue: defaultValue))
            case .label(let name):
                advance()
                declareLocal(name)
                var defaultValue: SyntaxNode?
                if !isOp(",") && !(closing.map { isOp($0) } ?? false) && current.kind != .newline {
                    defaultValue = try parseTernary()
                }
                parameters.append(MethodParameter(name: name, kind: .keyword, defaultValue: defaultValue))
            default:
                if kind == .splat || kind == .keywordSplat {
                    parameters.append(MethodParameter(name: "", kind: kind, defaultValue: nil))
                } else {
                    throw unexpected(expecting: "a parameter name")
                }
            }
            if closing != nil { skipNewlines() }
            guard acceptOp(",") else { break }
            skipNewlines()
        }
        return parameters
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
