import SkiffNet
import Testing

@Suite("Prefixes, subnets and reserved addresses")
struct PrefixTests {
    @Test func parsesAndRefusesHostBits() throws {
        let network = try IPv6Network(parsing: "2600:1f16:a62:5c00::/56")
        #expect(network.length == 56)
        #expect(network.description == "2600:1f16:a62:5c00::/56")
        #expect {
            try IPv6Network(parsing: "2600:1f16:a62:5c00::1/56")
        } throws: { error in
            "\(error)".contains("host bits are set (the network is 2600:1f16:a62:5c00::/56)")
        }
        #expect(throws: AddressError.self) { try IPv6Network(parsing: "::/129") }
        #expect(throws: AddressError.self) { try IPv4Network(parsing: "10.0.0.0/33") }
        #expect(throws: AddressError.self) { try IPv4Network(parsing: "10.0.0.0") }
        #expect(throws: AddressError.self) { try IPv4Network(parsing: "10.0.0.0/") }
        #expect(throws: AddressError.self) { try IPv4Network(parsing: "10.0.0.0/a") }
    }

    @Test func containsFirstLastSize() throws {
        let subnet = try IPv6Network(parsing: "2600:1f16:a62:5c00::/64")
        #expect(subnet.contains(try IPv6Address(parsing: "2600:1f16:a62:5c00::4")))
        #expect(!subnet.contains(try IPv6Address(parsing: "2600:1f16:a62:5c01::4")))
        #expect(subnet.first.description == "2600:1f16:a62:5c00::")
        #expect(subnet.last.description == "2600:1f16:a62:5c00:ffff:ffff:ffff:ffff")
        #expect(subnet.size == UInt128(1) << 64)
        #expect(try IPv6Network(parsing: "::/0").size == nil)
        #expect(try IPv4Network(parsing: "0.0.0.0/0").size == UInt128(1) << 32)
        #expect(subnet.netmask.description == "ffff:ffff:ffff:ffff::")
        #expect(try IPv4Network(parsing: "10.0.0.0/24").netmask.description == "255.255.255.0")
    }

    @Test func fromAddressAndNetmask() throws {
        let v6 = try IPv6Network(
            address: IPv6Address(parsing: "fd00:1::4"), netmask: IPv6Address(parsing: "ffff:ffff:ffff:ffff::"))
        #expect(v6.description == "fd00:1::/64")
        let v4 = try IPv4Network(
            address: IPv4Address(parsing: "10.0.0.7"), netmask: IPv4Address(parsing: "255.255.255.0"))
        #expect(v4.description == "10.0.0.0/24")
        #expect(throws: AddressError.self) {
            try IPv4Network(address: IPv4Address(parsing: "10.0.0.7"), netmask: IPv4Address(parsing: "255.0.255.0"))
        }
    }

    @Test func carvesSubnets() throws {
        let vpc = try IPv6Network(parsing: "2600:1f16:a62:5c00::/56")
        let subnets = Array(try vpc.subnets(length: 64).prefix(3)).map(\.description)
        #expect(subnets == ["2600:1f16:a62:5c00::/64", "2600:1f16:a62:5c01::/64", "2600:1f16:a62:5c02::/64"])
        #expect(try vpc.subnetCount(length: 64) == 256)
        #expect(try vpc.subnet(length: 64, index: 255).description == "2600:1f16:a62:5cff::/64")
        #expect(throws: AddressError.self) { try vpc.subnet(length: 64, index: 256) }
        #expect(throws: AddressError.self) { try vpc.subnets(length: 48) }
        #expect(throws: AddressError.self) { try vpc.subnets(length: 129) }
        let all = Array(try IPv4Network(parsing: "10.0.0.0/22").subnets(length: 24)).map(\.description)
        #expect(all == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"])
        #expect(Array(try IPv4Network(parsing: "10.0.0.0/24").subnets(length: 24)).count == 1)
        #expect(Array(try IPv6Network(parsing: "::/0").subnets(length: 1)).count == 2)
    }

    @Test func overlaps() throws {
        let a = try IPPrefix(parsing: "fd00::/48")
        #expect(a.overlaps(try IPPrefix(parsing: "fd00:0:0:1::/64")))
        #expect(!a.overlaps(try IPPrefix(parsing: "fd00:1::/64")))
        #expect(!a.overlaps(try IPPrefix(parsing: "10.0.0.0/8")))
        #expect(a.contains(try IPAddress(parsing: "fd00::7")))
        #expect(!a.contains(try IPAddress(parsing: "10.0.0.7")))
    }

    @Test func awsReservations() throws {
        let v6 = try IPv6Network(parsing: "2600:1f16:a62:5c00::/64")
        #expect(
            ReservationPolicy.aws.reserved(in: v6).map(\.description) == [
                "2600:1f16:a62:5c00::", "2600:1f16:a62:5c00::1", "2600:1f16:a62:5c00::2", "2600:1f16:a62:5c00::3",
                "2600:1f16:a62:5c00:ffff:ffff:ffff:ffff",
            ])
        #expect(ReservationPolicy.aws.firstAssignable(in: v6)?.description == "2600:1f16:a62:5c00::4")
        let v4 = try IPv4Network(parsing: "10.0.0.0/24")
        #expect(
            ReservationPolicy.aws.reserved(in: v4).map(\.description) == [
                "10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.255",
            ])
        #expect(ReservationPolicy.none.reserved(in: v4).isEmpty)
        #expect(throws: AddressError.self) {
            try ReservationPolicy.aws.validate(subnet: IPv6Network(parsing: "2600:1f16:a62:5c00::/56"))
        }
        try ReservationPolicy.aws.validate(subnet: v6)
        #expect {
            try ReservationPolicy.aws.validate(address: IPv6Address(parsing: "2600:1f16:a62:5c00::3"), in: v6)
        } throws: { "\($0)".contains("reserved by AWS") }
        #expect {
            try ReservationPolicy.aws.validate(address: IPv6Address(parsing: "2600:1f16:a62:5c01::4"), in: v6)
        } throws: { "\($0)".contains("outside the subnet") }
        try ReservationPolicy.aws.validate(address: IPv6Address(parsing: "2600:1f16:a62:5c00::4"), in: v6)
    }

    @Test func nextFree() throws {
        let v4 = try IPv4Network(parsing: "10.0.0.0/29")
        let used: Set = [try IPv4Address(parsing: "10.0.0.4"), try IPv4Address(parsing: "10.0.0.5")]
        #expect(v4.nextFree(used: used, policy: .aws)?.description == "10.0.0.6")
        #expect(try v4.nextFree(after: IPv4Address(parsing: "10.0.0.6"), used: used, policy: .aws) == nil)
        #expect(v4.nextFree()?.description == "10.0.0.0")
    }

    @Test func hostText() throws {
        let v6 = try IPAddress(parsing: "fd00::4")
        #expect(v6.hostText == "[fd00::4]")
        #expect(v6.hostPort(6868) == "[fd00::4]:6868")
        #expect(v6.url() == "http://[fd00::4]/")
        #expect(try IPAddress(parsing: "10.0.0.7").url(scheme: "https", port: 6868) == "https://10.0.0.7:6868/")
    }
}
