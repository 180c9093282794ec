import Foundation
import SkiffCloud
import SkiffManifest
import SkiffNet
import Testing

@testable import SkiffDeploy

@Suite("The create-env manifest model")
struct DeploymentManifestTests {
    static let example = ReleaseTests.exampleRelease.deletingLastPathComponent().appendingPathComponent("local.yml")

    func load(_ text: String, file: String = "m.yml") throws -> DeploymentManifest {
        let document = try Interpolator.evaluate(InterpolationRequest(manifest: SourceText(name: file, text: text)))
        return try DeploymentManifestParser.parse(document)
    }

    @Test func theLocalExampleValidates() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = EnvironmentOptions(
            manifestPath: Self.example.path,
            variables: VariableFlags(varsStore: directory.appendingPathComponent("creds.yml").path),
            skiffExecutable: "/usr/bin/skiff")
        let loaded = try LoadedEnvironment.load(options)
        let manifest = loaded.manifest
        #expect(manifest.name == "nginx-ipv6")
        #expect(manifest.jobs.map(\.name) == ["enable_ipv6", "dhcpcd_ipv6", "nginx"])
        #expect(manifest.diskSize == 1024)
        #expect(manifest.healthCheck?.port == 80)
        let networks = manifest.cpiNetworks
        #expect(networks["private"]?.ip == IPAddress("10.245.0.7"))
        #expect(networks["private"]?.defaults == ["dns", "gateway"])
        #expect(networks["private-ipv6"]?.ip == IPAddress("fd53:6b69:6666:1::4"))
        #expect(networks["private-ipv6"]?.netmask == IPAddress("ffff:ffff:ffff:ffff::"))
        #expect(networks["private-ipv6"]?.defaults == nil)
        #expect(loaded.sha512.count == 128)
        #expect(manifest.cloudProvider.caPEM?.contains("BEGIN CERTIFICATE") == true)
        #expect(
            BuiltInCPI(
                templateName: manifest.cloudProvider.templateName, release: manifest.cloudProvider.templateRelease)
                == .local)
        // The generated secrets are kept for create-env to write before its first change, then 0600.
        let store = directory.appendingPathComponent("creds.yml").path
        #expect(!FileManager.default.fileExists(atPath: store))
        try #require(loaded.document.unsavedStore).save()
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("creds.yml").path)[
            .posixPermissions]
        #expect((mode as? Int) == 0o600)
    }

    @Test func theAWSExampleValidatesWithTheVarsAWSUpWrites() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let vars = directory.appendingPathComponent("aws-vars.yml")
        try """
        region: us-east-2
        az: us-east-2a
        subnet_id: subnet-0a1b2c3d
        security_group: sg-0a1b2c3d
        internal_cidr: 10.0.0.0/24
        internal_gw: 10.0.0.1
        internal_ip: 10.0.0.4
        ipv6_cidr: 2600:1f16:a62:5c00::/64
        ipv6_gw: 2600:1f16:a62:5c00::1
        ipv6_address: 2600:1f16:a62:5c00::4

        """.write(to: vars, atomically: true, encoding: .utf8)
        let example = Self.example.deletingLastPathComponent().appendingPathComponent("aws.yml")
        let options = EnvironmentOptions(
            manifestPath: example.path,
            variables: VariableFlags(
                vars: [
                    "stemcell_url=https://bosh.io/d/stemcells/bosh-aws-xen-hvm-ubuntu-jammy-go_agent?v=1.484",
                    "stemcell_sha1=0123456789abcdef0123456789abcdef01234567",
                ],
                varsFiles: [vars.path], varsStore: directory.appendingPathComponent("creds.yml").path),
            skiffExecutable: "/usr/bin/skiff")
        let manifest = try LoadedEnvironment.load(options).manifest
        #expect(
            BuiltInCPI(
                templateName: manifest.cloudProvider.templateName, release: manifest.cloudProvider.templateRelease)
                == .aws)
        #expect(manifest.stemcellURL.hasPrefix("https://bosh.io/d/stemcells/"))
        #expect(manifest.stemcellSHA1 == "0123456789abcdef0123456789abcdef01234567")
        #expect(manifest.staticAddresses.contains(try #require(IPAddress("2600:1f16:a62:5c00::4"))))
    }

    static let valid = """
        name: t
        releases:
        - {name: r, url: file://r}
        resource_pools:
        - name: vms
          network: n4
          stemcell: {url: skiff://local}
        networks:
        - name: n4
          type: manual
          subnets:
          - {range: 10.0.0.0/24, gateway: 10.0.0.1}
        - name: n6
          type: manual
          subnets:
          - {range: "fd00::/64", gateway: "fd00::1"}
        instance_groups:
        - name: web
          instances: 1
          resource_pool: vms
          networks:
          - {name: n4, static_ips: [10.0.0.7], default: [dns, gateway]}
          - {name: n6, static_ips: ["fd00:0:0:0::4"]}
          jobs:
          - {name: j, release: r}
        cloud_provider:
          template: {name: local_cpi, release: skiff}
          mbus: https://mbus:p@10.0.0.7:6868

        """

    @Test func addressesAreValuesNotStrings() throws {
        let manifest = try load(Self.valid)
        #expect(manifest.instanceNetworks[1].staticIPs == [IPAddress("fd00::4")])
        #expect(manifest.staticAddresses.map(\.description) == ["10.0.0.7", "fd00::4"])
    }

    @Test(
        "bad manifests: one line per problem, naming file, line and field",
        arguments: [
            (
                "  - {name: n4, static_ips: [10.0.0.7], default: [dns, gateway]}",
                "  - {name: n4, static_ips: [10.0.1.7], default: [dns, gateway]}",
                "m.yml:22: instance_groups[0].networks[0].static_ips[0]: static ip '10.0.1.7' must be within the subnet range '10.0.0.0/24'"
            ),
            (
                "  - {name: n6, static_ips: [\"fd00:0:0:0::4\"]}", "  - {name: n6, static_ips: [\"fd00::1::4\"]}",
                "instance_groups[0].networks[1].static_ips[0]: must be a valid IP: invalid IPv6 address 'fd00::1::4': more than one '::'"
            ),
            (
                "  - {name: n6, static_ips: [\"fd00:0:0:0::4\"]}", "  - {name: n6, static_ips: [\"fd00::1\"]}",
                "static ip 'fd00::1' is the subnet's gateway"
            ),
            (
                "  - {name: n6, static_ips: [\"fd00:0:0:0::4\"]}", "  - {name: n6, static_ips: [\"10.0.0.7\"]}",
                "address '10.0.0.7' is already used at instance_groups[0].networks[0].static_ips[0]"
            ),
            (
                "  - {range: 10.0.0.0/24, gateway: 10.0.0.1}", "  - {range: 10.0.0.0/24, gateway: 10.0.1.1}",
                "m.yml:12: networks[0].subnets[0].gateway: gateway '10.0.1.1' must be within the range '10.0.0.0/24'"
            ),
            (
                "  - {range: 10.0.0.0/24, gateway: 10.0.0.1}", "  - {range: 10.0.0.1/24, gateway: 10.0.0.1}",
                "networks[0].subnets[0].range: must be an IP range: invalid prefix '10.0.0.1/24': host bits are set"
            ),
            (
                "  type: manual\n  subnets:\n  - {range: \"fd00::/64\"",
                "  type: bogus\n  subnets:\n  - {range: \"fd00::/64\"",
                "networks[1].type: must be 'manual', 'dynamic', or 'vip'"
            ),
            (
                "  instances: 1", "  instances: 2",
                "m.yml:19: instance_groups[0].instances: must be 1 (create-env deploys one instance), not 2"
            ),
            (
                "  - {name: j, release: r}", "  - {name: j, release: nope}",
                "instance_groups[0].jobs[0].release: 'nope' must refer to a release in releases"
            ),
            (
                "  mbus: https://mbus:p@10.0.0.7:6868", "  mbus: 10.0.0.7:6868",
                "cloud_provider.mbus: must be an https:// URL"
            ),
            ("name: t\n", "", "m.yml: name: must be provided"),
            (
                "  resource_pool: vms", "  resource_pool: other",
                "instance_groups[0].resource_pool: 'other' must be the name of a resource pool"
            ),
        ])
    func badManifest(original: String, replacement: String, message: String) throws {
        let text = Self.valid.replacingOccurrences(of: original, with: replacement)
        try #require(text != Self.valid)
        #expect {
            try load(text)
        } throws: { error in
            let description = "\(error)"
            return description.split(separator: "\n").contains { $0.contains(message) }
        }
    }
}
