import Foundation
import Testing

/// `skiff render JOB_DIR --context CONTEXT.json --output DIR` on small job directories made by each test.
@Suite("skiff render")
struct RenderCommandTests {
    /// A job directory under a fresh temporary folder; removed when the test ends.
    final class Job {
        let root: URL
        var directory: URL { root.appendingPathComponent("web") }
        var output: URL { root.appendingPathComponent("out") }
        var context: URL { root.appendingPathComponent("context.json") }

        init(spec: String, templates: [String: String], monit: String?, context: String) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-render-\(UUID().uuidString)")
            let templatesDirectory = root.appendingPathComponent("web/templates")
            try FileManager.default.createDirectory(at: templatesDirectory, withIntermediateDirectories: true)
            try spec.write(to: directory.appendingPathComponent("spec"), atomically: true, encoding: .utf8)
            if let monit {
                try monit.write(to: directory.appendingPathComponent("monit"), atomically: true, encoding: .utf8)
            }
            for (name, text) in templates {
                try text.write(to: templatesDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            try context.write(to: self.context, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func read(_ relative: String) -> String? {
            try? String(contentsOf: output.appendingPathComponent(relative), encoding: .utf8)
        }

        func render() throws -> (status: Int32, stdout: String, stderr: String) {
            let result = try SkiffProcess.run([
                "render", directory.path, "--context", context.path, "--output", output.path,
            ])
            return (result.status, result.stdout, result.stderr)
        }
    }

    static let spec = """
        name: web
        templates:
          config.erb: config/web.conf
          ctl.erb: bin/ctl
          broken.erb: config/broken.conf
        properties:
          port: {default: 80}
          hosts: {}
          secret: {}
        consumes:
        - {name: backend, type: db}
        """

    static let context = """
        {"deployment": "demo", "name": "web", "id": "abc-123", "index": 2, "az": "z1", "bootstrap": false,
         "address": "fd00::7",
         "networks": [{"name": "private", "ip": "fd00::7", "netmask": "ffff:ffff:ffff:ffff::", "gateway": "fd00::1",
                       "default": ["dns", "gateway"]}],
         "manifest_properties": {"hosts": ["a", "b"], "secret": "s3cr3t"},
         "links": {"backend": {"instances": [{"name": "db", "id": "d1", "index": 0, "az": "z1",
                                              "address": "fd00::20", "bootstrap": true}],
                               "properties": {"port": 5432}}}}
        """

    static let goodTemplates = [
        "config.erb": """
        listen [<%= spec.address %>]:<%= p('port') %>;
        <% p('hosts').each do |host| -%>
        upstream <%= host %>;
        <% end -%>
        <% if_link('backend') do |db| -%>
        db <%= db.instances.first.address %>:<%= db.p('port') %>
        <% end -%>
        index=<%= spec.index %> id=<%= spec.id %> bootstrap=<%= spec.bootstrap %>

        """,
        "ctl.erb": "#!/bin/sh\necho <%= name %> <%= spec.networks.private.gateway %>\n",
    ]

    @Test func rendersEveryTemplateAndMonit() throws {
        var templates = Self.goodTemplates
        templates["broken.erb"] = "ok <%= p('port') + 1 %>\n"
        let job = try Job(
            spec: Self.spec, templates: templates, monit: "check process web\n  group <%= spec.deployment %>\n",
            context: Self.context)
        let result = try job.render()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let config =
            "listen [fd00::7]:80;\nupstream a;\nupstream b;\ndb fd00::20:5432\n"
            + "index=2 id=abc-123 bootstrap=false\n"
        #expect(job.read("config/web.conf") == config)
        #expect(job.read("bin/ctl") == "#!/bin/sh\necho web fd00::1\n")
        #expect(job.read("config/broken.conf") == "ok 81\n")
        #expect(job.read("monit") == "check process web\n  group demo\n")
    }

    @Test func oneFailingTemplateWritesNothingAndFailsAlone() throws {
        var templates = Self.goodTemplates
        templates["broken.erb"] = "line one\n<%= p('missing') %>\n"
        let job = try Job(spec: Self.spec, templates: templates, monit: nil, context: Self.context)
        let result = try job.render()
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("web/templates/broken.erb:2: ") == true, "\(result.stderr)")
        #expect(!result.stderr.contains("s3cr3t"))
        #expect(job.read("config/broken.conf") == nil)
        #expect(job.read("config/web.conf")?.hasPrefix("listen [fd00::7]:80;") == true)
        #expect(job.read("bin/ctl") != nil)
    }

    @Test(arguments: [
        ("{\"deployment\": ", "context.json"),
        ("[1, 2]", "context.json"),
        ("{\"deployment\": \"d\", \"networks\": [{\"name\": \"n\", \"ip\": \"10.0.0.300\"}]}", "networks[0].ip"),
    ])
    func badContextIsOneLineNamingIt(_ context: String, _ mention: String) throws {
        let job = try Job(spec: Self.spec, templates: Self.goodTemplates, monit: nil, context: context)
        let result = try job.render()
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(mention), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: job.output.path))
    }
}
