import Foundation
import SkiffNet
import Testing

@testable import SkiffTemplates

struct JobSpecTests {
    @Test func parsesAllFields() throws {
        let spec = try JobSpec(
            yaml: """
                ---
                name: nginx
                templates:
                  ctl.sh: bin/ctl
                  nginx.conf.erb: etc/nginx.conf
                packages: [nginx]
                consumes:
                - {name: backend, type: http, optional: true}
                provides:
                - name: http-server
                  type: http-router
                properties:
                  nginx_conf:
                    description: The whole nginx.conf
                  workers:
                    default: 2
                    example: 4
                  listen.addresses:
                    type: array
                    default: ["::", 0.0.0.0]
                  ratio: {default: 0.5}
                  enabled: {default: yes}
                  nothing: {default: ~}
                  bare:
                """)
        #expect(spec.name == "nginx")
        #expect(
            spec.templates == [
                TemplateMapping(source: "ctl.sh", destination: "bin/ctl"),
                TemplateMapping(source: "nginx.conf.erb", destination: "etc/nginx.conf"),
            ])
        #expect(spec.packages == ["nginx"])
        #expect(spec.consumes == [LinkDefinition(name: "backend", type: "http", optional: true)])
        #expect(spec.provides == [LinkDefinition(name: "http-server", type: "http-router")])
        #expect(
            spec.properties.map(\.name) == [
                "nginx_conf", "workers", "listen.addresses", "ratio", "enabled", "nothing", "bare",
            ])
        #expect(spec.properties[0].description == "The whole nginx.conf")
        #expect(spec.properties[0].defaultValue == nil)
        #expect(spec.properties[1].defaultValue == 2)
        #expect(spec.properties[1].example == 4)
        #expect(spec.properties[2].defaultValue == ["::", "0.0.0.0"])
        #expect(spec.properties[2].type == "array")
        #expect(spec.properties[3].defaultValue == 0.5)
        #expect(spec.properties[4].defaultValue == true)
        #expect(spec.properties[5].defaultValue == .null)
        #expect(spec.properties[6].defaultValue == nil)
    }

    @Test func emptySectionsAreAllowed() throws {
        let spec = try JobSpec(yaml: "name: enable_ipv6\ntemplates: {}\npackages: []\nproperties: {}\n")
        #expect(spec.templates.isEmpty && spec.packages.isEmpty && spec.properties.isEmpty)
        let minimal = try JobSpec(yaml: "name: x\n")
        #expect(minimal.templates.isEmpty)
    }

    @Test(arguments: [
        ("templates: {a: b}\n", "spec:1: missing 'name'"),
        ("name: x\ntemplates: [a]\n", "spec:2: 'templates' must be a mapping of source to destination"),
        ("name: x\npackages: {a: b}\n", "spec:2: 'packages' must be a list"),
        ("name: x\nproperties:\n  a: 1\n", "spec:3: property 'a' must be a mapping"),
        ("- just a list\n", "spec:1: job spec must be a mapping"),
        ("", "spec: empty job spec"),
    ])
    func rejectsMalformedSpecs(yaml: String, message: String) {
        do {
            _ = try JobSpec(yaml: yaml)
            Issue.record("accepted \(yaml)")
        } catch {
            #expect(error.code == .invalidSpec)
            #expect(error.description == message)
        }
    }

    @Test func invalidYAMLIsOneLine() {
        do {
            _ = try JobSpec(yaml: "name: [unclosed\n", file: "job.MF")
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidSpec)
            let expected =
                "job.MF:2: invalid YAML: while parsing a flow sequence at line 1: "
                + "did not find expected ',' or ']'"
            #expect(error.description == expected)
        }
    }
}

struct PropertyResolutionTests {
    let definitions = [
        PropertyDefinition(name: "app.port", defaultValue: 80),
        PropertyDefinition(name: "app.tls.enabled", defaultValue: false),
        PropertyDefinition(name: "app.name"),
        PropertyDefinition(name: "flat", defaultValue: "d"),
    ]

    @Test func keepsOnlyDeclaredPropertiesWithDefaults() {
        let source: TemplateValue = ["app": ["port": 8080, "secret": "x", "tls": ["enabled": nil]], "other": 1]
        let resolved = PropertyResolver.resolve(definitions, from: source)
        #expect(resolved == ["app": ["port": 8080, "tls": ["enabled": false], "name": nil], "flat": "d"])
    }

    @Test func jobPropertiesReplaceGlobalAndInstanceGroup() {
        let global: TemplateValue = ["app": ["port": 1, "name": "global"], "flat": "g"]
        let cluster: TemplateValue = ["app": ["port": 2]]
        #expect(
            PropertyResolver.source(global: global, cluster: cluster, job: nil)
                == ["app": ["port": 2, "name": "global"], "flat": "g"])
        #expect(PropertyResolver.source(global: global, cluster: cluster, job: ["flat": "j"]) == ["flat": "j"])
        #expect(PropertyResolver.source(global: .null, cluster: .null, job: nil) == [:])
    }
}

struct SpecContextTests {
    @Test func buildsTheBoshContext() throws {
        let context = SpecContext(
            deployment: "nginx-ipv6", name: "nginx", id: "abc", index: 0,
            address: IPAddress("fd00:5:6:0::4"),
            networks: [
                NetworkContext(
                    name: "private", ip: IPAddress("10.0.0.4"), netmask: IPAddress("255.255.255.0"),
                    gateway: IPAddress("10.0.0.1"), defaults: ["dns", "gateway"]),
                NetworkContext(name: "ipv6", ip: IPAddress("FD00:5:6::4"), netmask: IPAddress("ffff:ffff:ffff:ffff::")),
            ])
        let value = context.templateValue(job: "nginx", properties: ["a": 1])
        #expect(value["address"] == "fd00:5:6::4")
        #expect(value["az"] == "unknown")
        #expect(value["bootstrap"] == true)
        #expect(value["job"]?["name"] == "nginx")
        #expect(value["networks"]?["ipv6"]?["ip"] == "fd00:5:6::4")
        #expect(value["networks"]?["ipv6"]?["gateway"] == "")
        #expect(value["networks"]?["private"]?["default"] == ["dns", "gateway"])
        #expect(value["properties"] == ["a": 1])
        #expect(value["ip"] == nil)
    }

    @Test func defaultsMatchBoshCLI() {
        let value = SpecContext(deployment: "d").templateValue(job: "j", properties: [:])
        #expect(value["networks"] == ["default": ["ip": "", "netmask": "", "gateway": ""]])
        #expect(value["name"] == .null)
        #expect(value["address"] == nil)
        #expect(value["id"]?.asString?.count == 36)
    }

    @Test func defaultIDIsStablePerInstance() throws {
        let first = SpecContext(deployment: "nginx-ipv6", name: "nginx").id
        #expect(first == SpecContext(deployment: "nginx-ipv6", name: "nginx").id)
        #expect(first != SpecContext(deployment: "nginx-ipv6", name: "nginx", index: 1).id)
        #expect(first != SpecContext(deployment: "other", name: "nginx").id)
        let uuid = try #require(UUID(uuidString: first))
        #expect(uuid.uuidString.lowercased() == first)
        #expect(Array(first)[14] == "8")
        #expect(SpecContext(deployment: "d", id: "given").id == "given")
    }
}

struct JobRendererTests {
    func job(_ templates: [String: String], monit: String? = "check process x\n", spec: String) throws -> JobTemplates {
        JobTemplates(spec: try JobSpec(yaml: spec), monit: monit, templates: templates)
    }

    @Test func rendersInMemoryJobsInSpecOrderWithMonitLast() throws {
        let source = try job(
            ["b.erb": "<%= p('x') %>", "a.erb": "<%= spec.job.name %>/<%= index %>"],
            monit: "check process <%= name %>\n",
            spec: "name: demo\ntemplates:\n  b.erb: bin/b\n  a.erb: etc/a\nproperties:\n  x: {default: 1}\n")
        let rendered = try JobRenderer.render(
            job: source, properties: ["x": 2], spec: SpecContext(deployment: "d", index: 3))
        #expect(rendered.name == "demo")
        #expect(rendered.files.map(\.destination) == ["bin/b", "etc/a", "monit"])
        #expect(rendered[destination: "bin/b"] == "2")
        #expect(rendered[destination: "etc/a"] == "demo/3")
        #expect(rendered.monit == "check process demo\n")
    }

    @Test func jobWithoutMonitRendersTemplatesOnly() throws {
        let source = try job(["t": "static"], monit: nil, spec: "name: s\ntemplates: {t: out}\n")
        let rendered = try JobRenderer.render(job: source, properties: [:], spec: SpecContext(deployment: "d"))
        #expect(rendered.files.map(\.destination) == ["out"])
        #expect(rendered.monit == nil)
    }

    @Test(arguments: ["../escape", "/etc/passwd", "a//b", ""])
    func refusesUnsafeDestinations(destination: String) throws {
        let source = try job(["t": "x"], spec: "name: s\ntemplates:\n  t: '\(destination)'\n")
        do {
            _ = try JobRenderer.render(job: source, properties: [:], spec: SpecContext(deployment: "d"))
            Issue.record("rendered to \(destination)")
        } catch {
            #expect(error.code == .invalidSpec)
            #expect(error.description.hasPrefix("s/spec: template destination"))
        }
    }

    @Test func missingTemplateFileIsNamed() throws {
        let source = try job([:], spec: "name: s\ntemplates: {gone.erb: bin/x}\n")
        do {
            _ = try JobRenderer.render(job: source, properties: [:], spec: SpecContext(deployment: "d"))
            Issue.record("rendered")
        } catch {
            #expect(error.description == "s/templates/gone.erb: template file not found")
        }
    }

    @Test func readsReleaseTarballJobLayout() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skiff-templates-\(UUID().uuidString)/web")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("templates"), withIntermediateDirectories: true)
        try "name: web\ntemplates: {page.erb: www/index.html}\nproperties: {greeting: {default: hi}}\n"
            .write(to: directory.appendingPathComponent("job.MF"), atomically: true, encoding: .utf8)
        try "<h1><%= p('greeting') %> from <%= spec.address %></h1>\n"
            .write(to: directory.appendingPathComponent("templates/page.erb"), atomically: true, encoding: .utf8)
        let rendered = try JobRenderer.render(
            jobDirectory: directory, properties: [:],
            spec: SpecContext(deployment: "d", address: IPAddress("2001:db8::4")))
        #expect(rendered[destination: "www/index.html"] == "<h1>hi from 2001:db8::4</h1>\n")
        #expect(rendered.monit == nil)
    }

    @Test func missingSpecIsAnError() {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-none-\(UUID().uuidString)")
        do {
            _ = try JobTemplates(directory: directory)
            Issue.record("loaded")
        } catch {
            #expect(error.code == .io)
        }
    }
}

struct TemplateValueTests {
    @Test func convertsYAMLKeepingOrderAndTypes() throws {
        let value = try TemplateValue(yaml: "z: 1\na: [true, 1.5, ~, '2', 0x10]\nm: {k: v}\n")
        #expect(value.asHash?.keys == ["z", "a", "m"])
        #expect(value["a"] == [true, 1.5, nil, "2", 16])
        #expect(value.value(atPath: "m.k") == "v")
        #expect(value.value(atPath: "m.nope") == nil)
    }

    @Test func convertsFoundationValues() {
        let value = TemplateValue(any: ["b": [1, "x", NSNull()], "a": true] as [String: Any])
        #expect(value == ["a": true, "b": [1, "x", nil]])
    }

    @Test func convertsJSONSerializationNumbersWithoutMistakingOneForTrue() throws {
        let json = try JSONSerialization.jsonObject(with: Data(#"{"n": [1, 0, 2.5, true, false]}"#.utf8))
        #expect(TemplateValue(any: json) == ["n": [1, 0, 2.5, true, false]])
    }

    @Test func deepMergeOverridesLeaves() {
        let base: TemplateValue = ["a": ["x": 1, "y": 2], "b": 1]
        let merged = base.deepMerged(with: ["a": ["y": 3], "c": 4])
        #expect(merged == ["a": ["x": 1, "y": 3], "b": 1, "c": 4])
    }

    @Test func addressesBecomeCanonicalText() throws {
        let address = try #require(IPAddress("2001:DB8:0:0::1"))
        #expect(TemplateValue(address) == "2001:db8::1")
    }
}

struct InstanceGroupTests {
    @Test func eachJobSeesItsOwnPropertySource() throws {
        let web = JobTemplates(
            spec: try JobSpec(yaml: "name: web\ntemplates: {t: out}\nproperties: {port: {}, name: {default: x}}\n"),
            monit: nil, templates: ["t": "<%= p('name') %>:<%= p('port') %>"])
        let worker = JobTemplates(
            spec: try JobSpec(yaml: "name: worker\ntemplates: {t: out}\nproperties: {port: {default: 1}}\n"),
            monit: nil, templates: ["t": "<%= p('port') %>"])
        let rendered = try JobRenderer.render(
            instanceGroupJobs: [(web, nil), (worker, ["port": 9])],
            globalProperties: ["port": 80, "name": "global"], instanceGroupProperties: ["port": 8080],
            spec: SpecContext(deployment: "d"))
        #expect(rendered.map(\.name) == ["web", "worker"])
        #expect(rendered[0][destination: "out"] == "global:8080")
        #expect(rendered[1][destination: "out"] == "9")
    }
}

/// The example release's DHCPv6 job, rendered from its directory as create-env renders it.
struct ExampleDHCPJobTests {
    static let job = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/nginx-ipv6/release/jobs/dhcpcd_ipv6")

    @Test func dhcpcdAsksAtOnceUnlessTheInitialDelayIsAskedFor() throws {
        let source = try JobTemplates(directory: Self.job)
        let plain = try JobRenderer.render(
            job: source, properties: ["interface": "eth0"], spec: SpecContext(deployment: "d"))
        #expect(plain.files.map(\.destination) == ["bin/ctl", "bin/dhcpcd-hook", "etc/dhcpcd.conf", "monit"])
        let config = try #require(plain[destination: "etc/dhcpcd.conf"])
        let lines = config.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(
            lines == [
                "ipv6only", "noipv6rs", "ia_na 1", "duid ll", "option rapid_commit", "nodelay",
                "script /var/vcap/jobs/dhcpcd_ipv6/bin/dhcpcd-hook",
            ])
        #expect(plain[destination: "bin/ctl"]?.contains("interface=\"eth0\"") == true)

        let delayed = try JobRenderer.render(
            job: source, properties: ["initial_delay": true], spec: SpecContext(deployment: "d"))
        #expect(delayed[destination: "etc/dhcpcd.conf"]?.contains("\nnodelay\n") == false)
        #expect(delayed[destination: "bin/ctl"]?.contains("interface=\"\"") == true)
    }
}
