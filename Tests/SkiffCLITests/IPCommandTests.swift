import Testing

@Suite("skiff ip")
struct IPCommandTests {
    @Test func canonicalKeepsOrder() throws {
        let result = try SkiffProcess.run([
            "ip", "canonical", "2001:DB8:0:0:0:0:2:1", "10.0.0.7", "::FFFF:192.0.2.128", "fe80::0001%eth0",
        ])
        #expect(result.status == 0)
        #expect(result.stdout == "2001:db8::2:1\n10.0.0.7\n::ffff:192.0.2.128\nfe80::1%eth0\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func expand() throws {
        let result = try SkiffProcess.run(["ip", "expand", "2600:1f16:a62:5c00::4", "::"])
        #expect(result.status == 0)
        #expect(result.stdout == "2600:1f16:0a62:5c00:0000:0000:0000:0004\n0000:0000:0000:0000:0000:0000:0000:0000\n")
    }

    @Test func subnets() throws {
        let first = try SkiffProcess.run(["ip", "subnets", "2600:1f16:a62:5c00::/56", "--length", "64", "--count", "2"])
        #expect(first.stdout == "2600:1f16:a62:5c00::/64\n2600:1f16:a62:5c01::/64\n")
        let all = try SkiffProcess.run(["ip", "subnets", "10.0.0.0/23", "--length", "24"])
        #expect(all.stdout == "10.0.0.0/24\n10.0.1.0/24\n")
        let many = try SkiffProcess.run(["ip", "subnets", "2600:1f16:a62:5c00::/56", "--length", "64"])
        #expect(many.stdout.split(separator: "\n").count == 256)
    }

    @Test func reserved() throws {
        let result = try SkiffProcess.run(["ip", "reserved", "2600:1f16:a62:5c00::/64", "--cloud", "aws"])
        #expect(result.status == 0)
        #expect(
            result.stdout == """
                2600:1f16:a62:5c00::
                2600:1f16:a62:5c00::1
                2600:1f16:a62:5c00::2
                2600:1f16:a62:5c00::3
                2600:1f16:a62:5c00:ffff:ffff:ffff:ffff

                """)
    }

    @Test func contains() throws {
        #expect(
            try SkiffProcess.run(["ip", "contains", "2600:1f16:a62:5c00::/64", "2600:1f16:a62:5c00::4"]).status == 0)
        let outside = try SkiffProcess.run(["ip", "contains", "2600:1f16:a62:5c00::/64", "2600:1f16:a62:5c01::4"])
        #expect(outside.status == 1)
        #expect(outside.stdout.isEmpty && outside.stderr.isEmpty)
        #expect(try SkiffProcess.run(["ip", "contains", "10.0.0.0/8", "::1"]).status == 1)
    }

    @Test(
        "bad input: exit 1, one stderr line naming the input, nothing on stdout",
        arguments: [
            (["ip", "canonical", "2600::1::2"], "'2600::1::2'"),
            (["ip", "canonical", "::1", "1:2:3:4:5:6:7:8:9"], "'1:2:3:4:5:6:7:8:9'"),
            (["ip", "expand", "12345::"], "'12345::'"),
            (["ip", "canonical", "::ffff:1.2.3"], "'::ffff:1.2.3'"),
            (["ip", "canonical", "010.1.1.1"], "'010.1.1.1'"),
            (["ip", "subnets", "::/129", "--length", "64"], "'::/129'"),
            (["ip", "subnets", "2600::/56", "--length", "48"], "/48"),
            (["ip", "subnets", "2600::1/56", "--length", "64"], "host bits"),
            (["ip", "reserved", "10.0.0.0/33", "--cloud", "aws"], "'10.0.0.0/33'"),
            (["ip", "contains", "10.0.0.0/8", "10.0.0.256"], "'10.0.0.256'"),
            (["ip", "contains", "banana", "10.0.0.1"], "'banana'"),
        ])
    func badInput(arguments: [String], mention: String) throws {
        let result = try SkiffProcess.run(arguments)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.contains(mention))
    }

    @Test func versionAndHelp() throws {
        let version = try SkiffProcess.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("0."))
        let help = try SkiffProcess.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("ip"))
    }
}
