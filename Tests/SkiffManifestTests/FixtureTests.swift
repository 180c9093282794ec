import Foundation
import SkiffManifest
import Testing

/// One fixture directory under Fixtures/.
struct Fixture: CustomTestStringConvertible, Sendable {
    let name: String
    let directory: URL

    var testDescription: String { name }

    static let all: [Fixture] = {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: root.path)
        else { return [] }
        return names.sorted().compactMap { name in
            let directory = root.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
                isDirectory.boolValue
            else { return nil }
            return Fixture(name: name, directory: directory)
        }
    }()

    func file(_ name: String) -> String? {
        try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// Runs the fixture through the library exactly as `skiff int` would.
    func evaluate() throws -> String {
        let arguments = (file("flags") ?? "").split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        var flags = VariableFlags()
        var ops: [String] = []
        var path: String?
        var varErrs = false
        var varErrsUnused = false
        var index = 0
        func next() -> String {
            index += 1
            return index < arguments.count ? arguments[index] : ""
        }
        func local(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
        while index < arguments.count {
            switch arguments[index] {
            case "-o": ops.append(next())
            case "-l": flags.varsFiles.append(local(next()))
            case "-v": flags.vars.append(next())
            case "--var-file":
                let argument = next()
                if let equals = argument.firstIndex(of: "=") {
                    flags.varFiles.append(
                        String(argument[...equals]) + local(String(argument[argument.index(after: equals)...])))
                } else {
                    flags.varFiles.append(argument)
                }
            case "--vars-env": flags.varsEnv.append(next())
            case "--path": path = next()
            case "--var-errs": varErrs = true
            case "--var-errs-unused": varErrsUnused = true
            default: Issue.record("unknown flag \(arguments[index]) in \(name)/flags")
            }
            index += 1
        }
        var environment: [String: String] = [:]
        for line in (file("env") ?? "").split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        let opsSources = try ops.map { relative throws(ManifestError) -> SourceText in
            var source = try SourceText.read(local(relative), what: "ops file")
            source.name = relative
            return source
        }
        var pointer: Pointer?
        if let path { pointer = try Pointer(parsing: path) }
        let request = InterpolationRequest(
            manifest: SourceText(name: "manifest.yml", text: file("manifest.yml") ?? ""),
            opsFiles: opsSources,
            variables: try VariableSources(flags: flags, environment: environment),
            expectAllKeys: varErrs,
            expectAllVarsUsed: varErrsUnused,
            path: pointer
        )
        return try Interpolator.evaluate(request).output
    }
}

@Suite("Fixture corpus")
struct FixtureTests {
    @Test("the corpus has at least 40 cases")
    func corpusSize() {
        #expect(Fixture.all.count >= 40)
    }

    @Test("fixture", arguments: Fixture.all)
    func fixture(_ fixture: Fixture) throws {
        if let expectedError = fixture.file("expected-error.txt") {
            let wanted = expectedError.hasSuffix("\n") ? String(expectedError.dropLast()) : expectedError
            do {
                let output = try fixture.evaluate()
                Issue.record("expected error '\(wanted)' but got output:\n\(output)")
            } catch {
                #expect("\(error)".contains(wanted), "error was: \(error)")
            }
            return
        }
        let output = try fixture.evaluate()
        if let exact = fixture.file("expected.txt") {
            #expect(output == exact)
        } else if let expected = fixture.file("expected.yml") {
            let want = try YAMLReader.parse(expected, fileName: "expected.yml")
            let got = try YAMLReader.parse(output, fileName: "output")
            #expect(got == want, "output was:\n\(output)")
        } else {
            Issue.record("fixture \(fixture.name) has no expectation")
        }
    }
}
