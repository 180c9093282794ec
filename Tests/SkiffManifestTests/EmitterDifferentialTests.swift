import Foundation
import SkiffManifest
import Testing

/// Compares the YAML writer with libyaml's emitter (the C emitter gopkg.in/yaml.v2 was ported from), driven
/// through PyYAML's CDumper: for single-line strings both pick the same style (plain, single- or double-quoted)
/// and fold at the same columns, so the texts must be byte-identical.
@Suite("YAML writer vs libyaml", .enabled(if: LibYAML.available, "python3 with PyYAML built against libyaml"))
struct EmitterDifferentialTests {
    @Test("random strings, flat and nested, come out byte-identical", arguments: [1, 2, 3, 4])
    func differential(seed: Int) throws {
        try compare(seed: seed, multiline: false)
    }

    @Test("multi-line strings as literal blocks come out byte-identical", arguments: [1, 2, 3])
    func literalBlocks(seed: Int) throws {
        try compare(seed: seed, multiline: true)
    }

    func compare(seed: Int, multiline: Bool) throws {
        let scratch = try ScratchDirectory()
        var expected = try LibYAML.dump(seed: seed, multiline: multiline, into: scratch.file("doc.yml"))
        // gopkg.in/yaml.v2 never ends a stream with libyaml's "..." marker (its encoder clears open_ended).
        if expected.hasSuffix("\n...\n") { expected.removeLast(4) }
        let value = try YAMLReader.parse(expected, fileName: "doc.yml")
        let written = YAMLWriter.write(value)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let writtenLines = written.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = zip(expectedLines, writtenLines).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstDifference == nil, "line \((firstDifference?.offset ?? 0) + 1) differs")
        #expect(expectedLines.count == writtenLines.count)
        #expect(expectedLines.count > 200)
    }
}

enum LibYAML {
    static let available: Bool =
        (try? run(["-c", "import yaml, sys; sys.exit(0 if yaml.__with_libyaml__ else 1)"])) == 0

    /// Random strings that YAML 1.1 (as yaml.v2 reads it) keeps as strings, dumped by libyaml at width 80.
    static let script = #"""
        import random, sys, yaml
        from yaml.resolver import Resolver
        random.seed(int(sys.argv[1]))
        resolver = Resolver()
        alphabet = list("abcxyz") * 4 + [" "] * 8 + list(":#-?,[]{}'\"!&*|>%@`.~=/\\") + \
            ["\t", "\u00e9", "\u2028", "\x7f", "0", "1", "\U0001F600", "\u00a0"]
        words = ["word", "alpha", "x", "http://h:80/p", "a: b", "#c", "- y", "1.5", "longerword" * 3, "it's"]
        def pick():
            if random.random() < 0.4:
                text = "".join(random.choice(alphabet) for _ in range(random.randint(1, 12)))
            else:
                text = " ".join(random.choice(words) for _ in range(random.randint(1, 40)))
                if random.random() < 0.2:
                    text = " " + text
                if random.random() < 0.2:
                    text += random.choice([" ", ":", " #", "  x"])
            return text
        def keep(text):
            tag = resolver.resolve(yaml.ScalarNode, text, (True, False))
            return tag == "tag:yaml.org,2002:str" and text not in ("y", "n", "Y", "N") and "\n" not in text
        values = [v for v in (pick() for _ in range(400)) if keep(v)]
        if len(sys.argv) > 3:
            # Multi-line strings: yaml.v2 asks for a literal block, so ask libyaml for one too.
            def literal(dumper, data):
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)
            yaml.add_representer(str, literal, Dumper=yaml.CDumper)
            parts = ["line", "  indented", "", "x: y", "#c", " lead", "trail ", "\u00e9", "\t tab", "end", "a\u2028b"]
            values = []
            for _ in range(250):
                text = "\n".join(random.choice(parts) for _ in range(random.randint(2, 6)))
                text += random.choice(["", "", "\n", "\n\n"])
                if random.random() < 0.1:
                    text = "\n" + text
                values.append(text)
        doc = {"flat": {"k%04d" % i: v for i, v in enumerate(values[:150])},
               "nested": {"items": [{"name": v, "list": [v, [v]]} for v in values[150:250]], "plain": values[250:]}}
        with open(sys.argv[2], "w") as out:
            out.write(yaml.dump(doc, Dumper=yaml.CDumper, width=80, allow_unicode=True, default_flow_style=False,
                                sort_keys=True))
        """#

    static func dump(seed: Int, multiline: Bool, into path: String) throws -> String {
        let status = try run(["-c", script, String(seed), path] + (multiline ? ["multiline"] : []))
        guard status == 0 else { throw CocoaError(.fileWriteUnknown) }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
