import Foundation
import SkiffManifest
import Testing

@testable import SkiffDeploy

@Suite("Typos in manifests are warned about")
struct ManifestSchemaTests {
    func document(_ text: String, file: String = "m.yml") throws -> InterpolatedDocument {
        try Interpolator.evaluate(InterpolationRequest(manifest: SourceText(name: file, text: text)))
    }

    static let manifest = """
        name: env
        releases:
        - {name: os-conf, url: file:///tmp/os-conf.tgz}
        networks:
        - name: default
          type: manual
          subnets:
          - {range: 10.0.0.0/24, gateway: 10.0.0.1}
        instance_groups:
        - name: vm
          instances: 1
          jobs:
          - name: user_add
            release: os-conf
            properties:
              users: []
              persistant_homes: true
          - name: login_banner
            release: os-conf
          networks:
          - name: default
            static_ip: [10.0.0.5]
          properties:
            login_banner:
              txt: hi
        resource_poolz: []
        """

    @Test("a misspelled static_ips is named with its file, line and a suggestion")
    func staticIP() throws {
        let warnings = ManifestSchema.unknownKeyWarnings(try document(Self.manifest))
        let staticIP = try #require(warnings.first { $0.location.field == "instance_groups[0].networks[0].static_ip" })
        #expect(staticIP.location.file == "m.yml")
        #expect(staticIP.location.line == 22)
        #expect(staticIP.message == "unknown key 'static_ip' is ignored (did you mean 'static_ips'?)")
        #expect(
            staticIP.description
                == "Warning: m.yml:22: instance_groups[0].networks[0].static_ip: unknown key 'static_ip' is ignored "
                + "(did you mean 'static_ips'?)")
        let root = try #require(warnings.first { $0.location.field == "resource_poolz" })
        #expect(root.message.contains("did you mean 'resource_pools'?"))
        #expect(root.location.line == 26)
        #expect(warnings.count == 2)
    }

    @Test("a key far from every known one is warned about without a suggestion")
    func noSuggestion() throws {
        let warnings = ManifestSchema.unknownKeyWarnings(try document("name: x\nzzzzzzzz: 1\n"))
        #expect(warnings.map(\.message) == ["unknown key 'zzzzzzzz' is ignored"])
    }

    @Test("known keys of every level, director-only keys and job properties' contents do not warn")
    func knownKeys() throws {
        let text = """
            name: x
            stemcells: []
            update: {canaries: 1, update_watch_time: 1-2}
            cloud_provider: {template: {name: a, release: b}, mbus: x, cert: {ca: y}, properties: {anything: 1}}
            instance_groups:
            - name: g
              health_check: {port: 80, path: /}
              jobs: [{name: j, release: r, properties: {whatever: {deep: 1}}}]
            variables: [{name: v, type: password, options: {length: 3}}]
            """
        #expect(ManifestSchema.unknownKeyWarnings(try document(text)).isEmpty)
    }

    @Test("job properties the spec does not declare are warned about; declared ones and their insides are not")
    func jobProperties() throws {
        let specs: [String: [String]] = [
            "user_add": ["users", "persistent_homes"],
            "login_banner": ["login_banner.text"],
        ]
        let warnings = ManifestSchema.jobPropertyWarnings(try document(Self.manifest)) { job, _ in specs[job] }
        #expect(
            warnings.map(\.location.field) == [
                "instance_groups[0].jobs[0].properties.persistant_homes",
                "instance_groups[0].properties.login_banner.txt",
            ])
        #expect(warnings[0].location.line == 17)
        #expect(
            warnings[0].message
                == "property 'persistant_homes' is not declared by the spec of job 'user_add' "
                + "(did you mean 'persistent_homes'?)")
        #expect(warnings[1].message.hasSuffix("(did you mean 'login_banner.text'?)"))
        #expect(warnings[1].location.line == 25)
    }

    @Test("a job whose spec is unknown turns off the check of the shared properties")
    func unknownJob() throws {
        let warnings = ManifestSchema.jobPropertyWarnings(try document(Self.manifest)) { job, _ in
            job == "user_add" ? ["users", "persistent_homes"] : nil
        }
        #expect(warnings.map(\.location.field) == ["instance_groups[0].jobs[0].properties.persistant_homes"])
    }

    @Test("warnings are written once each, on their own line")
    func once() throws {
        let lines = Lines()
        let log = WarningLog { lines.append($0) }
        let warnings = ManifestSchema.unknownKeyWarnings(try document(Self.manifest))
        log.report(warnings)
        log.report(warnings)
        #expect(lines.all.count == 2)
        #expect(lines.all.allSatisfy { $0.hasPrefix("Warning: m.yml:") && $0.hasSuffix("\n") })
    }

    @Test("the edit distance gives up past its limit")
    func distance() {
        #expect(ManifestSchema.editDistance("static_ip", "static_ips", limit: 2) == 1)
        #expect(ManifestSchema.editDistance("kitten", "sitting", limit: 5) == 3)
        #expect(ManifestSchema.editDistance("abc", "xyzxyz", limit: 2) == 3)
        #expect(ManifestSchema.closest(to: "nme", among: ["name", "jobs"]) == "name")
        #expect(ManifestSchema.closest(to: "tags", among: ["name", "jobs"]) == nil)
    }
}

/// Collects lines written by a ``WarningLog``.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
