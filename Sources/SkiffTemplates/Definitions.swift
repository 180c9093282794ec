import Foundation

/// `def` methods, `begin`/`rescue`/`ensure`, `raise`, `return`, `yield`, `while`, regexp literals and `$~`.
extension Interpreter {
    func evalExtended(_ node: SyntaxNode) throws(Signal) -> RValue {
        switch node.kind {
        case .regexp(let parts, let options):
            var source = ""
            for part in parts {
                switch part {
                case .literal(let text): source += text
                case .node(let inner):
                    let value = try eval(inner)
                    if let (innerSource, innerOptions) = Interpreter.regexpParts(value) {
                        source += Interpreter.regexpToS(innerSource, innerOptions)
                    } else {
                        source += RubyFormat.toS(value)
                    }
                }
            }
            if parts.contains(where: { if case .node = $0 { true } else { false } }) {
                _ = try compiled(source, options, node.line)
            }
            return Interpreter.regexpValue(source: source, options: options)
        case .globalVariable(let name):
            switch name {
            case "!": return currentException
            case "~", "&", "`", "'": return lastMatchValue(name)
            default:
                if Int(name) != nil { return lastMatchValue(name) }
                throw failure(.unsupportedSyntax, "unsupported syntax: global variable '$\(name)'", node.line)
            }
        case .defineMethod(let definition):
            methods[definition.name] = definition
            return .symbol(definition.name)
        case .returnValue(let valueNode):
            let value = try valueNode.map { (inner: SyntaxNode) throws(Signal) -> RValue in try eval(inner) } ?? .null
            throw Signal.returnValue(value)
        case .beginRescue(let body, let rescues, let otherwise, let ensure):
            return try evalBegin(body, rescues, otherwise, ensure)
        case .selfReference:
            return .instance(RObject(className: "EvaluationContext", fields: RHash()))
        case .yieldCall(let argumentNodes):
            let arguments = try evalList(argumentNodes)
            guard let block = methodBlocks.last ?? nil else {
                throw raised("LocalJumpError", "no block given (yield)", node.line)
            }
            return try invoke(block, arguments, node.line)
        case .whileLoop(let condition, let body, let negated):
            var iterations = 0
            while try eval(condition).truthy != negated {
                iterations += 1
                if iterations > Interpreter.loopLimit { throw runtime("loop ran too long", node.line) }
                if let broken = try runLoopBody(body) { return broken }
            }
            return .null
        case .unsupported(let message):
            throw failure(.unsupportedSyntax, message, node.line)
        default:
            throw failure(.unsupportedSyntax, "unsupported syntax", node.line)
        }
    }

    /// `(?-mix:source)`: how a Regexp shows in a string.
    static func regexpToS(_ source: String, _ options: String) -> String {
        let on = "mix".filter { options.contains($0) }
        let off = "mix".filter { !options.contains($0) }
        return "(?\(on)\(off.isEmpty ? "" : "-" + off):\(source))"
    }

    /// The error for ERB text inside a `def` (Ruby: `_erbout` is a local of the template, not of the method).
    func erbOutputInMethod(_ line: Int) -> Signal {
        raised("NameError", "undefined local variable or method '_erbout' (template text inside a def method)", line)
    }

    /// `FrozenError` for a change to a frozen value.
    func frozenError(_ value: RValue, _ line: Int) -> Signal {
        raised("FrozenError", "can't modify frozen \(value.className): \(RubyFormat.inspect(value))", line)
    }

    /// Whether the expression is a `.freeze` call (its value is frozen).
    static func isFreezeCall(_ node: SyntaxNode) -> Bool {
        if case .call(_, "freeze", let arguments, nil) = node.kind, arguments.isEmpty { return true }
        return false
    }

    /// `frozen?` for the value of `node`.
    func isFrozen(_ node: SyntaxNode, _ value: RValue) -> Bool {
        switch value {
        case .null, .bool, .int, .float, .symbol, .module, .range: return true
        default: break
        }
        switch node.kind {
        case .call(_, "freeze", _, _): return true
        case .localVariable(let name): return frozenNames.contains(name)
        case .constant(let name): return frozenNames.contains("::" + name)
        default: return false
        }
    }

    // MARK: raise / rescue

    /// `raise`, `raise "message"`, `raise Class`, `raise Class, "message"`, `raise exception`.
    func raise(_ arguments: [RValue], _ line: Int) -> Signal {
        guard let first = arguments.first else {
            if case .instance(let exception) = currentException {
                return raised(exception.className, RubyFormat.toS(exception["message"]), line)
            }
            return raised("RuntimeError", "unhandled exception", line)
        }
        switch first {
        case .module(let className):
            let message = arguments.count > 1 ? RubyFormat.toS(arguments[1]) : className
            return raised(className, message, line)
        case .instance(let exception) where exception["exception"] == .bool(true):
            let message = arguments.count > 1 ? RubyFormat.toS(arguments[1]) : RubyFormat.toS(exception["message"])
            return raised(exception.className, message, line)
        case .string(let message):
            return raised("RuntimeError", message, line)
        default:
            return raised("TypeError", "exception class/object expected", line)
        }
    }

    private func evalBegin(
        _ body: SyntaxNode, _ rescues: [RescueClause], _ otherwise: SyntaxNode?, _ ensure: SyntaxNode?
    ) throws(Signal) -> RValue {
        var outcome: Result<RValue, Signal>
        do {
            var value = try eval(body)
            if let otherwise { value = try eval(otherwise) }
            outcome = .success(value)
        } catch {
            outcome = .failure(error)
            if case .failure(let templateError) = error,
                [.runtime, .raised, .unknownProperty].contains(templateError.code)
            {
                let className = Interpreter.exceptionClass(of: templateError)
                do {
                    if let clause = try matchingClause(rescues, className) {
                        let exception = Interpreter.exceptionValue(className, templateError.message)
                        if let variable = clause.variable { assignLocal(variable, exception) }
                        let saved = currentException
                        currentException = exception
                        defer { currentException = saved }
                        outcome = .success(try eval(clause.body))
                    }
                } catch {
                    outcome = .failure(error)
                }
            }
        }
        if let ensure { _ = try eval(ensure) }
        return try outcome.get()
    }

    private func matchingClause(_ rescues: [RescueClause], _ className: String) throws(Signal) -> RescueClause? {
        for clause in rescues {
            if clause.classes.isEmpty {
                if Interpreter.isException(className, kindOf: "StandardError") { return clause }
                continue
            }
            for classNode in clause.classes {
                var candidates = [try eval(classNode)]
                if case .array(let items) = candidates[0] { candidates = items }
                for candidate in candidates {
                    guard case .module(let ancestor) = candidate else { continue }
                    if Interpreter.isException(className, kindOf: ancestor) { return clause }
                }
            }
        }
        return nil
    }

    // MARK: def methods

    func callMethod(_ method: MethodDefinition, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth <= Interpreter.maximumCallDepth else {
            throw raised("SystemStackError", "stack level too deep", line)
        }
        let local = Scope(parent: nil, inMethod: true)
        var positional = arguments
        var keywords = RHash()
        let takesKeywords = method.parameters.contains { $0.kind == .keyword || $0.kind == .keywordSplat }
        if takesKeywords, case .hash(let hash)? = positional.last,
            hash.keys.allSatisfy({
                if case .symbol = $0 { true } else { false }
            })
        {
            keywords = hash
            positional.removeLast()
        }
        let required = method.parameters.filter { $0.kind == .required }.count
        let optional = method.parameters.filter { $0.kind == .optional }.count
        let hasSplat = method.parameters.contains { $0.kind == .splat }
        guard positional.count >= required, hasSplat || positional.count <= required + optional else {
            let expected =
                hasSplat ? "\(required)+" : optional == 0 ? "\(required)" : "\(required)..\(required + optional)"
            throw raised(
                "ArgumentError", "wrong number of arguments (given \(positional.count), expected \(expected))", line)
        }
        let savedScope = swapScope(local)
        let savedMatch = lastMatch
        methodBlocks.append(block)
        defer {
            _ = swapScope(savedScope)
            lastMatch = savedMatch
            methodBlocks.removeLast()
        }
        var spareOptional = positional.count - required
        var index = 0
        let requiredAfter = { (position: Int) -> Int in
            method.parameters[(position + 1)...].filter { $0.kind == .required }.count
        }
        for (position, parameter) in method.parameters.enumerated() {
            switch parameter.kind {
            case .required:
                local.variables[parameter.name] = positional[index]
                index += 1
            case .optional:
                if spareOptional > 0 {
                    local.variables[parameter.name] = positional[index]
                    index += 1
                    spareOptional -= 1
                } else if let defaultValue = parameter.defaultValue {
                    local.variables[parameter.name] = try eval(defaultValue)
                }
            case .splat:
                let take = max(0, positional.count - index - requiredAfter(position))
                if !parameter.name.isEmpty {
                    local.variables[parameter.name] = .array(Array(positional[index..<(index + take)]))
                }
                index += take
            case .keyword:
                if let value = keywords[.symbol(parameter.name)] {
                    local.variables[parameter.name] = value
                    keywords[.symbol(parameter.name)] = nil
                } else if let defaultValue = parameter.defaultValue {
                    local.variables[parameter.name] = try eval(defaultValue)
                } else {
                    throw raised("ArgumentError", "missing keyword: :\(parameter.name)", line)
                }
            case .keywordSplat:
                if !parameter.name.isEmpty { local.variables[parameter.name] = .hash(keywords) }
                keywords = RHash()
            case .block:
                local.variables[parameter.name] = .null
            }
        }
        if !keywords.isEmpty, takesKeywords {
            throw raised("ArgumentError", "unknown keyword: \(RubyFormat.inspect(keywords.keys[0]))", line)
        }
        do {
            return try eval(method.body)
        } catch {
            switch error {
            case .returnValue(let value): return value
            case .next, .breakLoop:
                throw raised("SyntaxError", "Invalid next/break in method '\(method.name)'", line)
            case .failure: throw error
            }
        }
    }
}

/// Shared references for the common case: a variable that names a part of another variable.
extension Interpreter {
    /// Records (or forgets) that `name` now holds `root[k1][k2]...` with literal keys.
    func noteAlias(_ name: String, _ valueNode: SyntaxNode) {
        if !aliases.isEmpty {
            aliases[name] = nil
            aliases = aliases.filter { $0.value.root != name }
        }
        var path: [RValue] = []
        var node = valueNode
        while true {
            switch node.kind {
            case .index(let receiver, let keys):
                guard keys.count == 1, let key = Interpreter.literalKey(keys[0]) else { return }
                path.insert(key, at: 0)
                node = receiver
            case .localVariable(let root):
                guard root != name, !path.isEmpty else { return }
                if let outer = aliases[root] {
                    aliases[name] = (outer.root, outer.path + path)
                } else {
                    aliases[name] = (root, path)
                }
                return
            default:
                return
            }
        }
    }

    private static func literalKey(_ node: SyntaxNode) -> RValue? {
        switch node.kind {
        case .string(let parts):
            guard parts.count <= 1 else { return nil }
            if case .literal(let text)? = parts.first { return .string(text) }
            return parts.isEmpty ? .string("") : nil
        case .symbol(let name): return .symbol(name)
        case .integer(let value): return .int(value)
        default: return nil
        }
    }

    /// Stores `value` at `alias.path` inside the alias's root variable (when the path still leads to a hash).
    func writeThrough(_ alias: (root: String, path: [RValue]), _ value: RValue, _ line: Int) throws(Signal) {
        guard let root = lookupLocal(alias.root) else { return }
        func store(_ container: RValue, _ path: ArraySlice<RValue>) throws(Signal) -> RValue? {
            guard let key = path.first else { return value }
            let inner = try send(container, "[]", [key], nil, line)
            guard inner != .null || path.count == 1, let updated = try store(inner, path.dropFirst()) else {
                return nil
            }
            var copy = container
            guard copy.isHash || copy.isArray else { return nil }
            try indexSet(&copy, [key], updated, line)
            return copy
        }
        if let updated = try store(root, alias.path[...]) { assignLocal(alias.root, updated) }
    }
}

extension Interpreter {
    /// Runs one pass of a loop body: `next` ends the pass, `break` ends the loop with its value (returned here),
    /// anything else propagates.
    func runLoopBody(_ body: SyntaxNode) throws(Signal) -> RValue? {
        do {
            _ = try eval(body)
        } catch {
            switch error {
            case .next: return nil
            case .breakLoop(let value): return value
            case .failure, .returnValue: throw error
            }
        }
        return nil
    }
}
