import SkiffManifest
import Testing

@Suite("YAML 1.1 reading")
struct YAMLReadingTests {
    @Test(
        "plain scalars resolve as gopkg.in/yaml.v2 does",
        arguments: [
            ("yes", ManifestValue.bool(true)), ("No", .bool(false)), ("on", .bool(true)), ("OFF", .bool(false)),
            ("y", .bool(true)), ("n", .bool(false)), ("true", .bool(true)), ("~", .null), ("null", .null),
            ("", .null), ("0755", .int(493)), ("5_000", .int(5000)), ("0x1F", .int(31)), ("0b101", .int(5)),
            ("0o17", .int(15)), ("-12", .int(-12)), ("+3", .int(3)), ("1e3", .float(1000)), (".5", .float(0.5)),
            ("08", .float(8)), ("1.5", .float(1.5)), ("2001-01-01", .string("2001-01-01")), ("abc", .string("abc")),
            ("yess", .string("yess")), ("1.2.3", .string("1.2.3")), ("-", .string("-")),
        ])
    func resolve(text: String, expected: ManifestValue) {
        #expect(ScalarResolver.resolve(text) == expected)
    }

    @Test("quoted scalars stay strings")
    func quoted() throws {
        let value = try YAMLReader.parse("a: \"yes\"\nb: '0755'\nc: !!str 12\n", fileName: "t.yml")
        #expect(value["a"] == .string("yes"))
        #expect(value["b"] == .string("0755"))
        #expect(value["c"] == .string("12"))
    }

    @Test("anchors, aliases and merge keys are expanded")
    func anchors() throws {
        let value = try YAMLReader.parse(
            "base: &b {x: 1, w: 2}\ncopy: *b\nmerged:\n  <<: *b\n  w: 3\n", fileName: "t.yml")
        #expect(value["copy"] == value["base"])
        #expect(value["merged"]?["x"] == .int(1))
        #expect(value["merged"]?["w"] == .int(3))
    }

    @Test("map keys keep their YAML types")
    func keyTypes() throws {
        let value = try YAMLReader.parse("1: a\ntrue: b\n~: c\n", fileName: "t.yml")
        guard case .map(let map) = value else {
            Issue.record("not a map")
            return
        }
        #expect(map[key: .int(1)] == .string("a"))
        #expect(map[key: .bool(true)] == .string("b"))
        #expect(map[key: .null] == .string("c"))
    }

    @Test("malformed YAML names the file and line")
    func malformed() {
        #expect {
            _ = try YAMLReader.parse("a: 1\nb: [1, 2\nc: 3\n", fileName: "bad.yml")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("bad.yml:") && text.contains("Malformed YAML") && !text.contains("\n")
        }
    }

    @Test("an empty document is null")
    func empty() throws {
        #expect(try YAMLReader.parse("", fileName: "e.yml") == .null)
        #expect(try YAMLReader.parse("# just a comment\n", fileName: "e.yml") == .null)
    }

    @Test("map entries remember their source line")
    func lines() throws {
        let value = try YAMLReader.parse("a: 1\nb:\n  c: 2\n", fileName: "t.yml", fileIndex: 3)
        guard case .map(let outer) = value, case .map(let inner)? = outer["b"] else {
            Issue.record("shape")
            return
        }
        #expect(outer.entries[1].origin == SourceOrigin(file: 3, line: 2))
        #expect(inner.entries[0].origin.line == 3)
    }
}

@Suite("YAML writing")
struct YAMLWritingTests {
    @Test("keys are sorted like yaml.v2")
    func keyOrder() {
        let keys: [ManifestValue] = [
            "b", "a10", "a2", "A", "1.5", "_u", "-d", .int(10), .int(2), .bool(true),
        ]
        let sorted = keys.sorted(by: KeyOrder.less)
        let expected: [ManifestValue] = [
            .bool(true), .int(2), .int(10), "-d", "_u", "1.5", "A", "a2", "a10", "b",
        ]
        #expect(sorted == expected)
    }

    @Test(
        "strings are quoted only when they would read back differently",
        arguments: [
            ("plain", "plain"), ("", "\"\""), ("2", "\"2\""), ("yes", "\"yes\""), ("a: b", "'a: b'"),
            ("x ", "'x '"), ("0x1F", "\"0x1F\""), ("2001-01-01", "\"2001-01-01\""), ("a\tb", "\"a\\tb\""),
            ("- x", "'- x'"), ("#c", "'#c'"), ("a #b", "'a #b'"), ("a#b", "a#b"), ("12:30", "\"12:30\""),
            ("~", "\"~\""), ("http://x:80/", "http://x:80/"), ("[x]", "'[x]'"), ("2001:db8::1", "2001:db8::1"),
        ])
    func quoting(text: String, expected: String) {
        #expect(YAMLWriter.write(.string(text)) == expected + "\n")
    }

    @Test("multi-line strings use literal blocks with the right chomping")
    func literal() throws {
        let value = ManifestValue.map(
            ManifestMap(["a": "one\ntwo\n", "b": "one\ntwo", "c": "x\n\n", "d": " lead\nx"]))
        let text = YAMLWriter.write(value)
        #expect(text.contains("a: |\n  one\n  two\n"))
        #expect(text.contains("b: |-\n  one\n  two\n"))
        #expect(try YAMLReader.parse(text, fileName: "round") == value)
    }

    @Test("block layout: sequences not indented under keys, nested lists, empty collections")
    func layout() {
        let value = ManifestValue.map(
            ManifestMap([
                "list": .list([.map(ManifestMap(["name": "a", "v": 1])), .list([1, 2])]),
                "empty": .map(ManifestMap()), "none": .list([]),
            ]))
        #expect(
            YAMLWriter.write(value) == "empty: {}\nlist:\n- name: a\n  v: 1\n- - 1\n  - 2\nnone: []\n")
    }

    @Test(
        "floats print as Go's %g does",
        arguments: [
            (1000.0, "1000"), (2.5, "2.5"), (1e6, "1e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"),
            (123456.0, "123456"), (-0.5, "-0.5"),
        ])
    func floats(value: Double, expected: String) {
        #expect(YAMLWriter.write(.float(value)) == expected + "\n")
    }

    @Test("long values fold at a space past column 80, as libyaml does, and read back the same")
    func folding() throws {
        let words = Array(repeating: "word", count: 40).joined(separator: " ")
        let text = YAMLWriter.write(.map(ManifestMap(["key": .string(words)])))
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "key: " + Array(repeating: "word", count: 16).joined(separator: " "))
        #expect(lines[1].hasPrefix("  word"))
        let tricky: [ManifestValue] = [
            .string(" " + words), .string(words + "\tend"), .string("it's " + words + " 'quoted'"),
            .string("\n  indented after a blank first line"), .string(words + "\n" + words + " \nx"),
            .string("emoji \u{1F600} and nel \u{85}"),
        ]
        let value = ManifestValue.map(ManifestMap(["list": .list(tricky), words: .string(words)]))
        #expect(try YAMLReader.parse(YAMLWriter.write(value), fileName: "round") == value)
    }

    @Test("writing then reading gives the same value")
    func roundTrip() throws {
        let source = """
            name: x
            list: [1, "2", yes, ~, 1.5, "a: b", "multi\\nline"]
            map: {"y": 1, 3: x, true: z}
            nested: [[a, [b]], {}]
            """
        let value = try YAMLReader.parse(source, fileName: "t.yml")
        #expect(try YAMLReader.parse(YAMLWriter.write(value), fileName: "again") == value)
    }
}

@Suite("Hostile YAML")
struct HostileYAMLTests {
    /// A billion-laughs document: `levels` lists of nine aliases of the level below.
    static func laughs(levels: Int) -> String {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1..<levels {
            let alias = "*l\(level - 1)"
            lines.append("l\(level): &l\(level) [" + Array(repeating: alias, count: 9).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("an alias bomb is refused, as yaml.v2 refuses excessive aliasing")
    func aliasBomb() {
        let refusal = ManifestError(
            .malformedYAML, "Malformed YAML: document contains excessive aliasing", file: "b.yml")
        #expect(throws: refusal) {
            try YAMLReader.parse(Self.laughs(levels: 9), fileName: "b.yml")
        }
    }

    @Test("aliases that stay under yaml.v2's ratio are expanded")
    func moderateAliases() throws {
        let value = try YAMLReader.parse(Self.laughs(levels: 3), fileName: "ok.yml")
        #expect(value["l2"]?.listValue?.count == 9)
        #expect(value["l2"]?.listValue?.first?.listValue?.first?.listValue?.count == 9)
    }

    @Test("a map with 80,000 keys is read whole, a repeated key keeping its first place and last value")
    func manyKeys() throws {
        var text = ""
        for index in 0..<80_000 { text += "k\(index): \(index)\n" }
        let value = try YAMLReader.parse(text, fileName: "big.yml")
        let map = try #require(value.mapValue)
        #expect(map.count == 80_000)
        #expect(map.entries[79_999].key == .string("k79999"))
        #expect(map["k40000"] == .int(40_000))
        let merged = try YAMLReader.parse("a: &a {p: 1, q: 2}\nb:\n  <<: *a\n  q: 3\n", fileName: "m.yml")
        #expect(merged["b"] == .map(ManifestMap(["p": 1, "q": 3])))
    }
}
