import Foundation

/// Control flow out of an evaluation: a template error, or `next` leaving a block.
enum Signal: Error {
    case failure(TemplateError)
    case next(RValue)
    /// `break`: ends the method that yielded to the block (or the `for` loop), which returns this value.
    case breakLoop(RValue)
    /// `return`: ends the `def` method being run.
    case returnValue(RValue)
}

/// Local variables of one block level; lookups walk outwards.
final class Scope {
    var variables: [String: RValue] = [:]
    let parent: Scope?
    /// Whether this scope belongs to a `def` method (where ERB's output buffer is out of reach).
    let inMethod: Bool

    init(parent: Scope?, inMethod: Bool? = nil) {
        self.parent = parent
        self.inMethod = inMethod ?? parent?.inMethod ?? false
    }

    func lookup(_ name: String) -> RValue? {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }

    /// Assigns where the variable is already defined, else defines it here.
    func assign(_ name: String, _ value: RValue) {
        var scope: Scope? = self
        while let current = scope {
            if current.variables[name] != nil {
                current.variables[name] = value
                return
            }
            scope = current.parent
        }
        variables[name] = value
    }

    /// Removes the value from its scope (leaving nil) so it can be mutated without a copy.
    func take(_ name: String) -> RValue {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] {
                current.variables[name] = .null
                return value
            }
            scope = current.parent
        }
        return .null
    }
}

/// Something a method can yield to: a literal block or `&:method`.
enum Callable {
    case block(Block, Scope)
    case symbol(String)
}

/// The data a template sees: resolved properties, the spec struct, the job name and index.
struct TemplateContext {
    var properties: RValue
    var spec: RValue
    var name: RValue
    var index: RValue
    /// Consumed links by name (`EvaluationLink` objects).
    var links: [String: RValue] = [:]
}

/// Evaluates a compiled template.
final class Interpreter {
    private var output = ""
    let context: TemplateContext
    private var scope = Scope(parent: nil)
    /// Variables assigned from a part of another variable (`agent = params['cloud']['agent']`): Ruby shares the
    /// hash or array, so a change made through the alias is written back to the original.
    var aliases: [String: (root: String, path: [RValue])] = [:]
    /// Methods the template defined with `def`.
    var methods: [String: MethodDefinition] = [:]
    /// Constants the template assigned.
    var constants: [String: RValue] = [:]
    /// Variables and constants holding a frozen value (so `frozen?` answers and mutation fails as in Ruby).
    var frozenNames: Set<String> = []
    /// `$~`: the last regexp match (MatchData or nil).
    var lastMatch: RValue = .null
    /// `$!`: the exception being handled.
    var currentException: RValue = .null
    /// Compiled regular expressions by options and source.
    var regexCache: [String: NSRegularExpression] = [:]
    /// StringIO and gzip buffers: bytes and read position, by object id.
    var buffers: [([UInt8], Int)] = []
    /// Modules the template included (`include ERB::Util`).
    var included: Set<String> = []
    /// The blocks of the `def` methods being run, innermost last (for `yield`).
    var methodBlocks: [Callable?] = []
    /// How deeply `def` methods are nested, bounded like Ruby's stack.
    var callDepth = 0
    static let maximumCallDepth = 1000

    init(context: TemplateContext) {
        self.context = context
    }

    /// Runs the template and returns the text it produced.
    func run(_ node: SyntaxNode) throws(TemplateError) -> String {
        do {
            _ = try eval(node)
        } catch {
            switch error {
            case .failure(let failure): throw failure
            case .next: throw TemplateError(code: .syntax, message: "'next' used outside of a block", line: node.line)
            case .breakLoop:
                throw TemplateError(code: .syntax, message: "'break' used outside of a block", line: node.line)
            case .returnValue:
                throw TemplateError(code: .runtime, message: "unexpected return (LocalJumpError)", line: node.line)
            }
        }
        return output
    }

    // MARK: - Errors

    func failure(_ code: TemplateError.Code, _ message: String, _ line: Int) -> Signal {
        .failure(TemplateError(code: code, message: message, line: line))
    }

    func runtime(_ message: String, _ line: Int) -> Signal {
        failure(.runtime, message, line)
    }

    func noMethod(_ name: String, _ receiver: RValue, _ line: Int) -> Signal {
        if receiver == .null || Interpreter.knownMethods.contains(name)
            || Interpreter.knownMethods.contains(name.trimmingBang)
        {
            return runtime("undefined method '\(name)' for \(receiver.className)", line)
        }
        return failure(.unsupportedMethod, "unsupported method '\(name)' for \(receiver.className)", line)
    }

    func arity(_ name: String, _ arguments: [RValue], _ range: ClosedRange<Int>, _ line: Int) throws(Signal) {
        guard range.contains(arguments.count) else {
            let expected =
                range.lowerBound == range.upperBound
                ? "\(range.lowerBound)"
                : "\(range.lowerBound)..\(range.upperBound)"
            throw runtime(
                "wrong number of arguments for '\(name)' (given \(arguments.count), expected \(expected))",
                line)
        }
    }

    // MARK: - Evaluation

    func eval(_ node: SyntaxNode) throws(Signal) -> RValue {
        switch node.kind {
        case .text(let text):
            if scope.inMethod { throw erbOutputInMethod(node.line) }
            output += text
            return .null
        case .output(let inner):
            if scope.inMethod { throw erbOutputInMethod(node.line) }
            let value = try eval(inner)
            output += RubyFormat.toS(value)
            return .null
        case .sequence(let nodes):
            var last = RValue.null
            for child in nodes { last = try eval(child) }
            return last
        case .nilLiteral: return .null
        case .boolean(let value): return .bool(value)
        case .integer(let value): return .int(value)
        case .float(let value): return .float(value)
        case .symbol(let name): return .symbol(name)
        case .string(let parts):
            var text = ""
            for part in parts {
                switch part {
                case .literal(let literal): text += literal
                case .node(let inner): text += RubyFormat.toS(try eval(inner))
                }
            }
            return .string(text)
        case .array(let items):
            var values: [RValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try eval(item)) }
            return .array(values)
        case .hash(let entries):
            var hash = RHash()
            for entry in entries {
                let key = try eval(entry.key)
                hash[key] = try eval(entry.value)
            }
            return .hash(hash)
        case .localVariable(let name):
            return scope.lookup(name) ?? .null
        case .assign(let name, let valueNode):
            let value = try eval(valueNode)
            scope.assign(name, value)
            noteAlias(name, valueNode)
            if Interpreter.isFreezeCall(valueNode) {
                frozenNames.insert(name)
            } else if !frozenNames.isEmpty {
                frozenNames.remove(name)
            }
            return value
        case .assignConstant(let name, let valueNode):
            let value = try eval(valueNode)
            constants[name] = value
            if Interpreter.isFreezeCall(valueNode) { frozenNames.insert("::" + name) }
            return value
        case .operatorAssign(let target, let op, let valueNode):
            return try evalOperatorAssign(target: target, op: op, valueNode: valueNode, line: node.line)
        case .indexAssign(let receiver, let indexNodes, let valueNode):
            let index = try evalList(indexNodes)
            let value = try eval(valueNode)
            return try withLValue(receiver) { (container: inout RValue) throws(Signal) -> RValue in
                try self.indexSet(&container, index, value, node.line)
                return value
            }
        case .call(let receiver, let name, let arguments, let block):
            return try evalCall(
                receiver: receiver, name: name, argumentNodes: arguments, block: block,
                line: node.line)
        case .index(let receiver, let indexNodes):
            let value = try eval(receiver)
            return try send(value, "[]", try evalList(indexNodes), nil, node.line)
        case .not(let inner):
            return .bool(!(try eval(inner)).truthy)
        case .and(let left, let right):
            let value = try eval(left)
            return value.truthy ? try eval(right) : value
        case .or(let left, let right):
            let value = try eval(left)
            return value.truthy ? value : try eval(right)
        case .binary(let op, let left, let right):
            if op == "<<" {
                let value = try eval(right)
                return try withLValue(left) { (target: inout RValue) throws(Signal) -> RValue in
                    try self.append(&target, value, node.line)
                }
            }
            return try binary(op, try eval(left), try eval(right), node.line)
        case .negate(let inner):
            let value = try eval(inner)
            switch value {
            case .int(let number):
                guard number != Int.min else { throw runtime("integer overflow", node.line) }
                return .int(-number)
            case .float(let number): return .float(-number)
            default: throw noMethod("-@", value, node.line)
            }
        case .conditional(let condition, let then, let otherwise):
            if try eval(condition).truthy { return try eval(then) }
            if let otherwise { return try eval(otherwise) }
            return .null
        case .caseWhen(let subjectNode, let clauses, let otherwise):
            let subject = try subjectNode.map { (node: SyntaxNode) throws(Signal) -> RValue in try eval(node) }
            for clause in clauses {
                for valueNode in clause.values {
                    let value = try eval(valueNode)
                    let matched = subject.map { caseEquals(value, $0) } ?? value.truthy
                    if matched { return try eval(clause.body) }
                }
            }
            if let otherwise { return try eval(otherwise) }
            return .null
        case .range(let lowNode, let highNode, let exclusive):
            let low = try eval(lowNode)
            let high = try eval(highNode)
            guard case .int(let lower) = low, case .int(let upper) = high else {
                throw failure(.unsupportedSyntax, "unsupported syntax: range of \(low.className)", node.line)
            }
            return .range(lower, upper, exclusive: exclusive)
        case .constant(let name):
            if let value = constants[name] { return value }
            let path = name.hasPrefix("::") ? String(name.dropFirst(2)) : name
            switch path {
            case "Regexp::IGNORECASE": return .int(1)
            case "Regexp::EXTENDED": return .int(2)
            case "Regexp::MULTILINE": return .int(4)
            default: break
            }
            guard Interpreter.knownConstants.contains(path) || Interpreter.libraryModules.contains(path) else {
                throw failure(.unsupportedSyntax, "unsupported constant '\(name)'", node.line)
            }
            return .module(path)
        case .next(let valueNode):
            throw Signal.next(
                try valueNode.map { (node: SyntaxNode) throws(Signal) -> RValue in try eval(node) } ?? .null)
        case .breakLoop(let valueNode):
            throw Signal.breakLoop(
                try valueNode.map { (node: SyntaxNode) throws(Signal) -> RValue in try eval(node) } ?? .null)
        case .forLoop(let parameters, let iterableNode, let body):
            let iterable = try eval(iterableNode)
            let items: [RValue]
            switch iterable {
            case .array(let values), .enumerator(let values, _): items = values
            case .hash(let hash): items = hash.pairs.map { RValue.array([$0.0, $0.1]) }
            case .range(let low, let high, let exclusive):
                let upper = exclusive ? high - 1 : high
                if upper >= low {
                    try checkSize(upper.subtractingReportingOverflow(low).overflow ? Int.max : upper - low, node.line)
                }
                items = upper < low ? [] : (low...upper).map(RValue.int)
            default: throw noMethod("each", iterable, node.line)
            }
            for item in items {
                var values = [item]
                if parameters.count > 1, case .array(let parts) = item { values = parts }
                for (offset, parameter) in parameters.enumerated() {
                    if case .name(let name) = parameter {
                        scope.assign(name, offset < values.count ? values[offset] : .null)
                    }
                }
                if let broken = try runLoopBody(body) { return broken }
            }
            return iterable
        case .rescueModifier(let body, let fallback):
            do {
                return try eval(body)
            } catch {
                guard case .failure(let failure) = error,
                    [.runtime, .unknownProperty, .raised].contains(failure.code)
                else { throw error }
                return try eval(fallback)
            }
        case .blockPass(let name):
            throw failure(.syntax, "syntax error, unexpected '&:\(name)'", node.line)
        default:
            return try evalExtended(node)
        }
    }

    static let knownConstants: Set<String> = [
        "JSON", "YAML", "Base64", "Shellwords", "String", "Integer", "Float", "Numeric", "Array", "Hash", "Symbol",
        "NilClass", "TrueClass",
        "FalseClass", "OpenStruct", "Range",
    ]

    func evalList(_ nodes: [SyntaxNode]) throws(Signal) -> [RValue] {
        var values: [RValue] = []
        for node in nodes { values.append(try eval(node)) }
        return values
    }

    private func evalOperatorAssign(target: SyntaxNode, op: String, valueNode: SyntaxNode, line: Int) throws(Signal)
        -> RValue
    {
        let current = try eval(target)
        let value: RValue
        switch op {
        case "||":
            if current.truthy { return current }
            value = try eval(valueNode)
        case "&&":
            if !current.truthy { return current }
            value = try eval(valueNode)
        default:
            value = try binary(op, current, try eval(valueNode), line)
        }
        switch target.kind {
        case .localVariable(let name):
            scope.assign(name, value)
        case .index(let receiver, let indexNodes):
            let index = try evalList(indexNodes)
            _ = try withLValue(receiver) { (container: inout RValue) throws(Signal) -> RValue in
                try self.indexSet(&container, index, value, line)
                return value
            }
        default:
            throw failure(.syntax, "syntax error, cannot assign to this expression", line)
        }
        return value
    }

    /// Runs `body` on the value stored at `node` (a variable or an index into one) and stores the result back,
    /// so that `list << x`, `h[k] = v` and `s.strip!` change the variable as in Ruby.
    func withLValue(_ node: SyntaxNode, _ body: (inout RValue) throws(Signal) -> RValue) throws(Signal) -> RValue {
        switch node.kind {
        case .localVariable(let name):
            if frozenNames.contains(name), let value = scope.lookup(name) { throw frozenError(value, node.line) }
            var value = scope.take(name)
            do {
                let result = try body(&value)
                scope.assign(name, value)
                if let alias = aliases[name] { try writeThrough(alias, value, node.line) }
                return result
            } catch {
                scope.assign(name, value)
                throw error
            }
        case .index(let receiver, let indexNodes):
            let index = try evalList(indexNodes)
            return try withLValue(receiver) { (container: inout RValue) throws(Signal) -> RValue in
                var element = try self.send(container, "[]", index, nil, node.line)
                // Leave nil in the slot while the element is changed, so its storage is not shared (no copy).
                if element != .null { try self.indexSet(&container, index, .null, node.line) }
                let result = try body(&element)
                try self.indexSet(&container, index, element, node.line)
                return result
            }
        case .constant(let name) where constants[name] != nil:
            var value = constants[name] ?? .null
            if frozenNames.contains("::" + name) { throw frozenError(value, node.line) }
            let result = try body(&value)
            constants[name] = value
            return result
        case .binary("<<", let base, let valueNode):
            // `list << a << b`: the inner append returns the list itself, so keep writing to the variable.
            let value = try eval(valueNode)
            return try withLValue(base) { (target: inout RValue) throws(Signal) -> RValue in
                _ = try self.append(&target, value, node.line)
                return try body(&target)
            }
        default:
            var value = try eval(node)
            return try body(&value)
        }
    }

    private static let mutators: Set<String> = [
        "push", "append", "concat", "unshift", "prepend", "insert", "merge!", "update", "store", "delete", "clear",
        "pop", "shift", "replace",
    ]

    private func evalCall(receiver: SyntaxNode?, name: String, argumentNodes: [SyntaxNode], block: Block?, line: Int)
        throws(Signal) -> RValue
    {
        var callable = block.map { Callable.block($0, scope) }
        var nodes = argumentNodes
        if let last = nodes.last, case .blockPass(let method) = last.kind {
            nodes.removeLast()
            callable = .symbol(method)
        }
        let arguments = try evalList(nodes)
        guard block != nil else {
            return try dispatch(receiver: receiver, name: name, arguments: arguments, callable: callable, line: line)
        }
        do {
            return try dispatch(receiver: receiver, name: name, arguments: arguments, callable: callable, line: line)
        } catch {
            // `break` in this call's own block ends this call; `break` from an inner block was caught already.
            guard case .breakLoop(let value) = error else { throw error }
            return value
        }
    }

    private func dispatch(receiver: SyntaxNode?, name: String, arguments: [RValue], callable: Callable?, line: Int)
        throws(Signal) -> RValue
    {
        guard let receiver else {
            return try callSelf(name, arguments, callable, line)
        }
        if name == "frozen?", arguments.isEmpty {
            return .bool(isFrozen(receiver, try eval(receiver)))
        }
        if Interpreter.mutators.contains(name) || (name.hasSuffix("!") && name != "!") {
            return try withLValue(receiver) { (value: inout RValue) throws(Signal) -> RValue in
                try self.mutate(&value, name, arguments, callable, line)
            }
        }
        return try send(try eval(receiver), name, arguments, callable, line)
    }

    /// Makes `newScope` current and returns the previous one (for `def` methods).
    func swapScope(_ newScope: Scope) -> Scope {
        let old = scope
        scope = newScope
        return old
    }

    /// The value of a local variable visible from the current scope.
    func lookupLocal(_ name: String) -> RValue? {
        scope.lookup(name)
    }

    /// Assigns a local variable in the current scope.
    func assignLocal(_ name: String, _ value: RValue) {
        scope.assign(name, value)
    }

    // MARK: - Blocks

    func invoke(_ callable: Callable?, _ arguments: [RValue], _ line: Int) throws(Signal) -> RValue {
        guard let callable else { throw runtime("no block given", line) }
        switch callable {
        case .symbol(let name):
            guard let first = arguments.first else { throw runtime("no receiver given for &:\(name)", line) }
            let receiver: RValue = arguments.count > 1 ? .array(arguments) : first
            return try send(receiver, name, [], nil, line)
        case .block(let block, let defining):
            return try invoke(block, defining, arguments, readBack: nil).0
        }
    }

    /// Invokes a block; `readBack` names a parameter whose final value is also returned (for each_with_object).
    func invoke(_ block: Block, _ defining: Scope, _ arguments: [RValue], readBack: Int?) throws(Signal)
        -> (RValue, RValue?)
    {
        let saved = scope
        let local = Scope(parent: defining)
        scope = local
        defer { scope = saved }
        var values = arguments
        let wantsSplat =
            block.parameters.count > 1
            || (block.parameters.count == 1 && { if case .destructure = block.parameters[0] { true } else { false } }())
        if wantsSplat, values.count == 1, case .array(let items) = values[0] {
            values = block.parameters.count == 1 ? [.array(items)] : items
        }
        for (offset, parameter) in block.parameters.enumerated() {
            bind(parameter, offset < values.count ? values[offset] : .null, in: local)
        }
        let result: RValue
        do {
            result = try eval(block.body)
        } catch {
            switch error {
            case .next(let value): result = value
            case .failure, .breakLoop, .returnValue: throw error
            }
        }
        var back: RValue?
        if let readBack, readBack < block.parameters.count, case .name(let name) = block.parameters[readBack] {
            back = local.variables[name]
        }
        return (result, back)
    }

    private func bind(_ parameter: BlockParameter, _ value: RValue, in scope: Scope) {
        switch parameter {
        case .name(let name):
            scope.variables[name] = value
        case .destructure(let parameters):
            let items: [RValue]
            if case .array(let array) = value { items = array } else { items = [value] }
            for (offset, inner) in parameters.enumerated() {
                bind(inner, offset < items.count ? items[offset] : .null, in: scope)
            }
        }
    }

    // MARK: - Self methods (the bosh template helpers)

    private func lookupProperty(_ name: String) -> RValue? {
        var current = context.properties
        for part in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .hash(let hash) = current, let next = hash[.string(String(part))] else { return nil }
            current = next
        }
        return current == .null ? nil : current
    }

    private func propertyNames(_ value: RValue) -> [String] {
        if case .array(let items) = value { return items.map(RubyFormat.toS) }
        return [RubyFormat.toS(value)]
    }

    func callSelf(_ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int) throws(Signal)
        -> RValue
    {
        if let method = methods[name] { return try callMethod(method, arguments, block, line) }
        if included.contains("ERB::Util"), ["url_encode", "u", "html_escape", "h"].contains(name) {
            return try sendLibrary("ERB::Util", name, arguments, block, line)
        }
        switch name {
        case "p":
            try arity("p", arguments, 1...2, line)
            let names = propertyNames(arguments[0])
            for candidate in names {
                if let value = lookupProperty(candidate) { return value }
            }
            if arguments.count == 2 { return arguments[1] }
            throw failure(.unknownProperty, "Can't find property '\(names.joined(separator: "', or '"))'", line)
        case "if_p":
            var values: [RValue] = []
            for argument in arguments {
                guard let value = lookupProperty(RubyFormat.toS(argument)) else { return .elseBlock(active: true) }
                values.append(value)
            }
            _ = try invoke(block, values, line)
            return .elseBlock(active: false)
        case "spec" where arguments.isEmpty: return context.spec
        case "properties" where arguments.isEmpty: return context.properties.openStruct
        case "name" where arguments.isEmpty: return context.name
        case "index" where arguments.isEmpty: return context.index
        case "require", "require_relative":
            return .bool(true)
        case "raise", "fail":
            throw raise(arguments, line)
        case "include":
            for argument in arguments { if case .module(let module) = argument { included.insert(module) } }
            return .null
        case "block_given?":
            return .bool((methodBlocks.last ?? nil) != nil)
        case "binding":
            throw failure(.unsupportedMethod, "unsupported method 'binding'", line)
        case "if_link":
            try arity(name, arguments, 1...1, line)
            guard let link = context.links[RubyFormat.toS(arguments[0])] else { return .elseBlock(active: true) }
            _ = try invoke(block, [link], line)
            return .elseBlock(active: false)
        case "link":
            try arity(name, arguments, 1...1, line)
            let linkName = RubyFormat.toS(arguments[0])
            guard let link = context.links[linkName] else {
                throw failure(.raised, "Can't find link '\(linkName)'", line)
            }
            return link
        case "Integer":
            try arity(name, arguments, 1...1, line)
            switch arguments[0] {
            case .int: return arguments[0]
            case .float(let value): return .int(try exactInteger(value.rounded(.towardZero), line))
            case .string(let text):
                guard let value = Int(text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: ""))
                else {
                    throw runtime("invalid value for Integer() (a String that is not a number)", line)
                }
                return .int(value)
            default: throw runtime("can't convert \(arguments[0].className) into Integer", line)
            }
        case "Float":
            try arity(name, arguments, 1...1, line)
            switch arguments[0] {
            case .int(let value): return .float(Double(value))
            case .float: return arguments[0]
            case .string(let text):
                guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw runtime("invalid value for Float() (a String that is not a number)", line)
                }
                return .float(value)
            default: throw runtime("can't convert \(arguments[0].className) into Float", line)
            }
        case "String":
            try arity(name, arguments, 1...1, line)
            return .string(RubyFormat.toS(arguments[0]))
        case "Array":
            try arity(name, arguments, 1...1, line)
            switch arguments[0] {
            case .null: return .array([])
            case .array: return arguments[0]
            case .hash(let hash): return .array(hash.pairs.map { .array([$0.0, $0.1]) })
            default: return .array([arguments[0]])
            }
        case "format", "sprintf":
            guard let first = arguments.first else { throw runtime("too few arguments for format", line) }
            return .string(try format(RubyFormat.toS(first), Array(arguments.dropFirst()), line))
        default:
            if arguments.isEmpty && block == nil {
                throw failure(.unsupportedMethod, "undefined local variable or method '\(name)'", line)
            }
            throw failure(.unsupportedMethod, "unsupported method '\(name)'", line)
        }
    }

    // MARK: - Operators

    func equals(_ left: RValue, _ right: RValue) -> Bool {
        switch (left, right) {
        case (.int(let a), .float(let b)): return Double(a) == b
        case (.float(let a), .int(let b)): return a == Double(b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equals($0, $1) }
        default: return left == right
        }
    }

    func caseEquals(_ pattern: RValue, _ value: RValue) -> Bool {
        switch pattern {
        case .module(let name): return isA(value, name)
        case .range(let low, let high, let exclusive):
            guard case .int(let number) = value else { return false }
            return number >= low && (exclusive ? number < high : number <= high)
        case .instance(let object) where object.className == "Regexp":
            guard case .string(let text) = value else { return false }
            return ((try? matchOperator(text, pattern, 0)) ?? .null) != .null
        case .instance(let object) where object.className == "IPAddr":
            return ((try? sendIPAddr(object, "include?", [value], 0)) ?? nil) == .bool(true)
        default: return equals(pattern, value)
        }
    }

    func isA(_ value: RValue, _ className: String) -> Bool {
        switch className {
        case "Numeric":
            if case .int = value { return true }
            if case .float = value { return true }
            return false
        case "Object", "BasicObject": return true
        case "TrueClass": return value == .bool(true)
        case "FalseClass": return value == .bool(false)
        case "NilClass": return value == .null
        default:
            if case .instance(let object) = value, object["exception"] == .bool(true) {
                return Interpreter.isException(object.className, kindOf: className)
            }
            return value.className == className
        }
    }

    func compare(_ left: RValue, _ right: RValue) -> Int? {
        switch (left, right) {
        case (.int(let a), .int(let b)): return a < b ? -1 : a > b ? 1 : 0
        case (.int, .float), (.float, .int), (.float, .float):
            let a = number(left) ?? 0
            let b = number(right) ?? 0
            return a < b ? -1 : a > b ? 1 : 0
        case (.string(let a), .string(let b)):
            if a == b { return 0 }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) ? -1 : 1
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) {
                guard let order = compare(x, y) else { return nil }
                if order != 0 { return order }
            }
            return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
        default: return nil
        }
    }

    func compareOrFail(_ left: RValue, _ right: RValue, _ line: Int) throws(Signal) -> Int {
        guard let order = compare(left, right) else {
            throw runtime("comparison of \(left.className) with \(right.className) failed", line)
        }
        return order
    }

    func number(_ value: RValue) -> Double? {
        switch value {
        case .int(let number): return Double(number)
        case .float(let number): return number
        default: return nil
        }
    }

    func binary(_ op: String, _ left: RValue, _ right: RValue, _ line: Int) throws(Signal) -> RValue {
        if case .instance = left, op != "==" {
            return try send(left, op, [right], nil, line)
        }
        switch op {
        case "=~": return try matchBinary(left, right, line)
        case "==": return .bool(equals(left, right))
        case "===": return .bool(caseEquals(left, right))
        case "<=>": return compare(left, right).map(RValue.int) ?? .null
        case "<": return .bool(try compareOrFail(left, right, line) < 0)
        case ">": return .bool(try compareOrFail(left, right, line) > 0)
        case "<=": return .bool(try compareOrFail(left, right, line) <= 0)
        case ">=": return .bool(try compareOrFail(left, right, line) >= 0)
        default: break
        }
        switch (op, left, right) {
        case ("+", .int(let a), .int(let b)):
            let (sum, overflow) = a.addingReportingOverflow(b)
            if overflow { throw runtime("integer overflow", line) }
            return .int(sum)
        case ("-", .int(let a), .int(let b)):
            let (difference, overflow) = a.subtractingReportingOverflow(b)
            if overflow { throw runtime("integer overflow", line) }
            return .int(difference)
        case ("*", .int(let a), .int(let b)):
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            if overflow { throw runtime("integer overflow", line) }
            return .int(product)
        case ("/", .int(let a), .int(let b)):
            if b == 0 { throw runtime("divided by 0", line) }
            if a == Int.min && b == -1 { throw runtime("integer overflow", line) }
            var quotient = a / b
            if (a % b != 0) && ((a < 0) != (b < 0)) { quotient -= 1 }
            return .int(quotient)
        case ("%", .int(let a), .int(let b)):
            if b == 0 { throw runtime("divided by 0", line) }
            if b == -1 { return .int(0) }
            let remainder = a % b
            return .int(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
        case ("**", .int(let a), .int(let b)) where b >= 0:
            var result = 1
            var base = a
            var exponent = b
            while exponent > 0 {
                if exponent & 1 == 1 {
                    let (product, overflow) = result.multipliedReportingOverflow(by: base)
                    if overflow { throw runtime("integer overflow", line) }
                    result = product
                }
                exponent >>= 1
                if exponent > 0 {
                    let (square, overflow) = base.multipliedReportingOverflow(by: base)
                    if overflow { throw runtime("integer overflow", line) }
                    base = square
                }
            }
            return .int(result)
        case ("&", .int(let a), .int(let b)): return .int(a & b)
        case ("|", .int(let a), .int(let b)): return .int(a | b)
        case ("^", .int(let a), .int(let b)): return .int(a ^ b)
        case (">>", .int(let a), .int(let b)): return .int(a >> b)
        case ("+", .string(let a), .string(let b)): return .string(a + b)
        case ("+", .string, _):
            throw runtime("no implicit conversion of \(right.className) into String", line)
        case ("*", .string(let a), .int(let b)):
            if b < 0 { throw runtime("negative argument", line) }
            try checkSize(a.utf8.count.multipliedReportingOverflow(by: b).overflow ? Int.max : a.utf8.count * b, line)
            return .string(String(repeating: a, count: b))
        case ("%", .string(let a), _):
            let values: [RValue]
            if case .array(let items) = right { values = items } else { values = [right] }
            return .string(try format(a, values, line))
        case ("+", .array(let a), .array(let b)): return .array(a + b)
        case ("-", .array(let a), .array(let b)): return .array(a.filter { item in !b.contains { equals($0, item) } })
        case ("*", .array(let a), .int(let b)):
            if b < 0 { throw runtime("negative argument", line) }
            try checkSize(a.count.multipliedReportingOverflow(by: b).overflow ? Int.max : a.count * b, line)
            return .array(Array([[RValue]](repeating: a, count: b).joined()))
        case ("*", .array(let a), .string(let separator)):
            return .string(try join(a, separator, line))
        case ("&", .array(let a), .array(let b)): return .array(unique(a.filter { item in b.contains(item) }))
        case ("|", .array(let a), .array(let b)): return .array(unique(a + b))
        case ("&", .bool(let a), _): return .bool(a && right.truthy)
        case ("|", .bool(let a), _): return .bool(a || right.truthy)
        case ("^", .bool(let a), _): return .bool(a != right.truthy)
        default: break
        }
        if let a = number(left), let b = number(right) {
            switch op {
            case "+": return .float(a + b)
            case "-": return .float(a - b)
            case "*": return .float(a * b)
            case "/": return .float(a / b)
            case "%":
                let remainder = a.truncatingRemainder(dividingBy: b)
                return .float(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
            case "**": return .float(Foundation.pow(a, b))
            default: break
            }
        }
        if number(left) != nil, ["+", "-", "*", "/", "%", "**"].contains(op) {
            throw runtime("\(right.className) can't be coerced into \(left.className)", line)
        }
        if case .array = left, ["+", "-", "&", "|"].contains(op) {
            throw runtime("no implicit conversion of \(right.className) into Array", line)
        }
        throw noMethod(op, left, line)
    }

    /// The largest collection or string a template may build (guards against runaway `*`, ranges, `times`).
    static let sizeLimit = 50_000_000

    /// The most iterations a `while`/`until` loop may run (Ruby would spin forever).
    static let loopLimit = 1_000_000

    func checkSize(_ count: Int, _ line: Int) throws(Signal) {
        if count > Interpreter.sizeLimit { throw runtime("result too large (\(count) elements)", line) }
    }

    /// Converts an integral Double to Int, failing instead of trapping when it is out of range.
    func exactInteger(_ value: Double, _ line: Int) throws(Signal) -> Int {
        guard value.isFinite, value >= -9.223372036854775e18, value <= 9.223372036854775e18 else {
            throw runtime("Float out of range of Integer", line)
        }
        return Int(value)
    }

    func unique(_ items: [RValue]) -> [RValue] {
        var seen = Set<RValue>()
        return items.filter { seen.insert($0).inserted }
    }

    /// `<<`: appends to a string or array in place, shifts an integer.
    func append(_ target: inout RValue, _ value: RValue, _ line: Int) throws(Signal) -> RValue {
        if target.isArray {
            target.appendInPlace(items: [value])
            return target
        }
        switch target {
        case .string:
            let more: String
            switch value {
            case .string(let text): more = text
            case .int(let code):
                guard let scalar = Unicode.Scalar(UInt32(clamping: code)) else {
                    throw runtime("invalid codepoint", line)
                }
                more = String(Character(scalar))
            default: throw runtime("no implicit conversion of \(value.className) into String", line)
            }
            target.appendInPlace(string: more)
        case .int(let number):
            guard case .int(let shift) = value else { throw runtime("\(value.className) can't be coerced", line) }
            return .int(number << shift)
        case .instance:
            return try send(target, "<<", [value], nil, line)
        default:
            throw noMethod("<<", target, line)
        }
        return target
    }
}

extension String {
    /// The method name without a trailing `!`.
    var trimmingBang: String {
        hasSuffix("!") ? String(dropLast()) : self
    }
}
