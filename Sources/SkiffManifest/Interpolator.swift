import Foundation
import SkiffCore

/// One step of a field path: a map key or a list index.
public enum FieldPathComponent: Sendable, Hashable {
    /// A map key (non-string keys are shown as bosh prints them).
    case key(String)
    /// A list index.
    case index(Int)
}

/// A path to a field, printed like `instance_groups[0].networks`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The steps from the document root.
    public var components: [FieldPathComponent]

    /// A path from steps.
    public init(_ components: [FieldPathComponent] = []) { self.components = components }

    /// `a.b[0].c`.
    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let key):
                if !out.isEmpty { out += "." }
                out += key
            case .index(let index):
                out += "[\(index)]"
            }
        }
        return out
    }
}

/// Everything an evaluation needs: the manifest, ops files, variable sources and checks.
public struct InterpolationRequest: Sendable {
    /// The manifest text.
    public var manifest: SourceText
    /// Ops files, applied in order before variables.
    public var opsFiles: [SourceText]
    /// Variable values.
    public var variables: VariableSources
    /// Fail when a referenced variable has no value (`--var-errs`; always on for create-env).
    public var expectAllKeys: Bool
    /// Fail when a provided variable is not used (`--var-errs-unused`).
    public var expectAllVarsUsed: Bool
    /// Extract the value at this go-patch pointer after interpolation (`--path`).
    public var path: Pointer?
    /// Write generated variables to the vars store at the end of the evaluation (the default). When false, the
    /// store with the generated values is returned in ``InterpolatedDocument/unsavedStore`` for the caller to save
    /// once it is about to change something (create-env), or never (a dry run).
    public var savesStore = true

    /// Reads the manifest (or `-` for standard input), the ops files and every variable source named by the flags.
    ///
    /// create-env and delete-env evaluate with `expectAllKeys: true`, as bosh does.
    public static func load(
        manifestPath: String, opsPaths: [String], variables flags: VariableFlags, expectAllKeys: Bool,
        expectAllVarsUsed: Bool = false, path: Pointer? = nil
    ) throws(ManifestError) -> InterpolationRequest {
        let manifest = try SourceText.read(manifestPath, what: "manifest")
        var ops: [SourceText] = []
        for opsPath in opsPaths { ops.append(try SourceText.read(opsPath, what: "ops file")) }
        return InterpolationRequest(
            manifest: manifest, opsFiles: ops,
            variables: try VariableSources(flags: flags), expectAllKeys: expectAllKeys,
            expectAllVarsUsed: expectAllVarsUsed, path: path)
    }

    /// Creates a request.
    public init(
        manifest: SourceText, opsFiles: [SourceText] = [], variables: VariableSources = VariableSources(),
        expectAllKeys: Bool = false, expectAllVarsUsed: Bool = false, path: Pointer? = nil
    ) {
        self.manifest = manifest
        self.opsFiles = opsFiles
        self.variables = variables
        self.expectAllKeys = expectAllKeys
        self.expectAllVarsUsed = expectAllVarsUsed
        self.path = path
    }
}

/// A placeholder that was replaced by a variable's value.
public struct Substitution: Sendable, Hashable {
    /// Where in the document.
    public var path: FieldPath
    /// The variable name as written (`name` or `name.sub.key`).
    public var variable: String
    /// Whether the placeholder was the whole value (so the field now holds the variable's value as is).
    public var wholeValue: Bool
}

/// The result of an evaluation: the interpolated tree, where it came from, and which values are secret.
public struct InterpolatedDocument: Sendable {
    /// The interpolated document (before `--path`).
    public var value: ManifestValue
    /// The value at the request's `--path`, or the whole document.
    public var selected: ManifestValue
    /// File names referred to by ``SourceOrigin/file`` (index 0 is the manifest, then the ops files).
    public var files: [String]
    /// Placeholders that were replaced, in document order.
    public var substitutions: [Substitution]
    /// Names referenced but not found (sorted).
    public var missingVariables: [String]
    /// Every string value that came from a variable (for redaction).
    public var secretValues: Set<String>
    /// Names of variables generated into the vars store during this evaluation.
    public var generatedVariables: [String]

    /// Whether a `--path` was applied.
    public var hasPath: Bool

    /// The vars store with this evaluation's generated values, when the request asked not to save it and there
    /// were generated values; `save()` it to keep them.
    public var unsavedStore: VarsStore?

    /// The output `bosh int` prints: YAML, or (with `--path` selecting a string) the raw string plus a newline.
    public var output: String {
        if hasPath, case .string(let text) = selected { return text + "\n" }
        return YAMLWriter.write(selected)
    }

    /// The file and line a field was read from (the deepest step of `path` that has one); no field is set.
    public func location(of path: FieldPath) -> SourceLocation? {
        var node = value
        var best: SourceOrigin?
        for component in path.components {
            switch (component, node) {
            case (.key(let key), .map(let map)):
                guard let index = map.index(ofString: key) else { return resolve(best) }
                if map.entries[index].origin.isKnown { best = map.entries[index].origin }
                node = map.entries[index].value
            case (.index(let index), .list(let items)):
                guard items.indices.contains(index) else { return resolve(best) }
                node = items[index]
                if case .map(let map) = node, let first = map.entries.first, first.origin.isKnown {
                    best = map.entries.min(by: { $0.origin.line < $1.origin.line })?.origin ?? first.origin
                }
            default:
                return resolve(best)
            }
        }
        return resolve(best)
    }

    private func resolve(_ origin: SourceOrigin?) -> SourceLocation? {
        guard let origin, origin.isKnown, files.indices.contains(Int(origin.file)) else { return nil }
        return SourceLocation(file: files[Int(origin.file)], line: Int(origin.line))
    }

    /// Whether the field at `path` (or something inside it) was filled from a variable.
    public func isFromVariable(_ path: FieldPath) -> Bool {
        substitutions.contains { $0.path.components.starts(with: path.components) }
    }

    /// `text` with every secret value replaced by `<redacted>`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secretValues.sorted(by: { $0.count > $1.count }) where secret.count >= 3 {
            result = result.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return result
    }
}

/// bosh's manifest evaluation: parse, apply ops, resolve `variables:`, substitute `((placeholders))`.
public enum Interpolator {
    /// Evaluates a request; writes generated variables to the vars store only when the whole evaluation succeeds.
    ///
    /// `keys` holds RSA keys already made for variables that will be generated (see ``KeyPool``).
    public static func evaluate(_ request: InterpolationRequest, keys: KeyPool = KeyPool()) throws(ManifestError)
        -> InterpolatedDocument
    {
        let (document, files) = try patched(request)
        return try finish(document, files: files, request: request, keys: keys)
    }

    /// ``evaluate(_:keys:)``, making the RSA keys the evaluation will generate concurrently first: the same
    /// result, in the same order, in a fraction of the time when a vars store receives many certificates.
    public static func evaluateConcurrently(_ request: InterpolationRequest) async throws(ManifestError)
        -> InterpolatedDocument
    {
        let (document, files) = try patched(request)
        let requests = KeyPool.requests(for: document, variables: request.variables)
        let keys = requests.count > 1 ? await KeyPool.generate(requests) : KeyPool()
        return try finish(document, files: files, request: request, keys: keys)
    }

    /// The manifest with every ops file applied, and the file table (manifest first, then the ops files).
    static func patched(_ request: InterpolationRequest) throws(ManifestError) -> (ManifestValue, [String]) {
        var files = [request.manifest.name]
        var document = try YAMLReader.parse(request.manifest.text, fileName: request.manifest.name, fileIndex: 0)
        for ops in request.opsFiles {
            let index = Int32(files.count)
            files.append(ops.name)
            let opsDocument = try YAMLReader.parse(
                ops.text, fileName: ops.name, fileIndex: index, deserializing: "ops file '\(ops.name)'")
            for operation in try PatchOperation.operations(from: opsDocument, text: ops.text, file: ops.name) {
                try operation.apply(to: &document)
            }
        }
        return (document, files)
    }

    static func finish(
        _ patchedDocument: ManifestValue, files: [String], request: InterpolationRequest, keys: KeyPool
    ) throws(ManifestError) -> InterpolatedDocument {
        var document = patchedDocument
        var evaluation = Evaluation(sources: request.variables, files: files)
        evaluation.keys = keys
        try evaluation.run(&document)
        var errors: [String] = []
        if request.expectAllKeys && !evaluation.missing.isEmpty {
            errors.append(listMessage("Expected to find variables:", evaluation.missing))
        }
        if request.expectAllVarsUsed {
            var provided = Set(evaluation.staticValues.keys)
            if let store = evaluation.store {
                for entry in store.values.entries { provided.insert(entry.key.stringValue ?? entry.key.goDescription) }
            }
            let unused = provided.subtracting(evaluation.visited)
            if !unused.isEmpty { errors.append(listMessage("Expected to use variables:", unused)) }
        }
        if !errors.isEmpty {
            let code: ManifestError.Code =
                errors[0].hasPrefix("Expected to find") ? .missingVariables : .unusedVariables
            throw ManifestError(code, errors.joined(separator: "\n"))
        }
        var selected = document
        if let path = request.path {
            do {
                selected = try Patcher.find(in: document, path: path)
            } catch {
                throw ManifestError(.pathNotFound, error.message)
            }
        }
        var unsaved: VarsStore?
        if let store = evaluation.store, !evaluation.generated.isEmpty {
            if request.savesStore { try store.save() } else { unsaved = store }
        }
        return InterpolatedDocument(
            value: document, selected: selected, files: files, substitutions: evaluation.substitutions,
            missingVariables: evaluation.missing.sorted(), secretValues: evaluation.secrets,
            generatedVariables: evaluation.generated, hasPath: request.path != nil, unsavedStore: unsaved)
    }

    /// bosh's text for a wrapped list of names (`Expected to find variables: a\nb`): the first name after the
    /// title, then one name per line, sorted, no bullets — what `err.Error()` gives for bosh's MultiError.
    static func listMessage(_ title: String, _ names: Set<String>) -> String {
        title + " " + names.sorted().joined(separator: "\n")
    }
}

/// A definition from the manifest's `variables:` section.
struct VariableDefinition {
    var name: String
    var type: String
    var options: ManifestValue?
    var origin: SourceOrigin
    var index: Int
}

/// The state of one evaluation (bosh's varsTracker plus the vars-store generator).
struct Evaluation {
    enum Lookup {
        case found(ManifestValue)
        case missing
        /// A dependency of the variable's options is missing: the variable is skipped, not reported.
        case skipped
    }

    let staticValues: [String: ManifestValue]
    var store: VarsStore?
    let files: [String]
    var definitions: [String: VariableDefinition] = [:]
    var definitionOrder: [String] = []
    var cache: [String: ManifestValue] = [:]
    var resolving: [String] = []
    var missing: Set<String> = []
    var visited: Set<String> = []
    var secrets: Set<String> = []
    var secretsRecorded: Set<String> = []
    var generated: [String] = []
    var substitutions: [Substitution] = []
    var path: [FieldPathComponent] = []
    var origin: SourceOrigin = .unknown
    /// How deep in definition options the current placeholder is (bosh wraps lookups there: `Finding variable`).
    var optionsDepth = 0
    /// RSA keys generated ahead of time, concurrently, for the variables that will need one.
    var keys: KeyPool = KeyPool()

    init(sources: VariableSources, files: [String]) {
        staticValues = sources.processedStatic()
        store = sources.store
        self.files = files
    }

    mutating func run(_ document: inout ManifestValue) throws(ManifestError) {
        readDefinitions(document)
        for name in definitionOrder {
            guard let definition = definitions[name], !definition.type.isEmpty else { continue }
            origin = definition.origin
            path = [.key("variables"), .index(definition.index)]
            if case .found = try located({ (evaluation: inout Evaluation) throws(ManifestError) in
                try evaluation.get(name)
            }) {
            }
        }
        origin = .unknown
        path = []
        try interpolate(&document)
        removeFoundDefinitions(&document)
    }

    // MARK: definitions

    mutating func readDefinitions(_ document: ManifestValue) {
        guard case .list(let items)? = document["variables"] else { return }
        for (index, item) in items.enumerated() {
            guard case .map(let map) = item, case .string(let name)? = map["name"] else { continue }
            let type = map["type"]?.stringValue ?? ""
            if definitions[name] == nil { definitionOrder.append(name) }
            let origin = map.entries.min(by: { $0.origin.line < $1.origin.line })?.origin ?? .unknown
            definitions[name] = VariableDefinition(
                name: name, type: type, options: map["options"], origin: origin, index: index)
        }
    }

    mutating func removeFoundDefinitions(_ document: inout ManifestValue) {
        guard case .map(var root) = document, let slot = root.index(ofString: "variables"),
            case .list(let items) = root.entries[slot].value
        else { return }
        let kept = items.filter { item in
            guard case .map(let map) = item, case .string(let name)? = map["name"] else { return true }
            return !isKnown(name)
        }
        document = .null
        root.entries[slot].value = .list(kept)
        document = .map(root)
    }

    /// Whether a variable has a value without generating or recording anything.
    func isKnown(_ name: String) -> Bool {
        cache[name] != nil || staticValues[name] != nil || store?.value(name) != nil
    }

    // MARK: lookup

    /// Looks up `fullName` (`name` or `name.sub.key`) and records it as used or missing.
    mutating func get(_ fullName: String) throws(ManifestError) -> Lookup {
        let base: String
        var subPath: [String] = []
        if let dot = fullName.firstIndex(of: ".") {
            base = String(fullName[..<dot])
            subPath = fullName[fullName.index(after: dot)...].split(separator: ".", omittingEmptySubsequences: false)
                .map(String.init)
        } else {
            base = fullName
        }
        let result = try lookup(base)
        switch result {
        case .missing:
            missing.insert(base)
            return .missing
        case .skipped:
            return .skipped
        case .found(let value):
            visited.insert(base)
            recordSecrets(base, value)
            guard !subPath.isEmpty else { return result }
            return .found(try descend(value, subPath, fullName: fullName))
        }
    }

    func descend(_ value: ManifestValue, _ keys: [String], fullName: String) throws(ManifestError) -> ManifestValue {
        let tokens = keys.map { key -> Pointer.Token in
            if let index = Pointer.goAtoi(key) { return .index(index, modifiers: []) }
            return .key(key, optional: false)
        }
        do {
            return try Patcher.find(in: value, path: Pointer(tokens: tokens))
        } catch {
            let keyTokens = keys.map { Pointer.Token.key($0, optional: false) }
            if let found = try? Patcher.find(in: value, path: Pointer(tokens: keyTokens)) { return found }
            throw ManifestError(.invalidVariable, "Finding variable '\(fullName)': \(error.message)")
        }
    }

    /// bosh's varsTracker.Get: a name already being resolved is recursion; a definition's options are
    /// interpolated first (whatever the source of the value), and a missing dependency skips the variable;
    /// then static values, the store, and generation into the store.
    mutating func lookup(_ name: String) throws(ManifestError) -> Lookup {
        if resolving.contains(name) {
            throw ManifestError(.generationFailed, "Detected recursion")
        }
        if let cached = cache[name] { return .found(cached) }
        let definition = definitions[name]
        var options = definition?.options ?? .null
        if let definition, options != .null {
            resolving.append(name)
            defer { resolving.removeLast() }
            let savedPath = path
            let savedOrigin = origin
            path = [.key("variables"), .index(definition.index), .key("options")]
            origin = definition.origin
            var dependencyMissing = false
            optionsDepth += 1
            do {
                dependencyMissing = try interpolateOptions(&options)
            } catch {
                optionsDepth -= 1
                throw ManifestError(
                    error.code, "Interpolating variable '\(name)' definition options: \(error.message)",
                    at: error.location)
            }
            optionsDepth -= 1
            path = savedPath
            origin = savedOrigin
            if dependencyMissing { return .skipped }
        }
        if let value = staticValues[name] {
            cache[name] = value
            return .found(value)
        }
        guard let store else { return .missing }
        if let value = store.value(name) {
            cache[name] = value
            return .found(value)
        }
        guard let definition, !definition.type.isEmpty else { return .missing }
        resolving.append(name)
        defer { resolving.removeLast() }
        let value: ManifestValue
        do {
            value = try VariableGenerator.generate(
                type: definition.type, options: options == .null ? nil : options, keys: keys, name: name,
                loadCA: { (caName: String) throws(ManifestError) -> CertificateAuthority in
                    try loadCA(caName)
                })
        } catch {
            throw ManifestError(error.code, "Generating variable '\(name)': \(error.message)")
        }
        // Generating the options' dependencies may have added to the store meanwhile: update the current one.
        self.store?.set(name, value)
        generated.append(name)
        cache[name] = value
        return .found(value)
    }

    /// Interpolates a definition's options; returns whether a dependency was missing.
    mutating func interpolateOptions(_ options: inout ManifestValue) throws(ManifestError) -> Bool {
        var sawMissing = false
        try interpolate(&options, onMissing: { sawMissing = true })
        return sawMissing
    }

    mutating func loadCA(_ name: String) throws(ManifestError) -> CertificateAuthority {
        guard case .found(let value) = try get(name) else {
            throw ManifestError(
                .generationFailed, "Loading certificates: Expected to find variable '\(name)' with a certificate")
        }
        return try CertificateAuthority(variable: name, value: value)
    }

    mutating func recordSecrets(_ name: String, _ value: ManifestValue) {
        guard !secretsRecorded.contains(name) else { return }
        secretsRecorded.insert(name)
        collectStrings(value)
    }

    mutating func collectStrings(_ value: ManifestValue) {
        switch value {
        case .string(let text): secrets.insert(text)
        case .list(let items): for item in items { collectStrings(item) }
        case .map(let map): for entry in map.entries { collectStrings(entry.value) }
        default: break
        }
    }

    // MARK: substitution

    mutating func interpolate(_ node: inout ManifestValue, onMissing: (() -> Void)? = nil) throws(ManifestError) {
        switch node {
        case .string(let text):
            if let replaced = try interpolateString(text, onMissing: onMissing) { node = replaced }
        case .list(var items):
            node = .null
            defer { node = .list(items) }
            for index in items.indices {
                path.append(.index(index))
                defer { path.removeLast() }
                try interpolate(&items[index], onMissing: onMissing)
            }
        case .map(var map):
            node = .null
            defer { node = .map(map) }
            var keysChanged = false
            let savedOrigin = origin
            defer { origin = savedOrigin }
            for index in map.entries.indices {
                let key = map.entries[index].key
                if map.entries[index].origin.isKnown { origin = map.entries[index].origin }
                path.append(.key(key.stringValue ?? key.goDescription))
                defer { path.removeLast() }
                try interpolate(&map.entries[index].value, onMissing: onMissing)
                if case .string(let keyText) = key, let newKey = try interpolateString(keyText, onMissing: onMissing) {
                    map.entries[index].key = newKey
                    keysChanged = true
                }
            }
            if keysChanged { map = ManifestMap(entries: map.entries) }
        default:
            break
        }
    }

    /// The replacement for a string holding placeholders, or nil when it has none that resolved.
    mutating func interpolateString(_ text: String, onMissing: (() -> Void)?) throws(ManifestError) -> ManifestValue? {
        guard text.utf8.count >= 5, Placeholder.mayContain(text) else { return nil }
        let matches = Placeholder.find(in: text)
        guard !matches.isEmpty else { return nil }
        if matches.count == 1, matches[0].range == text.startIndex..<text.endIndex {
            let name = matches[0].name
            switch try placeholder(name) {
            case .found(let value):
                substitutions.append(Substitution(path: FieldPath(path), variable: name, wholeValue: true))
                return value
            case .missing, .skipped:
                onMissing?()
                return nil
            }
        }
        var out = ""
        var cursor = text.startIndex
        var changed = false
        for match in matches {
            out += text[cursor..<match.range.lowerBound]
            cursor = match.range.upperBound
            let name = match.name
            switch try placeholder(name) {
            case .found(let value):
                switch value {
                case .string(let string): out += string
                case .int(let number): out += String(number)
                default:
                    let shown: String
                    switch value {
                    case .map, .list: shown = "<redacted>"
                    default: shown = value.goDescription
                    }
                    throw locate(
                        ManifestError(
                            .invalidVariable,
                            "Invalid type '\(value.goTypeName)' for value '\(shown)' and variable '\(name)'. "
                                + "Supported types for interpolation within a string are integers and strings"))
                }
                changed = true
                substitutions.append(Substitution(path: FieldPath(path), variable: name, wholeValue: false))
            case .missing, .skipped:
                onMissing?()
                out += text[match.range]
            }
        }
        out += text[cursor...]
        return changed ? .string(out) : nil
    }

    /// Looks up a placeholder's variable; inside definition options bosh wraps failures `Finding variable`.
    mutating func placeholder(_ name: String) throws(ManifestError) -> Lookup {
        do {
            return try located({ (evaluation: inout Evaluation) throws(ManifestError) in try evaluation.get(name) })
        } catch {
            guard optionsDepth > 0, !error.message.hasPrefix("Finding variable '\(name)'") else { throw error }
            var wrapped = error
            wrapped.message = "Finding variable '\(name)': " + error.message
            throw wrapped
        }
    }

    mutating func located<T>(_ body: (inout Evaluation) throws(ManifestError) -> T) throws(ManifestError) -> T {
        do {
            return try body(&self)
        } catch {
            throw locate(error)
        }
    }

    func locate(_ error: ManifestError) -> ManifestError {
        guard error.location.file == nil, origin.isKnown, files.indices.contains(Int(origin.file)) else {
            return error
        }
        var copy = error
        let field = error.location.field ?? (path.isEmpty ? nil : FieldPath(path).description)
        copy.location = SourceLocation(file: files[Int(origin.file)], line: Int(origin.line), field: field)
        return copy
    }
}

/// Finds `((name))` placeholders (bosh's `\(\( ?(!?[-/\.\w\pL]+) ?\)\)`).
enum Placeholder {
    struct Match {
        var range: Range<String.Index>
        var name: String
    }

    static func mayContain(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "(") && previous == UInt8(ascii: "(") { return true }
            previous = byte
        }
        return false
    }

    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-", "/", ".": return true
        default:
            guard !scalar.isASCII else { return false }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
    }

    static func find(in text: String) -> [Match] {
        var matches: [Match] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            guard scalars[index] == "(" else {
                index = scalars.index(after: index)
                continue
            }
            if let match = matchAt(index, in: text) {
                matches.append(match)
                index = match.range.upperBound
            } else {
                index = scalars.index(after: index)
            }
        }
        return matches
    }

    private static func matchAt(_ start: String.Index, in text: String) -> Match? {
        let scalars = text.unicodeScalars
        var cursor = start
        func take(_ expected: Unicode.Scalar) -> Bool {
            guard cursor < scalars.endIndex, scalars[cursor] == expected else { return false }
            cursor = scalars.index(after: cursor)
            return true
        }
        guard take("("), take("(") else { return nil }
        _ = take(" ")
        _ = take("!")
        let nameStart = cursor
        while cursor < scalars.endIndex, isNameCharacter(scalars[cursor]) { cursor = scalars.index(after: cursor) }
        guard cursor > nameStart else { return nil }
        let name = String(text.unicodeScalars[nameStart..<cursor])
        _ = take(" ")
        guard take(")"), take(")") else { return nil }
        return Match(range: start..<cursor, name: name)
    }
}
