import Foundation
import SkiffManifest
import Testing

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "skiff-manifest-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }
}

func evaluate(
    _ manifest: String, vars: [String: ManifestValue] = [:], store: VarsStore? = nil, ops: [String] = [],
    varErrs: Bool = false
) throws -> InterpolatedDocument {
    let request = InterpolationRequest(
        manifest: SourceText(name: "manifest.yml", text: manifest),
        opsFiles: ops.enumerated().map { SourceText(name: "ops\($0.offset).yml", text: $0.element) },
        variables: VariableSources(values: vars, store: store),
        expectAllKeys: varErrs
    )
    return try Interpolator.evaluate(request)
}

@Suite("Interpolation")
struct InterpolationTests {
    @Test("a whole-value placeholder keeps the value's type")
    func wholeValue() throws {
        let map = ManifestValue.map(ManifestMap(["k": .list([1, 2])]))
        let document = try evaluate(
            "m: ((m))\ni: ((i))\nb: ((b))\nnul: ((n))\n", vars: ["m": map, "i": 5, "b": true, "n": .null])
        #expect(document.value["m"] == map)
        #expect(document.value["i"] == .int(5))
        #expect(document.value["b"] == .bool(true))
        #expect(document.value["nul"] == .null)
    }

    @Test("inside a string only strings and integers are allowed, and the variable is named")
    func embedded() throws {
        let document = try evaluate("a: x-((s))-((i))\n", vars: ["s": "str", "i": 7])
        #expect(document.value["a"] == .string("x-str-7"))
        #expect {
            _ = try evaluate("top:\n  a: \"x ((m))\"\n", vars: ["m": .list([1])])
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("manifest.yml:2: top.a: Invalid type '[]interface {}'")
                && text.contains("variable 'm'")
        }
    }

    @Test("missing variables are left in place, recorded, and reported sorted with --var-errs")
    func missing() throws {
        let document = try evaluate("a: ((zz))\nb: ((aa))\n")
        #expect(document.value["a"] == .string("((zz))"))
        #expect(document.missingVariables == ["aa", "zz"])
        #expect(throws: ManifestError(.missingVariables, "Expected to find variables: aa\nzz")) {
            try evaluate("a: ((zz))\nb: ((aa))\n", varErrs: true)
        }
    }

    @Test("source lines survive ops and interpolation for field paths")
    func locations() throws {
        let manifest = "name: x\ninstance_groups:\n- name: web\n  networks:\n  - name: ((net))\n"
        let document = try evaluate(
            manifest, vars: ["net": "private"],
            ops: ["- type: replace\n  path: /instance_groups/name=web/vm_type?\n  value: small\n"])
        let networks = FieldPath([.key("instance_groups"), .index(0), .key("networks")])
        #expect(document.location(of: networks)?.file == "manifest.yml")
        #expect(document.location(of: networks)?.line == 4)
        let vmType = FieldPath([.key("instance_groups"), .index(0), .key("vm_type")])
        #expect(document.location(of: vmType)?.file == "ops0.yml")
        #expect(document.location(of: vmType)?.line == 1)
        #expect(networks.description == "instance_groups[0].networks")
    }

    @Test("values from variables are known and redactable")
    func secrets() throws {
        let document = try evaluate("p: ((pw))\nurl: https://u:((pw))@h\nplain: text\n", vars: ["pw": "hunter22"])
        #expect(document.isFromVariable(FieldPath([.key("p")])))
        #expect(!document.isFromVariable(FieldPath([.key("plain")])))
        #expect(document.redact("connecting with hunter22") == "connecting with <redacted>")
        #expect(document.substitutions.map(\.variable) == ["pw", "pw"] || document.substitutions.count == 2)
    }

    @Test("options of a definition are interpolated; a missing dependency skips the variable silently")
    func optionDependencies() throws {
        let scratch = try ScratchDirectory()
        let manifest = """
            a: ((cert))
            variables:
            - name: cert
              type: certificate
              options: {is_ca: true, common_name: ((cn))}
            """
        let document = try evaluate(manifest, store: try VarsStore(path: scratch.file("store.yml")))
        #expect(document.missingVariables == ["cn"])
        #expect(document.value["a"] == .string("((cert))"))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("store.yml")))
    }

    @Test("recursion in definition options is detected")
    func recursion() throws {
        let scratch = try ScratchDirectory()
        let manifest = """
            variables:
            - name: a
              type: certificate
              options: {is_ca: true, common_name: ((b))}
            - name: b
              type: password
              options: {length: ((a))}
            """
        #expect {
            _ = try evaluate(manifest, store: try VarsStore(path: scratch.file("store.yml")))
        } throws: { error in
            "\(error)".contains("Detected recursion") && "\(error)".contains("Interpolating variable")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("store.yml")))
    }
}

@Suite("Variable sources")
struct VariableSourceTests {
    @Test("-v values are YAML-parsed; strings keep their raw text without one pair of quotes")
    func varValues() throws {
        #expect(try VariableSources.parseVarValue("1") == .int(1))
        #expect(try VariableSources.parseVarValue("\"quoted\"") == .string("quoted"))
        #expect(try VariableSources.parseVarValue("'single'") == .string("single"))
        #expect(try VariableSources.parseVarValue("a b: c") == .map(ManifestMap(["a b": "c"])))
        #expect(try VariableSources.parseVarValue("2.5") == .float(2.5))
        #expect(try VariableSources.parseVarValue("say \"hi\"") == .string("say \"hi\""))
    }

    @Test("-v values bosh's YAML parser refuses are refused with bosh's words")
    func unparsableVarValues() {
        #expect(throws: ManifestError.self) { try VariableSources.parseVarValue("text with: [bracket") }
        #expect {
            try VariableSources(flags: VariableFlags(vars: ["k=@foo"]))
        } throws: { error in
            "\(error)" == "Deserializing variables 'k=@foo': yaml: found character that cannot start any token"
        }
    }

    @Test("precedence is -v > --var-file > -l > --vars-env whatever the flag order")
    func precedence() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("vars.yml", "a: l\nb: l\nc: l\n")
        try scratch.write("file.txt", "file")
        let sources = try VariableSources(
            flags: VariableFlags(
                vars: ["a=v"], varFiles: ["b=\(scratch.file("file.txt"))"], varsFiles: [scratch.file("vars.yml")],
                varsEnv: ["P"]),
            environment: ["P_a": "env", "P_d": "env", "Q_e": "other"])
        #expect(sources.staticValues["a"] == .string("v"))
        #expect(sources.staticValues["b"] == .string("file"))
        #expect(sources.staticValues["c"] == .string("l"))
        #expect(sources.staticValues["d"] == .string("env"))
        #expect(sources.staticValues["e"] == nil)
    }

    @Test("a vars file can be a FIFO and is read once, fully")
    func fifo() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("pipe")
        #expect(mkfifo(path, 0o600) == 0)
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: path)
            handle?.write(Data("from_pipe: 42\nother: [1, 2]\n".utf8))
            try? handle?.close()
        }
        writer.start()
        let sources = try VariableSources(flags: VariableFlags(varsFiles: [path]))
        #expect(sources.staticValues["from_pipe"] == .int(42))
        #expect(sources.staticValues["other"] == .list([1, 2]))
    }

    @Test(
        "bad flag values get bosh's messages",
        arguments: [
            ("novalue", "Expected var 'novalue' to be in format 'name=value'"),
            ("=x", "Expected var '=x' to specify non-empty name"),
            ("x=", "Expected var 'x=' to specify non-empty value"),
        ])
    func badVar(argument: String, message: String) {
        #expect(throws: ManifestError(.invalidFlag, message)) {
            try VariableSources(flags: VariableFlags(vars: [argument]))
        }
    }

    @Test("a vars file that is not a map is one clear error naming the file")
    func notAMap() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("vars.yml", "- a\n")
        #expect {
            try VariableSources(flags: VariableFlags(varsFiles: [scratch.file("vars.yml")]))
        } throws: { error in
            "\(error)" == scratch.file("vars.yml") + ":1: Deserializing variables file '" + scratch.file("vars.yml")
                + "': yaml: unmarshal errors: line 1: cannot unmarshal !!seq into template.StaticVariables"
        }
    }
}
