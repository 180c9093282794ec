import Foundation

/// Methods of the objects that are not core values: links and their instances (BOSH's `EvaluationLink`).
extension Interpreter {
    func sendInstance(_ object: RObject, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        switch (object.className, name) {
        case ("EvaluationLink", "instances"), ("EvaluationLink", "properties"),
            ("EvaluationLinkInstance", "name"), ("EvaluationLinkInstance", "index"),
            ("EvaluationLinkInstance", "id"), ("EvaluationLinkInstance", "az"),
            ("EvaluationLinkInstance", "address"), ("EvaluationLinkInstance", "bootstrap"),
            ("EvaluationLinkInstance", "properties"):
            try arity(name, arguments, 0...0, line)
            return object[name]
        case ("EvaluationLink", "address"):
            guard object["address"] != .null else {
                throw failure(.raised, "link.address requires bosh director", line)
            }
            return object["address"]
        case ("EvaluationLink", "p"), ("EvaluationLinkInstance", "p"):
            try arity(name, arguments, 1...2, line)
            let names: [String]
            if case .array(let items) = arguments[0] {
                names = items.map(RubyFormat.toS)
            } else {
                names = [RubyFormat.toS(arguments[0])]
            }
            for candidate in names {
                if let value = lookup(object["properties"], candidate) { return value }
            }
            if arguments.count == 2 { return arguments[1] }
            throw failure(.unknownProperty, "Can't find property '\(names.joined(separator: "', or '"))'", line)
        case ("EvaluationLink", "if_p"), ("EvaluationLinkInstance", "if_p"):
            var values: [RValue] = []
            for argument in arguments {
                guard let value = lookup(object["properties"], RubyFormat.toS(argument)) else {
                    return .elseBlock(active: true)
                }
                values.append(value)
            }
            _ = try invoke(block, values, line)
            return .elseBlock(active: false)
        default:
            if let value = try sendCore(object, name, arguments, block, line) { return value }
            throw noMethod(name, .instance(object), line)
        }
    }

    /// The value at a dotted property path in a hash, nil when absent or nil (BOSH's `lookup_property`).
    func lookup(_ collection: RValue, _ name: String) -> RValue? {
        var current = collection
        for part in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .hash(let hash) = current, let next = hash[.string(String(part))] else { return nil }
            current = next
        }
        return current == .null ? nil : current
    }

    /// Methods of the library objects (matches, addresses, IO, exceptions): nil when `name` is not one of them.
    func sendCore(_ object: RObject, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue?
    {
        switch object.className {
        case "Regexp", "MatchData":
            return try sendRegexpObject(object, name, arguments, block, line)
        case "StringIO", "Zlib::GzipReader", "Zlib::GzipWriter":
            return try sendIO(object, name, arguments, block, line)
        case "IPAddr":
            return try sendIPAddr(object, name, arguments, line)
        case "EvaluationContext":
            return try callSelf(name, arguments, block, line)
        case "String":
            let data = try bytes(.instance(object), line)
            switch name {
            case "bytesize", "length", "size": return .int(data.count)
            case "force_encoding", "encode", "scrub", "to_str":
                return .string(String(decoding: data, as: UTF8.self))
            case "bytes": return .array(data.map { .int(Int($0)) })
            case "empty?": return .bool(data.isEmpty)
            default: return nil
            }
        default:
            guard object["exception"] == .bool(true) else { return nil }
            switch name {
            case "message", "to_s": return object["message"]
            case "full_message": return .string("\(RubyFormat.toS(object["message"])) (\(object.className))")
            case "backtrace": return .null
            default: return nil
            }
        }
    }

    /// ActiveSupport's `blank?`: nil, false, empty or whitespace-only strings, empty collections.
    static func isBlank(_ value: RValue) -> Bool {
        switch value {
        case .null, .bool(false): return true
        case .string(let text), .symbol(let text):
            return text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
        case .array(let items): return items.isEmpty
        case .hash(let hash): return hash.isEmpty
        default: return false
        }
    }

    /// String methods that take a Regexp (or a block): nil when the plain String method applies.
    func sendStringPattern(_ text: String, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue?
    {
        let isRegexp = arguments.first.map { Interpreter.regexpParts($0) != nil } ?? false
        func start() -> Int {
            if arguments.count > 1, case .int(let offset) = arguments[1] {
                return offset < 0 ? max(0, text.unicodeScalars.count + offset) : offset
            }
            return 0
        }
        switch name {
        case "=~":
            try arity(name, arguments, 1...1, line)
            return try matchOperator(text, arguments[0], line)
        case "match":
            try arity(name, arguments, 1...2, line)
            return try match(text, arguments[0], start: start(), line)
        case "match?":
            try arity(name, arguments, 1...2, line)
            return .bool(firstMatch(try pattern(arguments[0], line), text, names: [], start: start()) != nil)
        case "gsub", "sub":
            guard isRegexp || block != nil else { return nil }
            return try substitute(text, name, arguments, block, line)
        case "scan":
            return try scan(text, arguments, block, line)
        case "[]", "slice":
            guard isRegexp else { return nil }
            try arity(name, arguments, 1...2, line)
            let result = try match(text, arguments[0], line)
            guard case .instance(let object) = result else { return .null }
            if arguments.count == 2 {
                return try sendRegexpObject(object, "[]", [arguments[1]], nil, line) ?? .null
            }
            return object["match"]
        case "index":
            guard isRegexp else { return nil }
            try arity(name, arguments, 1...2, line)
            let result = try match(text, arguments[0], start: start(), line)
            guard case .instance(let object) = result else { return .null }
            return object["begin"]
        case "start_with?":
            guard arguments.contains(where: { Interpreter.regexpParts($0) != nil }) else { return nil }
            for argument in arguments {
                if let (source, options) = Interpreter.regexpParts(argument) {
                    let anchored = try compiled("\\A(?:" + source + ")", options, line)
                    if let found = firstMatch(anchored, text, names: Interpreter.groupNames(source)) {
                        lastMatch = found
                        return .bool(true)
                    }
                } else if case .string(let prefix) = argument, text.hasPrefix(prefix) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "force_encoding", "encode", "scrub", "unicode_normalize", "b":
            return .string(text)
        case "bytes":
            return .array(text.utf8.map { .int(Int($0)) })
        case "each_cons":
            return nil
        default:
            return nil
        }
    }

    /// `left =~ right` for a String and a Regexp in either order.
    func matchBinary(_ left: RValue, _ right: RValue, _ line: Int) throws(Signal) -> RValue {
        switch (left, right) {
        case (.string(let text), _): return try matchOperator(text, right, line)
        case (_, .string(let text)) where Interpreter.regexpParts(left) != nil:
            return try matchOperator(text, left, line)
        case (.null, _), (_, .null):
            return .null
        default:
            return .null
        }
    }
}
