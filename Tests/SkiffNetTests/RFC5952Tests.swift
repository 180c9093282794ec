import SkiffNet
import Testing

@Suite("RFC 5952 canonical text")
struct RFC5952Tests {
    @Test(
        "examples from RFC 5952",
        arguments: [
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8::0001", "2001:db8::1"),
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:DB8::AAAA", "2001:db8::aaaa"),
            ("::ffff:192.0.2.128", "::ffff:192.0.2.128"),
            ("0:0:0:0:0:ffff:c000:0280", "::ffff:192.0.2.128"),
        ])
    func canonical(input: String, expected: String) throws {
        #expect(try IPv6Address(parsing: input).description == expected)
    }
}
