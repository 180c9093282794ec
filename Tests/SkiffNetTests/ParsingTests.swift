import SkiffNet
import Testing

@Suite("Parsing every RFC 4291 text form")
struct ParsingTests {
    @Test(
        "equivalent spellings parse to one value",
        arguments: [
            ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "2001:db8:0::0:1"],
            ["::", "0:0:0:0:0:0:0:0", "0::0", "::0:0"],
            ["::1", "0:0:0:0:0:0:0:1", "0000:0000:0000:0000:0000:0000:0000:0001"],
            ["::ffff:192.0.2.128", "::FFFF:c000:0280", "0:0:0:0:0:ffff:192.0.2.128"],
            ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
            ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
            ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
        ])
    func equivalent(spellings: [String]) throws {
        let values = try spellings.map { try IPv6Address(parsing: $0) }
        #expect(Set(values).count == 1)
    }

    @Test(
        "bad IPv6 text is refused with a reason",
        arguments: [
            ("2600::1::2", "more than one '::'"),
            ("1:2:3:4:5:6:7:8:9", "expected 8 groups, found 9"),
            ("12345::", "more than 4 hex digits"),
            ("::ffff:1.2.3", "embedded IPv4 part '1.2.3'"),
            ("::ffff:1.2.3.256", "greater than 255"),
            ("::ffff:01.2.3.4", "leading zero"),
            ("1.2.3.4::", "only allowed in the last 32 bits"),
            ("1:2:3:4:5:6:7", "expected 8 groups, found 7"),
            ("1:2:3:4:5:6::7:8", "at least one group"),
            (":1::2", "leading ':'"),
            ("1::2:", "trailing ':'"),
            ("g::1", "not hexadecimal"),
            ("fe80::1%eth0", "has a zone"),
            ("", "empty address"),
            ("1:2", "expected at least 3 parts"),
            (":::", "more than one '::'"),
        ])
    func badIPv6(input: String, reason: String) {
        #expect {
            try IPv6Address(parsing: input)
        } throws: { error in
            let message = "\(error)"
            return message.contains(reason) && message.contains("'\(input)'")
        }
    }

    @Test(
        "bad IPv4 text is refused with a reason",
        arguments: [
            ("010.1.1.1", "leading zero"),
            ("1.2.3", "expected 4 octets"),
            ("1.2.3.4.5", "expected 4 octets"),
            ("256.1.1.1", "greater than 255"),
            ("1.2..4", "empty octet"),
            ("1.2.3.a", "not a decimal number"),
            ("1.2.3.-4", "not a decimal number"),
            ("1.2.3.1000", "greater than 255"),
        ])
    func badIPv4(input: String, reason: String) {
        #expect {
            try IPv4Address(parsing: input)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func zonesAreKeptApart() throws {
        let zoned = try ZonedIPv6Address(parsing: "FE80:0::1%eth0")
        #expect(zoned.address == IPv6Address("fe80::1"))
        #expect(zoned.zone == "eth0")
        #expect(zoned.description == "fe80::1%eth0")
        #expect(zoned.hostText == "[fe80::1%25eth0]")
        #expect(throws: AddressError.self) { try ZonedIPv6Address(parsing: "fe80::1%") }
        #expect(try ZonedIPv6Address(parsing: "::1").zone == nil)
    }

    @Test func expandedForm() throws {
        #expect(try IPv6Address(parsing: "2600:1f16:a62:5c00::4").expanded == "2600:1f16:0a62:5c00:0000:0000:0000:0004")
        #expect(try IPv6Address(parsing: "::").expanded == "0000:0000:0000:0000:0000:0000:0000:0000")
        #expect(try IPAddress(parsing: "10.0.0.7").expanded == "10.0.0.7")
    }

    @Test func mixedFamilies() throws {
        #expect(try IPAddress(parsing: "10.0.0.7").family == .ipv4)
        #expect(try IPAddress(parsing: "::1").family == .ipv6)
        #expect(throws: AddressError.self) { try IPAddress(parsing: "localhost") }
        #expect(try IPAddress(parsing: "10.0.0.7") < IPAddress(parsing: "::"))
    }

    @Test func classification() throws {
        #expect(try IPv6Address(parsing: "fe80::1").isLinkLocal)
        #expect(try !IPv6Address(parsing: "fec0::1").isLinkLocal)
        #expect(try IPv6Address(parsing: "fd12:3456::1").isUniqueLocal)
        #expect(try !IPv6Address(parsing: "2600::1").isUniqueLocal)
        #expect(try IPv6Address(parsing: "::ffff:10.0.0.1").ipv4Mapped == IPv4Address(10, 0, 0, 1))
    }
}
