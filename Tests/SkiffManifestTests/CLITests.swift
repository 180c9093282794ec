import Foundation
import Testing

/// Runs the built `skiff` binary (found next to the test bundle in .build/<config>/).
enum SkiffBinary {
    static let url: URL? = {
        var directory = Bundle.module.bundleURL.deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("skiff")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    static var available: Bool { url != nil }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil, in directory: String) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

@Suite("skiff int (the built binary)", .enabled(if: SkiffBinary.available, "the skiff binary is built"))
struct CLITests {
    @Test(
        "each error is one stderr line, exit 1, nothing on stdout",
        arguments: [
            (["int", "missing.yml"], "skiff: missing.yml: Reading manifest: No such file or directory"),
            (["int", "bad.yml"], "skiff: bad.yml:3: Malformed YAML"),
            (
                ["int", "m.yml", "-o", "notlist.yml"],
                "skiff: notlist.yml:1: Deserializing ops file 'notlist.yml': yaml: unmarshal errors: "
                    + "line 1: cannot unmarshal !!map into []patch.OpDefinition"
            ),
            (["int", "m.yml", "-o", "unknown.yml"], "skiff: unknown.yml:1: Unknown operation [0] with type 'find'"),
            (
                ["int", "m.yml", "-l", "notmap.yml"],
                "skiff: notmap.yml:1: Deserializing variables file 'notmap.yml': yaml: unmarshal errors: line 1: "
                    + "cannot unmarshal"
            ),
            (
                ["int", "m.yml", "-o", "fails.yml"],
                "skiff: fails.yml:2: Error 'operation [1] in fails.yml failed': "
                    + "Expected to find a map key 'x' for path '/a/x' (found map keys: 'b', 'c')"
            ),
            (["int", "m.yml", "-v", "obj={k: v}", "-o", "embed.yml"], "skiff: embed.yml:1: e: Invalid type"),
            (["int", "m.yml", "--path", "nope"], "skiff: Invalid --path 'nope': Expected to start with '/'"),
            (["int", "m.yml", "-v", "novalue"], "skiff: Expected var 'novalue' to be in format 'name=value'"),
        ])
    func errors(arguments: [String], prefix: String) throws {
        let scratch = try ScratchDirectory()
        try scratch.write("m.yml", "a: {b: 1, c: 2}\n")
        try scratch.write("bad.yml", "a: 1\nb: [1\n")
        try scratch.write("notlist.yml", "type: replace\n")
        try scratch.write("unknown.yml", "- type: find\n  path: /a\n")
        try scratch.write("notmap.yml", "- x\n")
        try scratch.write(
            "fails.yml", "- {type: test, path: /a/b, value: 1}\n- type: replace\n  path: /a/x/y\n  value: 1\n")
        try scratch.write("embed.yml", "- {type: replace, path: /e?, value: \"x ((obj))\"}\n")
        let result = try SkiffBinary.run(arguments, in: scratch.path)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix(prefix), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("missing variables with --var-errs: bosh's layout, sorted names one per line, exit 1")
    func missingVariables() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("m.yml", "a: ((zeta))\nb: ((alpha))\n")
        let result = try SkiffBinary.run(["int", "m.yml", "--var-errs"], in: scratch.path)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "skiff: Expected to find variables: alpha\nzeta\n")
    }

    @Test("reads the manifest from stdin with '-', applies ops in order, prints sorted YAML")
    func stdinAndOps() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("one.yml", "- {type: replace, path: /z?, value: ((v))}\n")
        try scratch.write("two.yml", "- {type: replace, path: /y?, value: 3}\n")
        let result = try SkiffBinary.run(
            ["int", "-", "-o", "one.yml", "-o", "two.yml", "-v", "v=[1, 2]"], stdin: "b: 1\na: x\n", in: scratch.path)
        #expect(result.status == 0)
        #expect(result.stdout == "a: x\nb: 1\n\"y\": 3\nz:\n- 1\n- 2\n")
        #expect(result.stderr.isEmpty)
    }

    @Test("the int alias, --path with a string prints the raw string, -l <(cmd) style /dev/fd input")
    func pathAndFD() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("m.yml", "key: ((k))\n")
        let result = try SkiffBinary.run(
            ["interpolate", "m.yml", "-l", "/dev/stdin", "--path", "/key"], stdin: "k: |\n  line1\n  line2\n",
            in: scratch.path)
        #expect(result.status == 0)
        #expect(result.stdout == "line1\nline2\n\n")
    }

    @Test("--vars-store generates into a new 0600 file and reuses it")
    func varsStore() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("m.yml", "pw: ((pw))\nvariables:\n- name: pw\n  type: password\n")
        let first = try SkiffBinary.run(["int", "m.yml", "--vars-store", "creds.yml"], in: scratch.path)
        let second = try SkiffBinary.run(["int", "m.yml", "--vars-store", "creds.yml"], in: scratch.path)
        #expect(first.status == 0)
        #expect(first.stdout == second.stdout)
        #expect(first.stdout.hasPrefix("pw: "))
        #expect(first.stdout.hasSuffix("variables: []\n"))
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.file("creds.yml"))[.posixPermissions]
        #expect((mode as? NSNumber)?.intValue == 0o600)
    }
}
