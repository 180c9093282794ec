import Foundation
import Testing

@testable import SkiffTemplates

/// A template snippet and what Ruby's ERB (with bosh's helpers) produced for it.
struct Snippet: Decodable, CustomStringConvertible, Sendable {
    var name: String
    var source: String
    var expected: String?
    var error_line: Int?
    var ruby_error: String?
    var description: String { name }

    static func load(_ file: String) -> Data? {
        guard let url = Bundle.module.url(forResource: "Snippets", withExtension: nil) else { return nil }
        return try? Data(contentsOf: url.appendingPathComponent(file))
    }

    static var all: [Snippet] {
        guard let data = load("Snippets.json") else { return [] }
        return (try? JSONDecoder().decode([Snippet].self, from: data)) ?? []
    }

    /// The properties and spec the snippets were rendered with, read as YAML (JSON is YAML).
    static var properties: TemplateValue {
        (try? TemplateValue(yaml: String(decoding: load("properties.json") ?? Data(), as: UTF8.self))) ?? .null
    }

    /// The links the snippets consume (`links.json`, in the context file's `links` format).
    static var links: [String: LinkContext] {
        let text = String(decoding: load("links.json") ?? Data("{}".utf8), as: UTF8.self)
        return (try? RenderContext(json: "{\"deployment\": \"snippets\", \"links\": \(text)}").links) ?? [:]
    }

    static var spec: TemplateValue {
        var spec = (try? TemplateValue(yaml: String(decoding: load("spec.json") ?? Data(), as: UTF8.self))) ?? .null
        if case .hash(var hash) = spec {
            hash["properties"] = properties
            spec = .hash(hash)
        }
        return spec
    }
}

/// Snippets Ruby accepts that the renderer refuses on purpose (each fails with an unsupported-syntax or
/// unsupported-method error naming the line).
let deliberatelyUnsupported: [String: String] = [
    "snippet-47": "endless range",
    "snippet-61": "Hash.new",
    "snippet-64": "defined?",
    "snippet-242": "instance variables (fails when evaluated, not when parsed)",
]

/// Snippets where the renderer deliberately differs from Ruby 3.1 (they must still render).
let knownDifferences: [String: String] = [
    "snippet-43": "JSON.pretty_generate prints empty arrays and hashes as [] and {} (json >= 2.7), not [\\n\\n]",
    "snippet-57": "Integer ** negative gives a Float, not a Rational",
    "snippet-59": "values are copied on assignment: `b = a; b << 3` leaves a unchanged",
    "snippet-134": "`list.size -1` subtracts; Ruby reads `-1` as an argument to size and fails",
]

struct SnippetTests {
    @Test func snippetsLoaded() {
        #expect(Snippet.all.count >= 244)
        #expect(Snippet.links["backend"]?.instances.count == 2)
    }

    /// Differential check: every snippet renders exactly as Ruby ERB did, or fails where Ruby failed, on the same line.
    @Test(arguments: Snippet.all)
    func matchesRuby(_ snippet: Snippet) {
        let outcome: Result<String, TemplateError>
        do {
            outcome = .success(
                try ERBTemplate(source: snippet.source, file: "t.erb")
                    .render(
                        properties: Snippet.properties, spec: Snippet.spec, jobName: "nginx", index: 0,
                        links: Snippet.links))
        } catch {
            outcome = .failure(error)
        }
        if knownDifferences[snippet.name] != nil {
            if case .failure(let error) = outcome { Issue.record("\(snippet.name) failed: \(error)") }
            return
        }
        if deliberatelyUnsupported[snippet.name] != nil {
            if case .failure(let error) = outcome {
                #expect(error.code == .unsupportedSyntax || error.code == .unsupportedMethod, "\(error)")
            } else {
                Issue.record("\(snippet.name) should be refused")
            }
            return
        }
        switch (outcome, snippet.expected, snippet.error_line) {
        case (.success(let text), .some(let expected), _):
            #expect(text == expected, "\(snippet.source)")
        case (.failure(let error), nil, .some(let line)):
            #expect(error.location.line == line, "\(error) vs Ruby: \(snippet.ruby_error ?? "")")
        case (.failure(let error), _, _):
            Issue.record("\(snippet.name) failed: \(error)\n\(snippet.source)")
        case (.success(let text), nil, _):
            Issue.record(
                "\(snippet.name) rendered \(text.debugDescription) but Ruby failed: \(snippet.ruby_error ?? "")")
        }
    }
}
