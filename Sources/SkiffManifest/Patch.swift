import SkiffCore

/// A failure while walking a document with a go-patch pointer, with go-patch's message.
public struct PatchFailure: Error, Sendable, Equatable {
    /// Which go-patch error this is (test `absent:` cares about the missing ones).
    public enum Kind: Sendable, Equatable {
        case missingKey, missingIndex, other
    }

    /// Which go-patch error this is.
    public var kind: Kind
    /// The pointer (as printed) at which the walk failed.
    public var path: String
    /// go-patch's message.
    public var message: String
}

/// One go-patch operation read from an ops file.
public struct PatchOperation: Sendable {
    /// What the operation does.
    public enum Kind: Sendable {
        /// Put `value` at the path.
        case replace(ManifestValue)
        /// Remove what is at the path.
        case remove
        /// Check the value at the path, or (`absent`) that nothing is there.
        case test(ManifestValue?, absent: Bool)
    }

    /// What the operation does.
    public var kind: Kind
    /// Where it applies.
    public var path: Pointer
    /// The description bosh attaches to each op: `operation [i] in FILE failed`.
    public var label: String
    /// Where it was read: the ops file as named on the command line, and the operation's line when known.
    public var location: SourceLocation
    /// The origin stamped on map entries this operation creates.
    public var origin: SourceOrigin

    /// Creates an operation.
    public init(kind: Kind, path: Pointer, label: String, file: String, line: Int, origin: SourceOrigin = .unknown) {
        self.kind = kind
        self.path = path
        self.label = label
        self.location = SourceLocation(file: file, line: line)
        self.origin = origin
    }

    /// Applies the operation to `document` in place; on failure throws bosh's message located at the op.
    public func apply(to document: inout ManifestValue) throws(ManifestError) {
        do {
            switch kind {
            case .replace(let value):
                try Patcher.replace(in: &document, path: path, value: value, origin: origin)
            case .remove:
                try Patcher.remove(in: &document, path: path)
            case .test(let value, let absent):
                try Patcher.test(document, path: path, value: value, absent: absent)
            }
        } catch {
            throw ManifestError(.operationFailed, "Error '\(label)': \(error.message)", at: location)
        }
    }

    /// Reads the operations of an ops file (a YAML list; `null` for an empty file).
    ///
    /// An ops file of the wrong shape is refused with bosh's words, located from `text` (the file's source):
    /// `Deserializing ops file 'ops.yml': yaml: unmarshal errors: line 1: cannot unmarshal !!map into
    /// []patch.OpDefinition`. Scalar `type`/`path` fields are read as their text, as yaml.v2 reads them into strings.
    public static func operations(from document: ManifestValue, text: String? = nil, file: String)
        throws(ManifestError) -> [PatchOperation]
    {
        func wrongShape() -> ManifestError {
            let what = "ops file '\(file)'"
            if let text,
                let error = Deserialization.error(text: text, target: .opsFile, fileName: file, what: what)
            {
                return error
            }
            return ManifestError(.wrongShape, "Deserializing \(what): not a list of operations", file: file)
        }
        let items: [ManifestValue]
        switch document {
        case .null: return []
        case .list(let list): items = list
        default: throw wrongShape()
        }
        var operations: [PatchOperation] = []
        operations.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let definition: ManifestMap
            switch item {
            case .map(let map): definition = map
            case .null: definition = ManifestMap()
            default: throw wrongShape()
            }
            let origin = definition.entries.first?.origin ?? .unknown
            let line = Int(origin.line)
            func fail(_ message: String) -> ManifestError {
                ManifestError(.invalidOperation, message, file: file, line: line > 0 ? line : nil)
            }
            func text(_ field: String) throws(ManifestError) -> String? {
                guard let value = definition[field], value != .null else { return nil }
                switch value {
                case .string(let string): return string
                case .map, .list: throw wrongShape()
                default: return YAMLWriter.scalarText(value)
                }
            }
            let type = try text("type") ?? ""
            let pathText = try text("path")
            _ = try text("error")
            var value: ManifestValue? = definition["value"]
            if value == .null { value = nil }
            var absent: Bool?
            if let raw = definition["absent"], raw != .null {
                guard case .bool(let flag) = raw else { throw wrongShape() }
                absent = flag
            }
            let title: String
            switch type {
            case "replace": title = "Replace"
            case "remove": title = "Remove"
            case "test": title = "Test"
            default: throw fail("Unknown operation [\(index)] with type '\(type)'")
            }
            guard let pathText else { throw fail("\(title) operation [\(index)]: Missing path") }
            let kind: Kind
            switch type {
            case "replace":
                guard let value else { throw fail("Replace operation [\(index)]: Missing value") }
                if absent != nil { throw fail("Replace operation [\(index)]: Cannot specify absent") }
                kind = .replace(value)
            case "remove":
                if value != nil { throw fail("Remove operation [\(index)]: Cannot specify value") }
                if absent != nil { throw fail("Remove operation [\(index)]: Cannot specify absent") }
                kind = .remove
            default:
                if value == nil && absent == nil { throw fail("Test operation [\(index)]: Missing value or absent") }
                if value != nil && absent != nil {
                    throw fail("Test operation [\(index)]: Cannot specify both value and absent")
                }
                kind = .test(value, absent: absent ?? false)
            }
            let pointer: Pointer
            do {
                pointer = try Pointer(parsing: pathText)
            } catch {
                throw fail("\(title) operation [\(index)]: Invalid path: \(error.message)")
            }
            operations.append(
                PatchOperation(
                    kind: kind, path: pointer, label: "operation [\(index)] in \(file) failed", file: file, line: line,
                    origin: origin))
        }
        return operations
    }

    static func shapeName(_ value: ManifestValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .float: "a float"
        case .string: "a string"
        case .list: "a list"
        case .map: "a map"
        }
    }
}

/// go-patch's replace, remove, test and find, working in place on a ``ManifestValue``.
public enum Patcher {
    typealias Failure = PatchFailure

    // MARK: find

    /// The value at `path` (go-patch FindOp): an optional missing key gives `null`, an optional unmatched
    /// `k=v?` gives the map `{k: v}`.
    public static func find(in document: ManifestValue, path: Pointer) throws(PatchFailure) -> ManifestValue {
        var current = document
        let tokens = path.tokens
        for (position, token) in tokens.enumerated() {
            let isLast = position == tokens.count - 1
            let here = path.prefix(position + 1)
            switch token {
            case .index(let index, let modifiers):
                guard case .list(let items) = current else { throw arrayMismatch(here, current) }
                current = items[try concreteIndex(index, modifiers: modifiers, count: items.count, path: here)]
            case .afterLast:
                throw Failure(
                    kind: .other, path: path.description,
                    message: "Expected not to find after last index token in path '\(path)' "
                        + "(not supported in find operations)")
            case .matching(let key, let value, let optional, let modifiers):
                guard case .list(let items) = current else { throw arrayMismatch(here, current) }
                let matches = matchingIndices(items, key: key, value: value)
                if optional && matches.isEmpty {
                    current = .map(ManifestMap(entries: [.init(key: .string(key), value: .string(value))]))
                    if isLast { return current }
                } else {
                    guard matches.count == 1 else { throw multipleMatches(here, matches.count) }
                    current = items[try concreteIndex(matches[0], modifiers: modifiers, count: items.count, path: here)]
                }
            case .key(let key, let optional):
                guard case .map(let map) = current else { throw mapMismatch(here, current) }
                if let found = map[key] {
                    current = found
                } else {
                    guard optional else { throw missingKey(key, here, map) }
                    if isLast { return .null }
                    // go-patch's find (unlike replace) only descends into a key or a matching index here.
                    switch tokens[position + 1] {
                    case .matching: current = .list([])
                    case .key: current = .map(ManifestMap())
                    case .index, .afterLast:
                        throw Failure(
                            kind: .other, path: path.prefix(position + 2).description,
                            message: "Expected to find key or matching index token at path '"
                                + path.prefix(position + 2).description + "'")
                    }
                }
            }
        }
        return current
    }

    // MARK: replace

    /// go-patch ReplaceOp.
    public static func replace(
        in document: inout ManifestValue, path: Pointer, value: ManifestValue,
        origin: SourceOrigin = .unknown
    ) throws(PatchFailure) {
        if path.tokens.isEmpty {
            document = value
            return
        }
        try replace(&document, path: path, position: 0, value: value, origin: origin)
    }

    private static func replace(
        _ node: inout ManifestValue, path: Pointer, position: Int, value: ManifestValue,
        origin: SourceOrigin
    ) throws(PatchFailure) {
        let tokens = path.tokens
        let isLast = position == tokens.count - 1
        let here = path.prefix(position + 1)
        switch tokens[position] {
        case .index(let index, let modifiers):
            guard case .list(var items) = node else { throw arrayMismatch(here, node) }
            node = .null
            defer { node = .list(items) }
            if isLast {
                let (at, insert) = try insertionIndex(index, modifiers: modifiers, count: items.count, path: here)
                if insert { items.insert(value, at: at) } else { items[at] = value }
            } else {
                let at = try concreteIndex(index, modifiers: modifiers, count: items.count, path: here)
                try replace(&items[at], path: path, position: position + 1, value: value, origin: origin)
            }
        case .afterLast:
            guard case .list(var items) = node else { throw arrayMismatch(here, node) }
            guard isLast else {
                throw Failure(
                    kind: .other, path: path.description,
                    message: "Expected after last index token to be last in path '\(path)'")
            }
            node = .null
            items.append(value)
            node = .list(items)
        case .matching(let key, let match, let optional, let modifiers):
            guard case .list(var items) = node else { throw arrayMismatch(here, node) }
            let matches = matchingIndices(items, key: key, value: match)
            node = .null
            defer { node = .list(items) }
            if optional && matches.isEmpty {
                if isLast {
                    items.append(value)
                } else {
                    items.append(
                        .map(
                            ManifestMap(entries: [
                                .init(
                                    key: .string(key), value: .string(match),
                                    origin: origin)
                            ])))
                    try replace(
                        &items[items.count - 1], path: path, position: position + 1, value: value,
                        origin: origin)
                }
            } else {
                guard matches.count == 1 else { throw multipleMatches(here, matches.count) }
                if isLast {
                    let (at, insert) = try insertionIndex(
                        matches[0], modifiers: modifiers, count: items.count, path: here)
                    if insert { items.insert(value, at: at) } else { items[at] = value }
                } else {
                    let at = try concreteIndex(matches[0], modifiers: modifiers, count: items.count, path: here)
                    try replace(&items[at], path: path, position: position + 1, value: value, origin: origin)
                }
            }
        case .key(let key, let optional):
            guard case .map(var map) = node else { throw mapMismatch(here, node) }
            let existing = map.index(ofString: key)
            if existing == nil && !optional { throw missingKey(key, here, map) }
            node = .null
            defer { node = .map(map) }
            if isLast {
                if let existing {
                    map.entries[existing].value = value
                } else {
                    map.entries.append(.init(key: .string(key), value: value, origin: origin))
                }
                return
            }
            let slot: Int
            if let existing {
                slot = existing
            } else {
                let container: ManifestValue
                switch tokens[position + 1] {
                case .afterLast, .matching: container = .list([])
                case .key: container = .map(ManifestMap())
                case .index:
                    let at = path.prefix(position + 2).description
                    throw Failure(
                        kind: .other, path: at,
                        message: "Expected to find key, matching index or after last index token at path '\(at)'")
                }
                map.entries.append(.init(key: .string(key), value: container, origin: origin))
                slot = map.entries.count - 1
            }
            try replace(&map.entries[slot].value, path: path, position: position + 1, value: value, origin: origin)
        }
    }

    // MARK: remove

    /// go-patch RemoveOp.
    public static func remove(in document: inout ManifestValue, path: Pointer) throws(PatchFailure) {
        guard !path.tokens.isEmpty else {
            throw Failure(kind: .other, path: "", message: "Cannot remove entire document")
        }
        try remove(&document, path: path, position: 0)
    }

    private static func remove(_ node: inout ManifestValue, path: Pointer, position: Int) throws(PatchFailure) {
        let tokens = path.tokens
        let isLast = position == tokens.count - 1
        let here = path.prefix(position + 1)
        switch tokens[position] {
        case .index(let index, let modifiers):
            guard case .list(var items) = node else { throw arrayMismatch(here, node) }
            let at = try concreteIndex(index, modifiers: modifiers, count: items.count, path: here)
            node = .null
            defer { node = .list(items) }
            if isLast {
                items.remove(at: at)
            } else {
                try remove(&items[at], path: path, position: position + 1)
            }
        case .afterLast:
            throw Failure(
                kind: .other, path: here.description,
                message: "Expected to not find token 'patch.AfterLastIndexToken' at path '\(here)'")
        case .matching(let key, let match, let optional, let modifiers):
            guard case .list(var items) = node else { throw arrayMismatch(here, node) }
            let matches = matchingIndices(items, key: key, value: match)
            if optional && matches.isEmpty { return }
            guard matches.count == 1 else { throw multipleMatches(here, matches.count) }
            // go-patch applies `:prev`/`:next` to the matched index (and refuses `:before`/`:after`) here too.
            let at = try concreteIndex(matches[0], modifiers: modifiers, count: items.count, path: here)
            node = .null
            defer { node = .list(items) }
            if isLast {
                items.remove(at: at)
            } else {
                try remove(&items[at], path: path, position: position + 1)
            }
        case .key(let key, let optional):
            guard case .map(var map) = node else { throw mapMismatch(here, node) }
            guard let existing = map.index(ofString: key) else {
                if optional { return }
                throw missingKey(key, here, map)
            }
            node = .null
            defer { node = .map(map) }
            if isLast {
                map.entries.remove(at: existing)
            } else {
                try remove(&map.entries[existing].value, path: path, position: position + 1)
            }
        }
    }

    // MARK: test

    /// go-patch TestOp.
    public static func test(_ document: ManifestValue, path: Pointer, value: ManifestValue?, absent: Bool)
        throws(PatchFailure)
    {
        if absent {
            do {
                _ = try find(in: document, path: path)
            } catch {
                if error.kind != .other && error.path == path.description { return }
                throw error
            }
            throw Failure(kind: .other, path: path.description, message: "Expected to not find '\(path)'")
        }
        let found = try find(in: document, path: path)
        if found != value {
            throw Failure(kind: .other, path: path.description, message: "Found value does not match expected value")
        }
    }

    // MARK: helpers

    static func matchingIndices(_ items: [ManifestValue], key: String, value: String) -> [Int] {
        var result: [Int] = []
        for (index, item) in items.enumerated() {
            guard case .map(let map) = item, case .string(let text)? = map[key], text == value else { continue }
            result.append(index)
        }
        return result
    }

    static func concreteIndex(_ index: Int, modifiers: [Pointer.Modifier], count: Int, path: Pointer)
        throws(PatchFailure) -> Int
    {
        var result = index
        for modifier in modifiers {
            switch modifier {
            case .prev: result -= 1
            case .next: result += 1
            default:
                throw Failure(
                    kind: .other, path: path.description,
                    message: "Expected to find one of the following modifiers: 'prev', 'next', but found modifier '"
                        + modifier.goTypeName + "'")
            }
        }
        if result >= count || (-result) - 1 >= count {
            throw Failure(
                kind: .missingIndex, path: path.description,
                message: "Expected to find array index '\(result)' but found array of length '\(count)' "
                    + "for path '\(path)'")
        }
        return result < 0 ? count + result : result
    }

    static func insertionIndex(_ index: Int, modifiers: [Pointer.Modifier], count: Int, path: Pointer)
        throws(PatchFailure) -> (Int, insert: Bool)
    {
        var plain: [Pointer.Modifier] = []
        var before = false
        var after = false
        for modifier in modifiers {
            if before || after {
                throw Failure(
                    kind: .other, path: path.description,
                    message: "Expected to not find any modifiers after '\(before ? "before" : "after")' modifier, "
                        + "but found modifier '\(modifier.goTypeName)'")
            }
            switch modifier {
            case .before: before = true
            case .after: after = true
            default: plain.append(modifier)
            }
        }
        var result = try concreteIndex(index, modifiers: plain, count: count, path: path)
        if after { result += 1 }
        return (result, before || after)
    }

    static func missingKey(_ key: String, _ path: Pointer, _ map: ManifestMap) -> PatchFailure {
        let others: String
        if map.isEmpty {
            others = "found no other map keys"
        } else {
            let keys = map.entries.compactMap { $0.key.stringValue }.sorted {
                $0.utf8.lexicographicallyPrecedes($1.utf8)
            }
            others = "found map keys: '" + keys.joined(separator: "', '") + "'"
        }
        return Failure(
            kind: .missingKey, path: path.description,
            message: "Expected to find a map key '\(key)' for path '\(path)' (\(others))")
    }

    static func multipleMatches(_ path: Pointer, _ count: Int) -> PatchFailure {
        Failure(
            kind: .other, path: path.description,
            message: "Expected to find exactly one matching array item for path '\(path)' but found \(count)")
    }

    static func mapMismatch(_ path: Pointer, _ found: ManifestValue) -> PatchFailure {
        Failure(
            kind: .other, path: path.description,
            message: "Expected to find a map at path '\(path)' but found '\(found.goTypeName)'")
    }

    static func arrayMismatch(_ path: Pointer, _ found: ManifestValue) -> PatchFailure {
        Failure(
            kind: .other, path: path.description,
            message: "Expected to find an array at path '\(path)' but found '\(found.goTypeName)'")
    }
}
