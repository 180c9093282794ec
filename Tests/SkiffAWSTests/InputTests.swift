import Foundation
import SkiffAWS
import SkiffCloud
import SkiffNet
import Testing

@Suite("command-line and CPI input")
struct InputTests {
    @Test("--ingress: ports, ranges and 'all'; bad lists name the bad piece")
    func ingress() throws {
        #expect(try IngressRules(parsing: "22, 80,8000-8080").description == "22,80,8000-8080")
        #expect(try IngressRules(parsing: "ALL") == .all)
        #expect(IngressRules.default.description == "22,80,443,6868")
        for bad in ["", "22,", "0", "65536", "80-20", "http", "1-2-3"] {
            do {
                _ = try IngressRules(parsing: bad)
                Issue.record("'\(bad)' was accepted")
            } catch {
                #expect(error.message.contains("--ingress"))
            }
        }
        let missing = IngressRules.missing(
            IngressRules.default.permissions,
            existing: [
                EC2Permission(ipProtocol: "tcp", fromPort: 22, toPort: 22, ipv4Ranges: ["0.0.0.0/0"], ipv6Ranges: [])
            ])
        #expect(missing.first?.fromPort == 22)
        #expect(missing.first?.ipv4Ranges == [])
        #expect(missing.first?.ipv6Ranges == ["::/0"])
        #expect(missing.count == 5)
    }

    @Test("environment names: letters, digits, '-', '_', '.'")
    func names() {
        #expect(throws: AWSConfigurationError.self) { try NetworkEnvironmentSpec(name: "") }
        #expect(throws: AWSConfigurationError.self) { try NetworkEnvironmentSpec(name: "a b") }
        #expect(throws: AWSConfigurationError.self) {
            try NetworkEnvironmentSpec(name: String(repeating: "x", count: 65))
        }
        #expect(throws: Never.self) { try NetworkEnvironmentSpec(name: "nginx-ipv6_1.0") }
    }

    @Test("an explicit profile wins over environment keys")
    func explicitProfile() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        try "[lab]\naws_access_key_id = AKIDLAB\naws_secret_access_key = lab\n".write(
            toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        let settings = try AWSSettings.resolve(
            environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env"],
            region: "us-east-1", profile: "lab")
        #expect(settings.credentials?.accessKeyID == "AKIDLAB")
    }

    @Test("create_vm networks: one subnet for all, IPv6 by its own manual network, vip needs an IPv4 address")
    func networks() throws {
        func manual(_ ip: String, _ netmask: String, subnet: String = "subnet-1") -> JSONValue {
            .object([
                "type": "manual", "ip": .string(ip), "netmask": .string(netmask),
                "cloud_properties": .object(["subnet": .string(subnet)]),
            ])
        }
        let sorted = try VMNetworks(
            .object([
                "a": manual("10.0.0.4", "255.255.255.0"),
                "b": manual("2600:1f16:a62:5c00:0:0:0:4", "ffff:ffff:ffff:ffff::"),
                "c": .object(["type": "vip", "ip": "203.0.113.9"]),
            ]))
        #expect(sorted.ipv4?.prefix == "10.0.0.0/24")
        #expect(sorted.ipv6?.ip == "2600:1f16:a62:5c00::4")
        #expect(sorted.ipv6?.prefix == "2600:1f16:a62:5c00::/64")
        #expect(sorted.vip == "203.0.113.9")
        #expect(sorted.subnetID == "subnet-1")

        let failures: [(JSONValue, String)] = [
            (.object([:]), "no networks"),
            (
                .object([
                    "a": manual("10.0.0.4", "255.255.255.0"),
                    "b": manual("2600::4", "ffff:ffff:ffff:ffff::", subnet: "subnet-2"),
                ]),
                "different subnets"
            ),
            (.object(["v": .object(["type": "vip", "ip": "2600::1"])]), "IPv4"),
            (.object(["a": manual("10.0.0.4", "255.0.255.0")]), "not contiguous"),
            (
                .object(["a": .object(["type": "manual", "ip": "10.0.0.4", "netmask": "255.255.255.0"])]),
                "subnet is required"
            ),
            (.object(["d": .object(["type": "weird", "cloud_properties": .object(["subnet": "s"])])]), "'weird'"),
        ]
        for (input, fragment) in failures {
            do {
                _ = try VMNetworks(input)
                Issue.record("accepted \(input)")
            } catch {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
    }

    @Test("pre-flight checks are pure: families, ipv6Supported, /64, reserved and outside addresses")
    func preflight() throws {
        #expect(throws: AWSCPIError.self) { try VMPreflight.checkInstanceType("m3.medium", info: nil) }
        #expect(throws: AWSCPIError.self) { try VMPreflight.checkInstanceType("G2.2xlarge", info: nil) }
        #expect(throws: Never.self) { try VMPreflight.checkInstanceType("m5.large", info: nil) }
        let manual = VMNetworks.Manual(
            name: "v6", ip: "2600:1f16:a62:5c00::4", prefix: "2600:1f16:a62:5c00::/64", subnetID: "s")
        #expect(throws: Never.self) {
            try VMPreflight.checkIPv6(manual, subnetBlock: "2600:1f16:a62:5c00::/64", subnetID: "s")
        }
        #expect(throws: AWSCPIError.self) { try VMPreflight.checkIPv6(manual, subnetBlock: nil, subnetID: "s") }
        #expect(throws: AWSCPIError.self) {
            try VMPreflight.checkIPv6(manual, subnetBlock: "2600:1f16:a62:5c01::/64", subnetID: "s")
        }
    }
}
