import Foundation
import SkiffNet
import Testing

@testable import SkiffTemplates

/// The `skiff render` library side: the context file, per-template outcomes, job directories as found in releases.
struct RenderContextTests {
    static let json = """
        {"deployment": "demo", "name": "web", "id": "abc", "index": 3, "az": "z2", "bootstrap": false,
         "address": "fd00::7",
         "networks": [{"name": "private", "ip": "fd00::7", "netmask": "ffff:ffff:ffff:ffff::", "gateway": "fd00::1",
                       "default": ["dns", "gateway"]}, {"name": "v4", "ip": "10.0.0.7", "netmask": "255.255.255.0",
                       "gateway": "10.0.0.1"}],
         "manifest_properties": {"z": 1, "a": {"y": 2, "b": 3}},
         "links": {"db": {"instances": [{"name": "db", "id": "d1", "index": 0, "az": "z1", "address": "10.0.0.9",
                                         "bootstrap": true}], "properties": {"port": 5432}}}}
        """

    @Test func readsEveryFieldAndKeepsPropertyOrder() throws {
        let context = try RenderContext(json: Self.json)
        #expect(context.spec.deployment == "demo")
        #expect(context.spec.name == "web")
        #expect(context.spec.id == "abc")
        #expect(context.spec.index == 3)
        #expect(context.spec.az == "z2")
        #expect(context.spec.bootstrap == false)
        #expect(context.spec.address == IPAddress("fd00::7"))
        #expect(context.spec.networks.map(\.name) == ["private", "v4"])
        #expect(context.spec.networks[0].defaults == ["dns", "gateway"])
        #expect(context.properties.asHash?.keys == ["z", "a"])
        #expect(context.properties["a"]?.asHash?.keys == ["y", "b"])
        #expect(context.links["db"]?.instances.first?.address == "10.0.0.9")
        #expect(context.links["db"]?.properties["port"] == 5432)
    }

    @Test(arguments: [
        ("{\"name\": \"x\"}", "deployment: missing"),
        ("{\"deployment\": \"d\", \"index\": \"one\"}", "index: expected an integer"),
        ("{\"deployment\": \"d\", \"networks\": [{\"name\": \"n\", \"ip\": \"fd00::1::2\"}]}", "networks[0].ip"),
        ("{\"deployment\": \"d\", \"links\": {\"db\": {\"instances\": 3}}}", "links.db.instances: expected a list"),
        ("[]", "must be a JSON object"),
        ("{\"deployment\": ", "context.json"),
    ])
    func refusesBadContextsNamingTheField(_ json: String, _ mention: String) {
        #expect(throws: TemplateError.self) { try RenderContext(json: json) }
        do {
            _ = try RenderContext(json: json)
        } catch {
            #expect(error.description.contains(mention), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    static func job(_ templates: [String: String]) -> JobTemplates {
        let mappings = templates.keys.sorted().map { TemplateMapping(source: $0, destination: "out/" + $0) }
        let spec = JobSpec(
            name: "web", templates: mappings,
            properties: [PropertyDefinition(name: "port", defaultValue: 80), PropertyDefinition(name: "a.b")])
        return JobTemplates(spec: spec, monit: "check <%= name %> <%= spec.index %>", templates: templates)
    }

    @Test func everyTemplateRendersOnItsOwn() throws {
        let context = try RenderContext(json: Self.json)
        let outcomes = JobRenderer.renderEach(
            job: Self.job([
                "a.erb": "<%= p('port') %> <%= p('a.b') %> <%= link('db').p('port') %>",
                "b.erb": "ok\n<%= p('missing') %>",
                "c.erb": "<%= spec.networks.v4.ip %> <%= spec.address %>",
            ]), context: context)
        #expect(outcomes.map(\.destination) == ["out/a.erb", "out/b.erb", "out/c.erb", "monit"])
        #expect(try outcomes[0].result.get() == "80 3 5432")
        #expect(try outcomes[2].result.get() == "10.0.0.7 fd00::7")
        #expect(try outcomes[3].result.get() == "check web 3")
        guard case .failure(let error) = outcomes[1].result else {
            Issue.record("b.erb should fail")
            return
        }
        #expect(error.description.hasPrefix("web/templates/b.erb:2: "))
    }

    @Test func jobDirectoriesKeepAByteOrderMarkAndAcceptTabsInTheSpec() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-render-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let job = root.appendingPathComponent("web")
        try FileManager.default.createDirectory(
            at: job.appendingPathComponent("templates"), withIntermediateDirectories: true)
        try "name: web\ntemplates:\n  a.erb:\t\tetc/a.conf\n  gone.erb: etc/gone\nproperties: {}\n".write(
            to: job.appendingPathComponent("spec"), atomically: true, encoding: .utf8)
        try Data([0xEF, 0xBB, 0xBF] + Array("x=<%= 1 + 1 %>\n".utf8)).write(
            to: job.appendingPathComponent("templates/a.erb"))
        let output = root.appendingPathComponent("out")
        let outcomes = try JobRenderer.renderDirectory(
            job, context: RenderContext(spec: SpecContext(deployment: "d")), output: output)
        #expect(outcomes.count == 2)
        let written = try Data(contentsOf: output.appendingPathComponent("etc/a.conf"))
        #expect(Array(written) == [0xEF, 0xBB, 0xBF] + Array("x=2\n".utf8))
        guard case .failure(let error) = outcomes[1].result else {
            Issue.record("a missing template file fails alone")
            return
        }
        #expect(error.description.hasPrefix("web/templates/gone.erb: "))
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("etc/gone").path))
    }
}
