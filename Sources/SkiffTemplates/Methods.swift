import Foundation

/// Method dispatch for the supported Ruby core methods.
extension Interpreter {
    /// Every method name the renderer knows on some type (an unknown name is "unsupported", a known one
    /// on the wrong type is "undefined method ... for Type", as Ruby says).
    static let knownMethods: Set<String> = [
        "nil?", "==", "!=", "eql?", "equal?", "to_s", "inspect", "to_json", "to_yaml", "freeze", "dup", "clone",
        "itself", "frozen?", "is_a?", "kind_of?", "instance_of?", "class", "respond_to?", "length", "size",
        "bytesize", "empty?", "include?", "start_with?", "end_with?", "upcase", "downcase", "capitalize",
        "swapcase", "strip", "lstrip", "rstrip", "chomp", "chop", "chars", "lines", "split", "gsub", "sub", "to_i",
        "to_f", "to_str", "to_sym", "[]", "reverse", "center", "ljust", "rjust", "index", "each_line", "each_char",
        "count", "any?", "all?", "none?", "first", "last", "join", "each", "each_with_index", "map", "collect",
        "flat_map", "select", "filter", "reject", "find", "detect", "find_index", "compact", "flatten", "uniq",
        "sort", "sort_by", "min", "max", "min_by", "max_by", "sum", "to_a", "take", "drop", "push", "append",
        "concat", "unshift", "prepend", "insert", "each_slice", "zip", "inject", "reduce", "each_with_object",
        "group_by", "partition", "to_h", "dig", "delete", "keys", "values", "key?", "has_key?", "member?",
        "value?", "has_value?", "fetch", "merge", "merge!", "update", "store", "each_pair", "transform_values",
        "transform_keys", "slice", "except", "values_at", "times", "upto", "downto", "abs", "zero?", "positive?",
        "negative?", "even?", "odd?", "succ", "pred", "round", "floor", "ceil", "between?", "to_int", "truncate",
        "nan?", "infinite?", "cover?", "dump", "generate", "pretty_generate", "else", "else_if_p", "tr", "squeeze",
        "delete_prefix", "delete_suffix", "clear", "pop", "shift", "replace", "+", "-", "*", "/", "%", "**", "<",
        ">", "<=", ">=", "<=>", "<<", "===", "-@", "ord", "hex", "sort_by", "uniq", "each_key", "each_value",
        "select!", "reject!", "filter_map", "tally", "sample", "shuffle", "minmax", "step", "fdiv", "with_index",
        "shellescape", "blank?", "present?", "presence", "each_cons", "match", "match?", "=~", "scan",
        "url_encode", "html_escape", "hexdigest", "source", "captures", "named_captures", "pre_match",
        "post_match", "message", "force_encoding", "encode", "bytes", "unpack1", "sum",
    ]

    // MARK: Dispatch

    func send(_ receiver: RValue, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        if let value = try sendCommon(receiver, name, arguments, line) { return value }
        switch receiver {
        case .string(let text): return try sendString(text, name, arguments, block, line)
        case .symbol(let text):
            switch name {
            case "to_sym": return receiver
            case "length", "size", "upcase", "downcase", "capitalize", "start_with?", "end_with?", "empty?":
                let result = try sendString(text, name, arguments, block, line)
                if case .string(let converted) = result { return .symbol(converted) }
                return result
            case "to_proc": throw noMethod(name, receiver, line)
            default: throw noMethod(name, receiver, line)
            }
        case .array(let items): return try sendArray(items, name, arguments, block, line)
        case .hash(let hash): return try sendHash(hash, name, arguments, block, line)
        case .object(let fields): return try sendObject(fields, receiver, name, arguments, block, line)
        case .int(let number): return try sendInteger(number, name, arguments, block, line)
        case .float(let number): return try sendFloat(number, name, arguments, line)
        case .range(let low, let high, let exclusive):
            let upper = exclusive ? high - 1 : high
            if upper >= low {
                try checkSize(upper.subtractingReportingOverflow(low).overflow ? Int.max : upper - low, line)
            }
            let items = upper < low ? [] : (low...upper).map(RValue.int)
            switch name {
            case "include?", "member?", "cover?", "===":
                try arity(name, arguments, 1...1, line)
                return .bool(caseEquals(receiver, arguments[0]))
            case "first" where arguments.isEmpty: return .int(low)
            case "last" where arguments.isEmpty: return .int(high)
            default: return try sendArray(items, name, arguments, block, line)
            }
        case .null:
            switch name {
            case "to_a": return .array([])
            case "to_i": return .int(0)
            case "to_f": return .float(0)
            case "to_h": return .hash(RHash())
            default: throw noMethod(name, receiver, line)
            }
        case .bool:
            throw noMethod(name, receiver, line)
        case .module(let module):
            return try sendModule(module, name, arguments, block, line)
        case .enumerator(let items, let method):
            return try sendEnumerator(items, method, name, arguments, block, line)
        case .elseBlock(let active):
            switch name {
            case "else":
                if active { _ = try invoke(block, [], line) }
                return .null
            case "else_if_p":
                guard active else { return .elseBlock(active: false) }
                var values: [RValue] = []
                for argument in arguments {
                    guard let value = lookupPropertyValue(RubyFormat.toS(argument)) else {
                        return .elseBlock(active: true)
                    }
                    values.append(value)
                }
                _ = try invoke(block, values, line)
                return .elseBlock(active: false)
            case "else_if_link":
                guard active else { return .elseBlock(active: false) }
                try arity(name, arguments, 1...1, line)
                guard let link = context.links[RubyFormat.toS(arguments[0])] else { return .elseBlock(active: true) }
                _ = try invoke(block, [link], line)
                return .elseBlock(active: false)
            default:
                throw noMethod(name, receiver, line)
            }
        case .instance(let object):
            return try sendInstance(object, name, arguments, block, line)
        }
    }

    private func lookupPropertyValue(_ name: String) -> RValue? {
        var current = contextProperties
        for part in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .hash(let hash) = current, let next = hash[.string(String(part))] else { return nil }
            current = next
        }
        return current == .null ? nil : current
    }

    /// Methods every value answers.
    private func sendCommon(_ receiver: RValue, _ name: String, _ arguments: [RValue], _ line: Int) throws(Signal)
        -> RValue?
    {
        switch name {
        case "nil?": return .bool(receiver == .null)
        case "==", "eql?", "equal?":
            try arity(name, arguments, 1...1, line)
            return .bool(equals(receiver, arguments[0]))
        case "!=":
            try arity(name, arguments, 1...1, line)
            return .bool(!equals(receiver, arguments[0]))
        case "to_s" where arguments.isEmpty: return .string(RubyFormat.toS(receiver))
        case "inspect": return .string(RubyFormat.inspect(receiver))
        case "to_json": return .string(try json(receiver, line))
        case "to_yaml": return .string(try yaml(receiver, line))
        case "freeze", "dup", "clone", "itself": return receiver
        case "frozen?": return .bool(isFrozen(SyntaxNode(kind: .nilLiteral, line: line), receiver))
        case "blank?": return .bool(Interpreter.isBlank(receiver))
        case "present?": return .bool(!Interpreter.isBlank(receiver))
        case "presence": return Interpreter.isBlank(receiver) ? .null : receiver
        case "is_a?", "kind_of?", "instance_of?":
            try arity(name, arguments, 1...1, line)
            guard case .module(let className) = arguments[0] else { throw runtime("class or module required", line) }
            return .bool(isA(receiver, className))
        case "instance_variable_get", "instance_variables", "send", "public_send", "method", "instance_eval":
            throw failure(.unsupportedMethod, "unsupported method '\(name)'", line)
        case "class":
            switch receiver {
            case .null: return .module("NilClass")
            case .bool(let flag): return .module(flag ? "TrueClass" : "FalseClass")
            default: return .module(receiver.className)
            }
        case "respond_to?":
            if case .object(let fields) = receiver, let first = arguments.first {
                return .bool(fields[.string(RubyFormat.toS(first))] != nil)
            }
            return nil
        default: return nil
        }
    }

    func json(_ value: RValue, _ line: Int, pretty: Bool = false) throws(Signal) -> String {
        if case .float(let number) = value, !number.isFinite {
            throw runtime("\(RubyFormat.float(number)) not allowed in JSON", line)
        }
        return RubyFormat.json(value, pretty: pretty)
    }

    func yaml(_ value: RValue, _ line: Int) throws(Signal) -> String {
        do {
            return try RubyFormat.yaml(value)
        } catch {
            throw failure(.runtime, error.message, line)
        }
    }

    private func sendModule(
        _ module: String, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int
    ) throws(Signal) -> RValue {
        switch (module, name) {
        case ("JSON", "dump"), ("JSON", "generate"):
            try arity(name, arguments, 1...2, line)
            return .string(try json(arguments[0], line))
        case ("JSON", "pretty_generate"):
            try arity(name, arguments, 1...2, line)
            return .string(try json(arguments[0], line, pretty: true))
        case ("YAML", "dump"):
            try arity(name, arguments, 1...1, line)
            return .string(try yaml(arguments[0], line))
        case ("JSON", "parse"), ("YAML", "load"), ("YAML", "safe_load"):
            // JSON is YAML, so one ordered YAML parser serves both.
            guard let first = arguments.first, case .string(let text) = first else {
                throw runtime("no implicit conversion of \(arguments.first?.className ?? "nothing") into String", line)
            }
            do {
                return RValue(try TemplateValue(yaml: text))
            } catch {
                throw runtime("\(module).\(name) failed: \(error.message)", line)
            }
        case ("Base64", "strict_encode64"), ("Base64", "encode64"), ("Base64", "urlsafe_encode64"):
            try arity(name, arguments, 1...2, line)
            var encoded = Data(try bytes(.string(RubyFormat.toS(arguments[0])), line)).base64EncodedString()
            if case .instance = arguments[0] { encoded = Data(try bytes(arguments[0], line)).base64EncodedString() }
            if name == "urlsafe_encode64" {
                encoded = encoded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            }
            if name == "encode64" {
                // Ruby wraps every 60 characters and ends with a newline.
                var wrapped = ""
                var rest = Substring(encoded)
                while !rest.isEmpty {
                    wrapped += rest.prefix(60) + "\n"
                    rest = rest.dropFirst(60)
                }
                encoded = wrapped
            }
            return .string(encoded)
        case ("Base64", "decode64"), ("Base64", "strict_decode64"), ("Base64", "urlsafe_decode64"):
            try arity(name, arguments, 1...1, line)
            var text = RubyFormat.toS(arguments[0]).filter { !$0.isWhitespace }
            if name == "urlsafe_decode64" {
                text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            }
            if name != "strict_decode64" {
                text = text.filter { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" || $0 == "=" }
                if let pad = text.firstIndex(of: "=") { text = String(text[..<pad]) }
                if text.count % 4 == 1 { text.removeLast() }
            }
            while text.count % 4 != 0 { text += "=" }
            guard let data = Data(base64Encoded: text) else {
                throw raised("ArgumentError", "invalid base64", line)
            }
            return Interpreter.binary(Array(data))
        case ("Shellwords", "escape"), ("Shellwords", "shellescape"):
            try arity(name, arguments, 1...1, line)
            return .string(shellEscape(RubyFormat.toS(arguments[0])))
        case ("Shellwords", "join"), ("Shellwords", "shelljoin"):
            try arity(name, arguments, 1...1, line)
            guard case .array(let items) = arguments[0] else { throw runtime("expected an Array", line) }
            return .string(items.map { shellEscape(RubyFormat.toS($0)) }.joined(separator: " "))
        default:
            return try sendLibrary(module, name, arguments, block, line)
        }
    }

    // MARK: Strings

    private func sendString(_ text: String, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        func stringArgument(_ index: Int) throws(Signal) -> String {
            guard index < arguments.count else { throw runtime("wrong number of arguments for '\(name)'", line) }
            guard case .string(let value) = arguments[index] else {
                throw runtime("no implicit conversion of \(arguments[index].className) into String", line)
            }
            return value
        }
        if let value = try sendStringPattern(text, name, arguments, block, line) { return value }
        switch name {
        case "length", "size": return .int(text.unicodeScalars.count)  // Ruby counts code points
        case "bytesize": return .int(text.utf8.count)
        case "empty?": return .bool(text.isEmpty)
        case "include?":
            let needle = try stringArgument(0)
            return .bool(needle.isEmpty || text.contains(needle))
        case "start_with?":
            for index in arguments.indices where text.hasPrefix(try stringArgument(index)) { return .bool(true) }
            return .bool(false)
        case "end_with?":
            for index in arguments.indices where text.hasSuffix(try stringArgument(index)) { return .bool(true) }
            return .bool(false)
        case "upcase": return .string(text.uppercased())
        case "downcase": return .string(text.lowercased())
        case "capitalize": return .string(text.prefix(1).uppercased() + text.dropFirst().lowercased())
        case "swapcase":
            return .string(
                String(text.map { $0.isUppercase ? Character($0.lowercased()) : Character($0.uppercased()) }))
        case "strip": return .string(rubyStrip(text, leading: true, trailing: true))
        case "lstrip": return .string(rubyStrip(text, leading: true, trailing: false))
        case "rstrip": return .string(rubyStrip(text, leading: false, trailing: true))
        case "chomp":
            if let suffix = arguments.first {
                let ending = RubyFormat.toS(suffix)
                return .string(text.hasSuffix(ending) ? String(text.dropLast(ending.count)) : text)
            }
            if text.hasSuffix("\r\n") { return .string(String(text.unicodeScalars.dropLast(2))) }
            if text.hasSuffix("\n") || text.hasSuffix("\r") { return .string(String(text.unicodeScalars.dropLast())) }
            return .string(text)
        case "chop": return .string(String(text.dropLast()))
        case "delete_prefix":
            let prefix = try stringArgument(0)
            return .string(text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        case "delete_suffix":
            let suffix = try stringArgument(0)
            return .string(text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text)
        case "chars": return .array(text.unicodeScalars.map { .string(String($0)) })
        case "lines", "each_line":
            var lines: [RValue] = []
            var current = ""
            for character in text {
                current.append(character)
                if character == "\n" || character == "\r\n" {
                    lines.append(.string(current))
                    current = ""
                }
            }
            if !current.isEmpty { lines.append(.string(current)) }
            if name == "each_line" {
                if block == nil { return .enumerator(lines, method: "each") }
                for item in lines { _ = try invoke(block, [item], line) }
                return .string(text)
            }
            return .array(lines)
        case "each_char":
            for character in text { _ = try invoke(block, [.string(String(character))], line) }
            return .string(text)
        case "split":
            return .array(try split(text, arguments, line).map(RValue.string))
        case "gsub", "sub":
            try arity(name, arguments, 2...2, line)
            guard case .string(let pattern) = arguments[0] else {
                throw failure(.unsupportedSyntax, "unsupported syntax: \(name) pattern must be a string", line)
            }
            let replacement: String
            switch arguments[1] {
            case .string(let value): replacement = value
            case .hash(let table): replacement = RubyFormat.toS(table[.string(pattern)] ?? .null)
            default: throw runtime("no implicit conversion of \(arguments[1].className) into String", line)
            }
            if pattern.isEmpty { return .string(text) }
            if name == "sub" {
                guard let range = text.range(of: pattern) else { return .string(text) }
                return .string(text.replacingCharacters(in: range, with: replacement))
            }
            return .string(text.replacingOccurrences(of: pattern, with: replacement))
        case "tr":
            try arity(name, arguments, 2...2, line)
            let from = Array(try stringArgument(0))
            let to = Array(try stringArgument(1))
            func hasRange(_ set: [Character]) -> Bool { set.count > 2 && set.dropFirst().dropLast().contains("-") }
            guard !hasRange(from), !hasRange(to), from.first != "^" || from.count == 1 else {
                throw failure(.unsupportedSyntax, "unsupported syntax: character ranges in tr", line)
            }
            return .string(
                String(
                    text.map { character -> Character in
                        guard let position = from.firstIndex(of: character) else { return character }
                        return to.isEmpty ? character : to[min(position, to.count - 1)]
                    }))
        case "squeeze":
            var result = ""
            for character in text
            where
                !(result.last == character
                && (arguments.isEmpty
                    || (RubyFormat.toS(arguments[0]).contains(character))))
            {
                result.append(character)
            }
            return .string(result)
        case "to_i":
            var digits = ""
            for (offset, character) in rubyStrip(text, leading: true, trailing: false).enumerated() {
                if character.isASCII && character.isNumber {
                    digits.append(character)
                } else if offset == 0 && (character == "-" || character == "+") {
                    digits.append(character)
                } else if character == "_" && !digits.isEmpty {
                    continue
                } else {
                    break
                }
            }
            return .int(Int(digits) ?? 0)
        case "to_f":
            let trimmed = rubyStrip(text, leading: true, trailing: false)
            var best = 0.0
            var prefix = ""
            for character in trimmed {
                prefix.append(character)
                if let value = Double(prefix) {
                    best = value
                } else if prefix.count > 1, !"eE+-.".contains(character) {
                    break
                }
            }
            return .float(best)
        case "to_str": return .string(text)
        case "shellescape": return .string(shellEscape(text))
        case "to_sym": return .symbol(text)
        case "reverse": return .string(String(String.UnicodeScalarView(text.unicodeScalars.reversed())))
        case "hex": return .int(Int(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16) ?? 0)
        case "ord":
            guard let scalar = text.unicodeScalars.first else { throw runtime("empty string", line) }
            return .int(Int(scalar.value))
        case "center", "ljust", "rjust":
            try arity(name, arguments, 1...2, line)
            guard case .int(let width) = arguments[0] else {
                throw runtime("no implicit conversion into Integer", line)
            }
            let pad = arguments.count > 1 ? RubyFormat.toS(arguments[1]) : " "
            try checkSize(width, line)
            let missing = width - text.unicodeScalars.count
            guard missing > 0, !pad.isEmpty else { return .string(text) }
            func padding(_ count: Int) -> String {
                String(String(repeating: pad, count: count / pad.count + 1).prefix(count))
            }
            switch name {
            case "ljust": return .string(text + padding(missing))
            case "rjust": return .string(padding(missing) + text)
            default: return .string(padding(missing / 2) + text + padding(missing - missing / 2))
            }
        case "index":
            let needle = try stringArgument(0)
            guard let range = text.range(of: needle) else { return .null }
            return .int(text.distance(from: text.startIndex, to: range.lowerBound))
        case "count":
            let set = try stringArgument(0)
            return .int(text.filter { set.contains($0) }.count)
        case "[]", "slice":
            return try stringIndex(text, arguments, line)
        case "+", "*", "%", "<", ">", "<=", ">=", "<=>", "===":
            try arity(name, arguments, 1...1, line)
            return try binary(name, .string(text), arguments[0], line)
        case "between?":
            try arity(name, arguments, 2...2, line)
            let low = try compareOrFail(.string(text), arguments[0], line)
            let high = try compareOrFail(.string(text), arguments[1], line)
            return .bool(low >= 0 && high <= 0)
        default:
            throw noMethod(name, .string(text), line)
        }
    }

    /// `Shellwords.escape`: backslash every character outside `[A-Za-z0-9_\-.,:+/@\n]`; newlines become `'\n'`;
    /// the empty string becomes `''`.
    func shellEscape(_ text: String) -> String {
        if text.isEmpty { return "''" }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                result += "'\n'"
            } else if scalar.isASCII,
                scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "_-.,:+/@".unicodeScalars.contains(scalar)
            {
                result.unicodeScalars.append(scalar)
            } else {
                result += "\\"
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private func rubyStrip(_ text: String, leading: Bool, trailing: Bool) -> String {
        let whitespace: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\0"]
        var scalars = Substring(text).unicodeScalars[...]
        if leading { while let first = scalars.first, whitespace.contains(first) { scalars.removeFirst() } }
        if trailing { while let last = scalars.last, whitespace.contains(last) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    private func split(_ text: String, _ arguments: [RValue], _ line: Int) throws(Signal) -> [String] {
        var separator: String? = nil
        var limit = 0
        if text.isEmpty { return [] }
        if arguments.count > 1, case .int(let value) = arguments[1] { limit = value }
        if let first = arguments.first, Interpreter.regexpParts(first) != nil {
            return try split(text, regexp: first, limit: limit, line)
        }
        if let first = arguments.first {
            switch first {
            case .null: separator = nil
            case .string(let value): separator = value == " " ? nil : value
            default:
                throw failure(.unsupportedSyntax, "unsupported syntax: split pattern must be a string", line)
            }
        }
        if arguments.count > 1, case .int(let value) = arguments[1] { limit = value }
        var fields: [String] = []
        if let separator, !separator.isEmpty {
            var rest = Substring(text)
            while let range = rest.range(of: separator) {
                if limit > 0 && fields.count == limit - 1 { break }
                fields.append(String(rest[..<range.lowerBound]))
                rest = rest[range.upperBound...]
            }
            fields.append(String(rest))
        } else if separator == "" {
            fields = text.unicodeScalars.map { String($0) }
        } else {
            var rest = Substring(rubyStrip(text, leading: true, trailing: false))
            while !rest.isEmpty {
                if limit > 0 && fields.count == limit - 1 {
                    fields.append(String(rest))
                    rest = ""
                    break
                }
                let end = rest.firstIndex { $0.isWhitespace } ?? rest.endIndex
                fields.append(String(rest[..<end]))
                rest = rest[end...].drop { $0.isWhitespace }
            }
        }
        if limit == 0 {
            while fields.last == "" { fields.removeLast() }
        }
        return fields
    }

    private func stringIndex(_ text: String, _ arguments: [RValue], _ line: Int) throws(Signal) -> RValue {
        let characters = Array(text.unicodeScalars)
        func slice(_ start: Int, _ length: Int) -> RValue {
            let begin = start < 0 ? characters.count + start : start
            guard begin >= 0, begin <= characters.count, length >= 0 else { return .null }
            return .string(
                String(String.UnicodeScalarView(characters[begin..<(begin + min(length, characters.count - begin))])))
        }
        switch (arguments.first, arguments.count) {
        case (.int(let index), 1):
            let position = index < 0 ? characters.count + index : index
            guard position >= 0, position < characters.count else { return .null }
            return .string(String(characters[position]))
        case (.int(let start), 2):
            guard case .int(let length) = arguments[1] else {
                throw runtime("no implicit conversion into Integer", line)
            }
            return slice(start, length)
        case (.range(let low, let high, let exclusive), 1):
            let begin = low < 0 ? characters.count + low : low
            var end = high < 0 ? characters.count + high : high
            if !exclusive { end += 1 }
            return slice(begin, max(0, end - begin))
        case (.string(let needle), 1):
            return text.contains(needle) ? .string(needle) : .null
        default:
            throw runtime("wrong arguments for String#[]", line)
        }
    }

    // MARK: Numbers

    private func sendInteger(_ number: Int, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        switch name {
        case "to_i", "to_int", "round", "floor", "ceil", "truncate": return .int(number)
        case "to_f": return .float(Double(number))
        case "fdiv":
            try arity(name, arguments, 1...1, line)
            guard let divisor = self.number(arguments[0]) else {
                throw runtime("\(arguments[0].className) can't be coerced into Float", line)
            }
            return .float(Double(number) / divisor)
        case "to_s":
            if let base = arguments.first, case .int(let radix) = base, (2...36).contains(radix) {
                return .string(String(number, radix: radix))
            }
            return .string(String(number))
        case "abs":
            guard number != Int.min else { throw runtime("integer overflow", line) }
            return .int(abs(number))
        case "zero?": return .bool(number == 0)
        case "positive?": return .bool(number > 0)
        case "negative?": return .bool(number < 0)
        case "even?": return .bool(number % 2 == 0)
        case "odd?": return .bool(number % 2 != 0)
        case "succ", "next": return .int(number &+ 1)
        case "pred": return .int(number &- 1)
        case "times":
            try checkSize(number, line)
            if block == nil { return .enumerator((0..<max(0, number)).map(RValue.int), method: "each") }
            guard number > 0 else { return .int(number) }
            for index in 0..<number { _ = try invoke(block, [.int(index)], line) }
            return .int(number)
        case "upto", "downto":
            try arity(name, arguments, 1...1, line)
            guard case .int(let limit) = arguments[0] else {
                throw runtime("no implicit conversion into Integer", line)
            }
            try checkSize(limit.subtractingReportingOverflow(number).overflow ? Int.max : abs(limit - number), line)
            let sequence =
                name == "upto"
                ? Array(stride(from: number, through: limit, by: 1))
                : Array(stride(from: number, through: limit, by: -1))
            for index in sequence { _ = try invoke(block, [.int(index)], line) }
            return .int(number)
        case "between?":
            try arity(name, arguments, 2...2, line)
            let low = try compareOrFail(.int(number), arguments[0], line)
            let high = try compareOrFail(.int(number), arguments[1], line)
            return .bool(low >= 0 && high <= 0)
        case "+", "-", "*", "/", "%", "**", "<", ">", "<=", ">=", "<=>", "&", "|", "^", ">>", "===":
            try arity(name, arguments, 1...1, line)
            return try binary(name, .int(number), arguments[0], line)
        default:
            throw noMethod(name, .int(number), line)
        }
    }

    private func sendFloat(_ number: Double, _ name: String, _ arguments: [RValue], _ line: Int) throws(Signal)
        -> RValue
    {
        func integer(_ value: Double) throws(Signal) -> RValue {
            .int(try exactInteger(value, line))
        }
        switch name {
        case "to_i", "to_int", "truncate": return try integer(number.rounded(.towardZero))
        case "to_f": return .float(number)
        case "floor": return try integer(number.rounded(.down))
        case "ceil": return try integer(number.rounded(.up))
        case "round":
            if let digits = arguments.first, case .int(let places) = digits, places > 0 {
                let scale = Foundation.pow(10.0, Double(places))
                return .float((number * scale).rounded(.toNearestOrAwayFromZero) / scale)
            }
            return try integer(number.rounded(.toNearestOrAwayFromZero))
        case "abs": return .float(abs(number))
        case "zero?": return .bool(number == 0)
        case "positive?": return .bool(number > 0)
        case "negative?": return .bool(number < 0)
        case "nan?": return .bool(number.isNaN)
        case "infinite?": return number.isInfinite ? .int(number < 0 ? -1 : 1) : .null
        case "+", "-", "*", "/", "%", "**", "<", ">", "<=", ">=", "<=>", "===":
            try arity(name, arguments, 1...1, line)
            return try binary(name, .float(number), arguments[0], line)
        default:
            throw noMethod(name, .float(number), line)
        }
    }
}
