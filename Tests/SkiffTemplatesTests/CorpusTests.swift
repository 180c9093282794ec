import Foundation
import SkiffNet
import Testing

@testable import SkiffTemplates

/// One corpus case: `jobs/NAME/` (spec, monit, templates/), `properties.yml`, optional `context.yml`, and either
/// `expected/` (the rendered tree, monit included) or `error.txt` (the one-line error).
struct CorpusCase: CustomStringConvertible, Sendable {
    let directory: URL
    var description: String { directory.lastPathComponent }

    static var all: [CorpusCase] {
        guard let root = Bundle.module.url(forResource: "Corpus", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: root.path)
        else { return [] }
        return names.sorted().map { CorpusCase(directory: root.appendingPathComponent($0)) }
    }

    var jobDirectory: URL {
        let jobs = directory.appendingPathComponent("jobs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobs.path)) ?? []
        return jobs.appendingPathComponent(names.sorted().first ?? "missing")
    }

    func read(_ relative: String) -> String? {
        try? String(contentsOf: directory.appendingPathComponent(relative), encoding: .utf8)
    }

    var properties: TemplateValue {
        get throws { try TemplateValue(yaml: read("properties.yml") ?? "{}") }
    }

    /// The spec context from `context.yml`, with a fixed id so outputs are stable.
    var context: SpecContext {
        get throws {
            let value = try TemplateValue(yaml: read("context.yml") ?? "{}")
            func address(_ value: TemplateValue?) -> IPAddress? { value?.asString.flatMap { IPAddress($0) } }
            var networks: [NetworkContext] = []
            for (name, network) in value["networks"]?.asHash ?? [:] {
                networks.append(
                    NetworkContext(
                        name: name,
                        ip: address(network["ip"]),
                        netmask: address(network["netmask"]),
                        gateway: address(network["gateway"]),
                        defaults: (network["default"]?.asArray ?? []).compactMap(\.asString)))
            }
            var index = 0
            if case .int(let number) = value["index"] ?? .null { index = number }
            var bootstrap = true
            if case .bool(let flag) = value["bootstrap"] ?? .null { bootstrap = flag }
            return SpecContext(
                deployment: value["deployment"]?.asString ?? "test",
                name: value["name"]?.asString,
                id: value["id"]?.asString ?? "test-id",
                index: index,
                az: value["az"]?.asString ?? "unknown",
                bootstrap: bootstrap,
                address: address(value["address"]),
                networks: networks)
        }
    }

    /// Every file under `expected/`, relative path to content.
    var expectedFiles: [String: String] {
        let root = directory.appendingPathComponent("expected")
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [:] }
        var files: [String: String] = [:]
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = root.appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: full.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = try? String(contentsOf: full, encoding: .utf8)
            }
        }
        return files
    }
}

struct CorpusTests {
    @Test func corpusIsLargeEnough() {
        let cases = CorpusCase.all
        #expect(cases.count >= 25)
        #expect(cases.filter { $0.read("error.txt") == nil }.count >= 20)
    }

    @Test(arguments: CorpusCase.all)
    func rendersLikeBosh(_ corpus: CorpusCase) throws {
        let result: RenderedJob
        do {
            result = try JobRenderer.render(
                jobDirectory: corpus.jobDirectory, properties: try corpus.properties,
                spec: try corpus.context)
        } catch let error as TemplateError {
            let expected = corpus.read("error.txt")?.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(expected != nil, "unexpected error: \(error)")
            #expect(error.description == expected)
            return
        }
        #expect(corpus.read("error.txt") == nil, "expected an error, rendered \(result.files.map(\.destination))")
        let expected = corpus.expectedFiles
        #expect(Set(result.files.map(\.destination)) == Set(expected.keys))
        for file in result.files {
            #expect(file.content == expected[file.destination], "\(corpus)/\(file.destination)")
        }
    }
}
