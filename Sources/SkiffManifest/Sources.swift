import Foundation

/// The text of one input file (manifest, ops file, vars file), with the name used in messages.
public struct SourceText: Sendable {
    /// The name as the user gave it (`-` for standard input).
    public var name: String
    /// The file's contents.
    public var text: String

    /// Wraps text already in memory.
    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }

    /// Reads a whole file once: regular files, FIFOs and `/dev/fd/N` (as from `-l <(cmd)`), or standard
    /// input for `-`.
    public static func read(_ path: String, what: String = "file") throws(ManifestError) -> SourceText {
        SourceText(name: path, text: try readText(path, what: what))
    }

    static func readText(_ path: String, what: String) throws(ManifestError) -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard !path.isEmpty else { throw ManifestError(.invalidFlag, "Expected file path to be non-empty") }
            let expanded = (path as NSString).expandingTildeInPath
            let descriptor = open(expanded, O_RDONLY)
            guard descriptor >= 0 else {
                let reason = String(cString: strerror(errno))
                throw ManifestError(.unreadableFile, "Reading \(what): \(reason)", file: path)
            }
            var status = stat()
            if fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
                close(descriptor)
                throw ManifestError(.unreadableFile, "Reading \(what): is a directory", file: path)
            }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            do {
                data = try handle.readToEnd() ?? Data()
            } catch {
                throw ManifestError(.unreadableFile, "Reading \(what): \(error.localizedDescription)", file: path)
            }
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ManifestError(.unreadableFile, "Reading \(what): not UTF-8 text", file: path)
        }
        return text
    }
}

/// The raw values of the variable flags (`-v`, `--var-file`, `-l`, `--vars-env`, `--vars-store`), in flag order.
public struct VariableFlags: Sendable {
    /// `-v NAME=VALUE`.
    public var vars: [String]
    /// `--var-file NAME=PATH`.
    public var varFiles: [String]
    /// `-l PATH`.
    public var varsFiles: [String]
    /// `--vars-env PREFIX`.
    public var varsEnv: [String]
    /// `--vars-store PATH`.
    public var varsStore: String?

    /// Creates flag values.
    public init(
        vars: [String] = [], varFiles: [String] = [], varsFiles: [String] = [], varsEnv: [String] = [],
        varsStore: String? = nil
    ) {
        self.vars = vars
        self.varFiles = varFiles
        self.varsFiles = varsFiles
        self.varsEnv = varsEnv
        self.varsStore = varsStore
    }
}

/// Variable values from every source, merged with bosh's precedence:
/// `-v` > `--var-file` > `-l` > `--vars-env` > vars store, whatever the order of the flags.
public struct VariableSources: Sendable {
    /// The merged static variables (everything but the store), keyed by name as given.
    public private(set) var staticValues: [String: ManifestValue] = [:]
    /// The vars store, if `--vars-store` was given.
    public var store: VarsStore?

    /// No variables at all.
    public init() {}

    /// Static variables from a dictionary (later sources can be layered with ``setStatic(_:_:)``).
    public init(values: [String: ManifestValue], store: VarsStore? = nil) {
        self.staticValues = values
        self.store = store
    }

    /// Sets one static variable, overriding any earlier value.
    public mutating func setStatic(_ name: String, _ value: ManifestValue) {
        staticValues[name] = value
    }

    /// Reads every source named by `flags`; `environment` supplies `--vars-env` values.
    public init(flags: VariableFlags, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ManifestError)
    {
        for prefix in flags.varsEnv {
            guard !prefix.isEmpty else {
                throw ManifestError(.invalidFlag, "Expected environment variable prefix to be non-empty")
            }
            for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix(prefix + "_") {
                let name = String(key.dropFirst(prefix.count + 1))
                do {
                    staticValues[name] = try YAMLReader.parse(
                        value, fileName: "environment variable '\(key)'", fileIndex: -1,
                        deserializing: "YAML from environment variable '\(key)'")
                } catch {
                    throw ManifestError(.invalidFlag, error.message)
                }
            }
        }
        for path in flags.varsFiles {
            let source = try SourceText.read(path, what: "variables file")
            let what = "variables file '\(path)'"
            let document = try YAMLReader.parse(
                source.text, fileName: path, fileIndex: -1, stringKeys: true, deserializing: what)
            func wrongShape() -> ManifestError {
                Deserialization.error(text: source.text, target: .variables, fileName: path, what: what)
                    ?? ManifestError(.wrongShape, "Deserializing \(what): not a map of variable names", file: path)
            }
            switch document {
            case .null: continue
            case .map(let map):
                for entry in map.entries {
                    let name: String
                    switch entry.key {
                    case .string(let text): name = text
                    case .map, .list: throw wrongShape()
                    default: name = YAMLWriter.scalarText(entry.key)
                    }
                    staticValues[name] = entry.value
                }
            default:
                throw wrongShape()
            }
        }
        for argument in flags.varFiles {
            let (name, path) = try Self.split(argument, valueWord: "path")
            staticValues[name] = .string(try SourceText.readText(path, what: "variable '\(name)' from file"))
        }
        for argument in flags.vars {
            let (name, raw) = try Self.split(argument, valueWord: "value")
            staticValues[name] = try Self.parseVarValue(raw, argument: argument)
        }
        if let path = flags.varsStore {
            store = try VarsStore(path: path)
        }
    }

    /// Splits `name=value`, with bosh's messages for malformed arguments.
    static func split(_ argument: String, valueWord: String) throws(ManifestError) -> (String, String) {
        guard let equals = argument.firstIndex(of: "=") else {
            throw ManifestError(.invalidFlag, "Expected var '\(argument)' to be in format 'name=\(valueWord)'")
        }
        let name = String(argument[..<equals])
        let value = String(argument[argument.index(after: equals)...])
        if name.isEmpty { throw ManifestError(.invalidFlag, "Expected var '\(argument)' to specify non-empty name") }
        if value.isEmpty {
            throw ManifestError(.invalidFlag, "Expected var '\(argument)' to specify non-empty \(valueWord)")
        }
        return (name, value)
    }

    /// A `-v` value: YAML-parsed; a string result keeps the raw text, minus one pair of wrapping quotes.
    /// Text YAML refuses (`"unclosed`, `@x`, `*x`) is refused as bosh does: `Deserializing variables 'NAME=VALUE':
    /// yaml: ...` (`argument` is the whole flag value, as bosh quotes it).
    public static func parseVarValue(_ raw: String, argument: String? = nil) throws(ManifestError) -> ManifestValue {
        let parsed: ManifestValue
        do {
            parsed = try YAMLReader.parse(
                raw, fileName: "-v", fileIndex: -1, deserializing: "variables '\(argument ?? raw)'")
        } catch {
            throw ManifestError(.invalidFlag, error.message)
        }
        if case .string = parsed {
            if raw.count >= 2,
                (raw.hasPrefix("\"") && raw.hasSuffix("\"")) || (raw.hasPrefix("'") && raw.hasSuffix("'"))
            {
                return .string(String(raw.dropFirst().dropLast()))
            }
            return .string(raw)
        }
        return parsed
    }

    /// Static values with dotted names (`-v a.b=1`) turned into nested maps (`a: {b: 1}`).
    func processedStatic() -> [String: ManifestValue] {
        var result: [String: ManifestValue] = [:]
        var dotted: [(String, ManifestValue)] = []
        for (name, value) in staticValues {
            if name.utf8.contains(UInt8(ascii: ".")) { dotted.append((name, value)) } else { result[name] = value }
        }
        for (name, value) in dotted.sorted(by: { $0.0 < $1.0 }) {
            let pieces = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            var root = result[pieces[0]] ?? .map(ManifestMap())
            if case .map = root {} else { root = .map(ManifestMap()) }
            Self.setNested(&root, Array(pieces.dropFirst()), value)
            result[pieces[0]] = root
        }
        return result
    }

    private static func setNested(_ node: inout ManifestValue, _ keys: [String], _ value: ManifestValue) {
        guard let first = keys.first else {
            node = value
            return
        }
        var map = node.mapValue ?? ManifestMap()
        var child = map[first] ?? .map(ManifestMap())
        if keys.count > 1, child.mapValue == nil { child = .map(ManifestMap()) }
        setNested(&child, Array(keys.dropFirst()), value)
        map.set(.string(first), child)
        node = .map(map)
    }
}

/// A `--vars-store` file: a YAML map of variable values; generated values are added and the whole file is
/// rewritten atomically (mode 0600) once an evaluation completes.
public struct VarsStore: Sendable {
    /// The path as given.
    public var path: String
    /// The values currently stored (after loading).
    public private(set) var values: ManifestMap
    /// Whether the file existed when loaded.
    public private(set) var existed: Bool

    /// Loads the store at `path` (a missing file is an empty store).
    public init(path: String) throws(ManifestError) {
        guard !path.isEmpty else { throw ManifestError(.invalidFlag, "Expected file path to be non-empty") }
        self.path = path
        let expanded = (path as NSString).expandingTildeInPath
        guard FileManager.default.fileExists(atPath: expanded) else {
            values = ManifestMap()
            existed = false
            return
        }
        existed = true
        let source = try SourceText.read(path, what: "vars store")
        let what = "variables file store '\(path)'"
        let document = try YAMLReader.parse(
            source.text, fileName: path, fileIndex: -1, stringKeys: true, deserializing: what)
        switch document {
        case .null: values = ManifestMap()
        case .map(let map) where !map.entries.contains(where: { $0.key.mapValue != nil || $0.key.listValue != nil }):
            values = map
        default:
            throw Deserialization.error(text: source.text, target: .variables, fileName: path, what: what)
                ?? ManifestError(.wrongShape, "Deserializing \(what): not a map of variable names", file: path)
        }
    }

    /// The stored value of `name`.
    public func value(_ name: String) -> ManifestValue? { values[name] }

    /// Adds or replaces a value in memory.
    public mutating func set(_ name: String, _ value: ManifestValue) {
        values.set(.string(name), value)
    }

    /// Writes the whole store: a temp file in the same directory (0600), fsync, rename over the target.
    public func save() throws(ManifestError) {
        let expanded = (path as NSString).expandingTildeInPath
        let text = YAMLWriter.write(.map(values))
        let url = URL(fileURLWithPath: expanded)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".skiff-tmp-\(getpid())"
        func failure(_ step: String) -> ManifestError {
            ManifestError(.varsStore, "Writing vars store: \(step): \(String(cString: strerror(errno)))", file: path)
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw failure("creating \(temporary)") }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 {
                if errno == EINTR { continue }
                close(descriptor)
                throw failure("writing")
            }
            written += result
        }
        guard fchmod(descriptor, 0o600) == 0, fsync(descriptor) == 0 else {
            close(descriptor)
            throw failure("syncing")
        }
        close(descriptor)
        guard rename(temporary, expanded) == 0 else { throw failure("renaming into place") }
        ok = true
        let directoryDescriptor = open(directory, O_RDONLY)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
