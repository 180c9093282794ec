import Foundation

/// Array, Hash and OpenStruct methods, in-place mutation, and `format`.
extension Interpreter {
    var contextProperties: RValue { context.properties }

    func join(_ items: [RValue], _ separator: String, _ line: Int) throws(Signal) -> String {
        var parts: [String] = []
        parts.reserveCapacity(items.count)
        for item in items {
            if case .array(let nested) = item {
                parts.append(try join(nested, separator, line))
            } else {
                parts.append(RubyFormat.toS(item))
            }
        }
        return parts.joined(separator: separator)
    }

    private func intArgument(_ arguments: [RValue], _ index: Int, _ name: String, _ line: Int) throws(Signal) -> Int {
        guard index < arguments.count else { throw runtime("wrong number of arguments for '\(name)'", line) }
        guard case .int(let value) = arguments[index] else {
            throw runtime("no implicit conversion of \(arguments[index].className) into Integer", line)
        }
        return value
    }

    private func flatten(_ items: [RValue]) -> [RValue] {
        var result: [RValue] = []
        for item in items {
            if case .array(let nested) = item { result += flatten(nested) } else { result.append(item) }
        }
        return result
    }

    private func sorted(_ items: [RValue], keys: [RValue], _ line: Int) throws(Signal) -> [RValue] {
        var failure: Signal?
        let order = items.indices.sorted { a, b in
            guard failure == nil else { return false }
            guard let result = compare(keys[a], keys[b]) else {
                failure = runtime("comparison of \(keys[a].className) with \(keys[b].className) failed", line)
                return false
            }
            return result < 0 || (result == 0 && a < b)
        }
        if let failure { throw failure }
        return order.map { items[$0] }
    }

    // MARK: Arrays

    func sendArray(_ items: [RValue], _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        if block == nil, arguments.isEmpty, Interpreter.enumeratorMethods.contains(name) {
            return .enumerator(items, method: name)
        }
        switch name {
        case "length", "size": return .int(items.count)
        case "count":
            if let needle = arguments.first { return .int(items.filter { equals($0, needle) }.count) }
            if block != nil {
                var count = 0
                for item in items where try invoke(block, [item], line).truthy { count += 1 }
                return .int(count)
            }
            return .int(items.count)
        case "empty?": return .bool(items.isEmpty)
        case "any?", "all?", "none?":
            var matches = 0
            for item in items {
                let hit: Bool
                if let pattern = arguments.first {
                    hit = caseEquals(pattern, item)
                } else if block != nil {
                    hit = try invoke(block, [item], line).truthy
                } else {
                    hit = item.truthy
                }
                if hit { matches += 1 }
            }
            switch name {
            case "any?": return .bool(matches > 0)
            case "all?": return .bool(matches == items.count)
            default: return .bool(matches == 0)
            }
        case "include?", "member?":
            try arity(name, arguments, 1...1, line)
            return .bool(items.contains { equals($0, arguments[0]) })
        case "first", "last", "take", "drop":
            if arguments.isEmpty, name == "first" || name == "last" {
                return (name == "first" ? items.first : items.last) ?? .null
            }
            let count = max(0, try intArgument(arguments, 0, name, line))
            switch name {
            case "first", "take": return .array(Array(items.prefix(count)))
            case "last": return .array(Array(items.suffix(count)))
            default: return .array(Array(items.dropFirst(count)))
            }
        case "join":
            let separator = arguments.first.map { $0 == .null ? "" : RubyFormat.toS($0) } ?? ""
            return .string(try join(items, separator, line))
        case "each":
            for item in items { _ = try invoke(block, [item], line) }
            return .array(items)
        case "each_with_index":
            for (index, item) in items.enumerated() { _ = try invoke(block, [item, .int(index)], line) }
            return .array(items)
        case "map", "collect", "flat_map", "filter_map":
            var result: [RValue] = []
            result.reserveCapacity(items.count)
            for item in items {
                let value = try invoke(block, [item], line)
                if name == "flat_map", case .array(let nested) = value {
                    result += nested
                } else if name != "filter_map" || value.truthy {
                    result.append(value)
                }
            }
            return .array(result)
        case "select", "filter", "reject":
            var result: [RValue] = []
            for item in items where try invoke(block, [item], line).truthy == (name != "reject") { result.append(item) }
            return .array(result)
        case "partition":
            var yes: [RValue] = []
            var no: [RValue] = []
            for item in items {
                if try invoke(block, [item], line).truthy { yes.append(item) } else { no.append(item) }
            }
            return .array([.array(yes), .array(no)])
        case "find", "detect":
            for item in items where try invoke(block, [item], line).truthy { return item }
            return .null
        case "find_index", "index":
            for (index, item) in items.enumerated() {
                let hit: Bool
                if let needle = arguments.first {
                    hit = equals(needle, item)
                } else {
                    hit = try invoke(block, [item], line).truthy
                }
                if hit { return .int(index) }
            }
            return .null
        case "compact": return .array(items.filter { $0 != .null })
        case "flatten": return .array(flatten(items))
        case "uniq":
            if block != nil {
                var seen = Set<RValue>()
                var result: [RValue] = []
                for item in items where seen.insert(try invoke(block, [item], line)).inserted { result.append(item) }
                return .array(result)
            }
            return .array(unique(items))
        case "sort":
            guard block != nil else { return .array(try sorted(items, keys: items, line)) }
            var failure: Signal?
            let result = items.enumerated().sorted { a, b in
                guard failure == nil else { return false }
                do {
                    let order = try invoke(block, [a.element, b.element], line)
                    guard case .int(let value) = order else {
                        failure = runtime(
                            "comparison of \(a.element.className) with \(b.element.className) failed", line)
                        return false
                    }
                    return value < 0 || (value == 0 && a.offset < b.offset)
                } catch {
                    failure = (error as? Signal) ?? runtime("sort failed", line)
                    return false
                }
            }
            if let failure { throw failure }
            return .array(result.map { $0.element })
        case "sort_by", "min_by", "max_by":
            var keys: [RValue] = []
            for item in items { keys.append(try invoke(block, [item], line)) }
            let result = try sorted(items, keys: keys, line)
            switch name {
            case "min_by": return result.first ?? .null
            case "max_by": return result.last ?? .null
            default: return .array(result)
            }
        case "min", "max":
            let result = try sorted(items, keys: items, line)
            return (name == "min" ? result.first : result.last) ?? .null
        case "sum":
            var total: RValue = arguments.first ?? .int(0)
            for item in items {
                let value = block != nil ? try invoke(block, [item], line) : item
                total = try binary("+", total, value, line)
            }
            return total
        case "reverse": return .array(items.reversed())
        case "to_a", "entries": return .array(items)
        case "to_h":
            var hash = RHash()
            for item in items {
                let pair = block != nil ? try invoke(block, [item], line) : item
                guard case .array(let entry) = pair, entry.count == 2 else {
                    throw runtime("wrong element type \(pair.className) (expected array of 2)", line)
                }
                hash[entry[0]] = entry[1]
            }
            return .hash(hash)
        case "each_cons":
            let size = try intArgument(arguments, 0, name, line)
            guard size > 0 else { throw raised("ArgumentError", "invalid size", line) }
            var groups: [RValue] = []
            if items.count >= size {
                for start in 0...(items.count - size) { groups.append(.array(Array(items[start..<(start + size)]))) }
            }
            if block == nil { return .enumerator(groups, method: "each") }
            for group in groups { _ = try invoke(block, [group], line) }
            return .array(items)
        case "each_slice":
            let size = try intArgument(arguments, 0, name, line)
            guard size > 0 else { throw runtime("invalid slice size", line) }
            var slices: [RValue] = []
            var start = 0
            while start < items.count {
                slices.append(.array(Array(items[start..<min(items.count, start + size)])))
                start += size
            }
            if block == nil { return .array(slices) }
            for slice in slices { _ = try invoke(block, [slice], line) }
            return .null
        case "zip":
            var result: [RValue] = []
            for (index, item) in items.enumerated() {
                var row = [item]
                for other in arguments {
                    if case .array(let otherItems) = other {
                        row.append(index < otherItems.count ? otherItems[index] : .null)
                    }
                }
                result.append(.array(row))
            }
            return .array(result)
        case "inject", "reduce":
            var remaining = items[...]
            var accumulator: RValue
            if let initial = arguments.first, case .symbol = initial, arguments.count == 1, block == nil {
                guard let first = remaining.popFirst() else { return .null }
                accumulator = first
                let op = RubyFormat.toS(initial)
                for item in remaining { accumulator = try binary(op, accumulator, item, line) }
                return accumulator
            }
            if let initial = arguments.first {
                accumulator = initial
            } else {
                guard let first = remaining.popFirst() else { return .null }
                accumulator = first
            }
            for item in remaining { accumulator = try invoke(block, [accumulator, item], line) }
            return accumulator
        case "each_with_object":
            try arity(name, arguments, 1...1, line)
            var memo = arguments[0]
            guard case .block(let body, let defining) = block else { throw runtime("no block given", line) }
            for item in items {
                let (_, back) = try invoke(body, defining, [item, memo], readBack: 1)
                if let back { memo = back }
            }
            return memo
        case "group_by":
            var groups = RHash()
            for item in items {
                let key = try invoke(block, [item], line)
                if case .array(let existing) = groups[key] ?? .null {
                    groups[key] = .array(existing + [item])
                } else {
                    groups[key] = .array([item])
                }
            }
            return .hash(groups)
        case "tally":
            var counts = RHash()
            for item in items {
                if case .int(let count) = counts[item] ?? .null {
                    counts[item] = .int(count + 1)
                } else {
                    counts[item] = .int(1)
                }
            }
            return .hash(counts)
        case "fetch":
            try arity(name, arguments, 1...2, line)
            guard case .int(let index) = arguments[0] else {
                throw raised("TypeError", "no implicit conversion of \(arguments[0].className) into Integer", line)
            }
            let position = index < 0 ? items.count + index : index
            if position >= 0 && position < items.count { return items[position] }
            if arguments.count == 2 { return arguments[1] }
            if block != nil { return try invoke(block, [arguments[0]], line) }
            throw raised("IndexError", "index \(index) outside of array bounds: \(-items.count)...\(items.count)", line)
        case "dig":
            var current: RValue = .array(items)
            for key in arguments {
                if current == .null { return .null }
                current = try send(current, "[]", [key], nil, line)
            }
            return current
        case "[]", "slice":
            return try arrayIndex(items, arguments, line)
        case "+", "-", "*", "&", "|", "<=>":
            try arity(name, arguments, 1...1, line)
            return try binary(name, .array(items), arguments[0], line)
        case "sample", "shuffle":
            throw failure(.unsupportedMethod, "unsupported method '\(name)' (rendering must be deterministic)", line)
        default:
            throw noMethod(name, .array(items), line)
        }
    }

    private func arrayIndex(_ items: [RValue], _ arguments: [RValue], _ line: Int) throws(Signal) -> RValue {
        func slice(_ start: Int, _ length: Int) -> RValue {
            let begin = start < 0 ? items.count + start : start
            guard begin >= 0, begin <= items.count, length >= 0 else { return .null }
            return .array(Array(items[begin..<(begin + min(length, items.count - begin))]))
        }
        switch (arguments.first, arguments.count) {
        case (.int(let index), 1):
            let position = index < 0 ? items.count + index : index
            return position >= 0 && position < items.count ? items[position] : .null
        case (.int(let start), 2):
            return slice(start, try intArgument(arguments, 1, "[]", line))
        case (.range(let low, let high, let exclusive), 1):
            let begin = low < 0 ? items.count + low : low
            var end = high < 0 ? items.count + high : high
            if !exclusive { end += 1 }
            return slice(begin, max(0, end - begin))
        default:
            let given = arguments.first?.className ?? "nothing"
            throw runtime("no implicit conversion of \(given) into Integer", line)
        }
    }

    static let enumeratorMethods: Set<String> = [
        "each", "map", "collect", "each_with_index", "select", "filter", "reject", "flat_map", "each_pair",
    ]

    /// `items.each_with_index.map { |x, i| }`, `items.each.with_index(1)`, `items.map.with_index { }`, `to_a`.
    func sendEnumerator(
        _ items: [RValue], _ method: String, _ name: String, _ arguments: [RValue],
        _ block: Callable?, _ line: Int
    ) throws(Signal) -> RValue {
        let indexed = method == "each_with_index"
        let elements = indexed ? items.enumerated().map { RValue.array([$0.element, .int($0.offset)]) } : items
        switch name {
        case "with_index", "each_with_index":
            var offset = 0
            if let first = arguments.first, case .int(let start) = first { offset = start }
            guard block != nil else {
                return .enumerator(items, method: "each_with_index")
            }
            var results: [RValue] = []
            var kept: [RValue] = []
            for (index, item) in items.enumerated() {
                let result = try invoke(block, [item, .int(index &+ offset)], line)
                results.append(result)
                if result.truthy == (method != "reject") { kept.append(item) }
            }
            switch method {
            case "map", "collect": return .array(results)
            case "flat_map": return .array(results.flatMap { if case .array(let inner) = $0 { inner } else { [$0] } })
            case "select", "filter", "reject": return .array(kept)
            default: return .array(items)
            }
        case "to_a", "entries":
            return .array(elements)
        case "size":
            return .int(items.count)
        case "count" where block == nil && arguments.isEmpty:
            return .int(items.count)
        case "next", "peek", "rewind":
            throw failure(.unsupportedMethod, "unsupported method '\(name)' for Enumerator", line)
        default:
            guard block != nil || !Interpreter.enumeratorMethods.contains(name) else {
                return .enumerator(elements, method: name)
            }
            return try sendArray(elements, indexed && name == "each" ? "each" : name, arguments, block, line)
        }
    }

    // MARK: Hashes

    func sendHash(_ hash: RHash, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        let pairs = hash.pairs.map { RValue.array([$0.0, $0.1]) }
        if block == nil, arguments.isEmpty, Interpreter.enumeratorMethods.contains(name) {
            return .enumerator(pairs, method: name == "each_pair" ? "each" : name)
        }
        switch name {
        case "length", "size": return .int(hash.count)
        case "count" where block == nil && arguments.isEmpty: return .int(hash.count)
        case "empty?": return .bool(hash.isEmpty)
        case "keys": return .array(hash.keys)
        case "values": return .array(hash.values)
        case "key?", "has_key?", "include?", "member?":
            try arity(name, arguments, 1...1, line)
            return .bool(hash[arguments[0]] != nil)
        case "value?", "has_value?":
            try arity(name, arguments, 1...1, line)
            return .bool(hash.values.contains { equals($0, arguments[0]) })
        case "[]":
            try arity(name, arguments, 1...1, line)
            return hash[arguments[0]] ?? .null
        case "fetch":
            try arity(name, arguments, 1...2, line)
            if let value = hash[arguments[0]] { return value }
            if arguments.count == 2 { return arguments[1] }
            if block != nil { return try invoke(block, [arguments[0]], line) }
            throw runtime("key not found: \(RubyFormat.inspect(arguments[0]))", line)
        case "dig":
            var current: RValue = .hash(hash)
            for key in arguments {
                if current == .null { return .null }
                current = try send(current, "[]", [key], nil, line)
            }
            return current
        case "values_at":
            return .array(arguments.map { hash[$0] ?? .null })
        case "merge":
            var result = hash
            for argument in arguments {
                switch argument {
                case .hash(let other), .object(let other):
                    for (key, value) in other.pairs {
                        if let existing = result[key], block != nil {
                            result[key] = try invoke(block, [key, existing, value], line)
                        } else {
                            result[key] = value
                        }
                    }
                default:
                    throw runtime("no implicit conversion of \(argument.className) into Hash", line)
                }
            }
            return .hash(result)
        case "each", "each_pair":
            for pair in pairs { _ = try invoke(block, [pair], line) }
            return .hash(hash)
        case "each_key":
            for key in hash.keys { _ = try invoke(block, [key], line) }
            return .hash(hash)
        case "each_value":
            for value in hash.values { _ = try invoke(block, [value], line) }
            return .hash(hash)
        case "select", "filter", "reject":
            var result = RHash()
            for (key, value) in hash.pairs
            where try invoke(block, [.array([key, value])], line).truthy == (name != "reject") {
                result[key] = value
            }
            return .hash(result)
        case "transform_values", "transform_keys":
            var result = RHash()
            for (key, value) in hash.pairs {
                if name == "transform_values" {
                    result[key] = try invoke(block, [value], line)
                } else {
                    result[try invoke(block, [key], line)] = value
                }
            }
            return .hash(result)
        case "slice", "except":
            var result = RHash()
            for (key, value) in hash.pairs where arguments.contains(key) == (name == "slice") { result[key] = value }
            return .hash(result)
        case "compact":
            var result = RHash()
            for (key, value) in hash.pairs where value != .null { result[key] = value }
            return .hash(result)
        case "to_h" where block != nil: return try sendArray(pairs, "to_h", [], block, line)
        case "to_h", "to_hash": return .hash(hash)
        case "to_a": return .array(pairs)
        case "sort":
            return .array(try sorted(pairs, keys: pairs, line))
        case "first":
            if arguments.isEmpty { return pairs.first ?? .null }
            return try sendArray(pairs, name, arguments, block, line)
        case "invert":
            var result = RHash()
            for (key, value) in hash.pairs { result[value] = key }
            return .hash(result)
        case "key":
            try arity(name, arguments, 1...1, line)
            return hash.pairs.first { equals($0.1, arguments[0]) }?.0 ?? .null
        case "sum", "join", "last", "take", "drop", "reverse", "uniq", "compact!", "flatten", "zip", "each_slice",
            "include", "tally", "[]=":
            throw noMethod(name, .hash(hash), line)
        default:
            if Interpreter.enumerableMethods.contains(name) {
                return try sendArray(pairs, name, arguments, block, line)
            }
            throw noMethod(name, .hash(hash), line)
        }
    }

    static let enumerableMethods: Set<String> = [
        "count", "any?", "all?", "none?", "each_with_index", "map", "collect", "flat_map", "filter_map", "find",
        "detect", "sort_by", "min_by", "max_by", "partition", "inject", "reduce", "each_with_object", "group_by",
        "min", "max", "entries",
    ]

    // MARK: OpenStruct

    func sendObject(
        _ fields: RHash, _ receiver: RValue, _ name: String, _ arguments: [RValue], _ block: Callable?,
        _ line: Int
    ) throws(Signal) -> RValue {
        switch name {
        case "[]":
            try arity(name, arguments, 1...1, line)
            return fields[.string(RubyFormat.toS(arguments[0]))] ?? .null
        case "to_h", "marshal_dump":
            return .hash(fields)
        case "each_pair":
            for (key, value) in fields.pairs {
                _ = try invoke(block, [.array([.symbol(RubyFormat.toS(key)), value])], line)
            }
            return receiver
        case "dig":
            var current = receiver
            for key in arguments {
                if current == .null { return .null }
                current = try send(current, "[]", [key], nil, line)
            }
            return current
        default:
            guard arguments.isEmpty && block == nil else { throw noMethod(name, receiver, line) }
            return fields[.string(name)] ?? .null
        }
    }

    // MARK: Mutation

    /// Applies a mutating method to `value` in place and returns the method's result.
    func mutate(_ value: inout RValue, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        if value.isArray && (name == "push" || name == "append") {
            value.appendInPlace(items: arguments)
            return value
        }
        if value.isArray && name == "concat" {
            for argument in arguments {
                guard case .array(let more) = argument else {
                    throw runtime("no implicit conversion of \(argument.className) into Array", line)
                }
                value.appendInPlace(items: more)
            }
            return value
        }
        if value.isHash && name == "store" {
            try arity(name, arguments, 2...2, line)
            value.setInPlace(key: arguments[0], arguments[1])
            return arguments[1]
        }
        switch (name, value) {
        case ("concat", .string), ("append", .string):
            for argument in arguments { _ = try append(&value, argument, line) }
            return value
        case ("unshift", .array(let items)), ("prepend", .array(let items)):
            value = .array(arguments + items)
            return value
        case ("insert", .array(var items)):
            let index = try intArgument(arguments, 0, name, line)
            let position = index < 0 ? items.count + index + 1 : index
            guard position >= 0, position <= items.count else { throw runtime("index \(index) out of range", line) }
            items.insert(contentsOf: arguments.dropFirst(), at: position)
            value = .array(items)
            return value
        case ("pop", .array(var items)):
            let last = items.popLast() ?? .null
            value = .array(items)
            return last
        case ("shift", .array(var items)):
            let first = items.isEmpty ? RValue.null : items.removeFirst()
            value = .array(items)
            return first
        case ("delete", .array(let items)):
            try arity(name, arguments, 1...1, line)
            let kept = items.filter { !equals($0, arguments[0]) }
            value = .array(kept)
            return kept.count == items.count ? .null : arguments[0]
        case ("delete", .hash(var hash)):
            try arity(name, arguments, 1...1, line)
            let removed = hash[arguments[0]] ?? .null
            hash[arguments[0]] = nil
            value = .hash(hash)
            return removed
        case ("clear", .array):
            value = .array([])
            return value
        case ("clear", .hash):
            value = .hash(RHash())
            return value
        case ("merge!", .hash), ("update", .hash):
            value = try sendHash(hashOf(value), "merge", arguments, block, line)
            return value
        case ("store", .hash):
            try arity(name, arguments, 2...2, line)
            try indexSet(&value, [arguments[0]], arguments[1], line)
            return arguments[1]
        case ("replace", _):
            try arity(name, arguments, 1...1, line)
            value = arguments[0]
            return value
        default:
            guard name.hasSuffix("!") else { throw noMethod(name, value, line) }
            let result = try send(value, name.trimmingBang, arguments, block, line)
            let changed = result != value
            value = result
            return changed ? result : .null
        }
    }

    private func hashOf(_ value: RValue) -> RHash {
        if case .hash(let hash) = value { return hash }
        return RHash()
    }

    /// `container[index] = value`.
    func indexSet(_ container: inout RValue, _ index: [RValue], _ value: RValue, _ line: Int) throws(Signal) {
        if container.isHash {
            guard index.count == 1 else { throw runtime("wrong number of arguments for '[]='", line) }
            container.setInPlace(key: index[0], value)
            return
        }
        guard container.isArray else { throw noMethod("[]=", container, line) }
        guard index.count == 1, case .int(let position) = index[0] else {
            throw failure(.unsupportedSyntax, "unsupported syntax: array slice assignment", line)
        }
        var count = 0
        if case .array(let items) = container { count = items.count }
        let resolved = position < 0 ? count + position : position
        guard resolved >= 0 else { throw runtime("index \(position) too small for array", line) }
        try checkSize(resolved, line)
        container.setInPlace(index: resolved, value)
    }

    // MARK: format

    /// `format` / `String#%` for the `%[flags][width][.precision](s|d|i|f|x|X|o|b|e|g|%)` directives.
    func format(_ template: String, _ arguments: [RValue], _ line: Int) throws(Signal) -> String {
        var result = ""
        var characters = template[...]
        var next = 0
        while let character = characters.popFirst() {
            guard character == "%" else {
                result.append(character)
                continue
            }
            var flags = ""
            while let flag = characters.first, "-+ 0#".contains(flag) {
                flags.append(flag)
                characters.removeFirst()
            }
            var width = ""
            while let digit = characters.first, digit.isASCII, digit.isNumber {
                width.append(digit)
                characters.removeFirst()
            }
            var precision: Int?
            if characters.first == "." {
                characters.removeFirst()
                var digits = ""
                while let digit = characters.first, digit.isASCII, digit.isNumber {
                    digits.append(digit)
                    characters.removeFirst()
                }
                precision = min(Int(digits) ?? 0, 1000)
            }
            guard let type = characters.popFirst() else { throw runtime("incomplete format specifier", line) }
            if type == "%" {
                result.append("%")
                continue
            }
            guard next < arguments.count else { throw runtime("too few arguments", line) }
            let argument = arguments[next]
            next += 1
            var body: String
            switch type {
            case "s":
                body = RubyFormat.toS(argument)
                if let precision { body = String(body.prefix(precision)) }
            case "p": body = RubyFormat.inspect(argument)
            case "d", "i", "x", "X", "o", "b":
                let number: Int
                switch argument {
                case .int(let value): number = value
                case .float(let value) where value.isFinite: number = try exactInteger(value.rounded(.down), line)
                case .string(let text):
                    guard let value = Int(text) else {
                        throw runtime("invalid value for Integer() (a String that is not a number)", line)
                    }
                    number = value
                default: throw runtime("can't convert \(argument.className) into Integer", line)
                }
                let radix = type == "x" || type == "X" ? 16 : type == "o" ? 8 : type == "b" ? 2 : 10
                body = String(number.magnitude, radix: radix, uppercase: type == "X")
                if number < 0 {
                    body = "-" + body
                } else if flags.contains("+") {
                    body = "+" + body
                } else if flags.contains(" ") {
                    body = " " + body
                }
            case "f", "e", "g":
                guard let number = number(argument) ?? Double(RubyFormat.toS(argument)) else {
                    throw runtime("can't convert \(argument.className) into Float", line)
                }
                body = String(format: "%.\(precision ?? 6)\(type)", number)
                if number >= 0 && flags.contains("+") { body = "+" + body }
            default:
                throw failure(.unsupportedSyntax, "unsupported syntax: format directive '%\(type)'", line)
            }
            if let targetWidth = Int(width), body.count < targetWidth {
                try checkSize(targetWidth, line)
                let padding = targetWidth - body.count
                if flags.contains("-") {
                    body += String(repeating: " ", count: padding)
                } else if flags.contains("0") && type != "s" {
                    let signed = body.hasPrefix("-") || body.hasPrefix("+")
                    let sign = signed ? String(body.removeFirst()) : ""
                    body = sign + String(repeating: "0", count: padding) + body
                } else {
                    body = String(repeating: " ", count: padding) + body
                }
            }
            result += body
        }
        return result
    }
}
