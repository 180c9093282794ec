import Foundation
import SkiffNet
import Testing

/// Compares SkiffNet with Python's `ipaddress` module over thousands of generated inputs.
@Suite("Differential: SkiffNet against Python's ipaddress")
struct DifferentialTests {
    /// A small deterministic generator, so a failure can be reproduced.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let oracle = """
        import ipaddress, sys
        out = []
        for line in sys.stdin.read().split("\\n"):
            if not line:
                continue
            kind, _, text = line.partition("\\t")
            try:
                if kind == "a6":
                    a = ipaddress.IPv6Address(text)
                    c = "::ffff:" + str(a.ipv4_mapped) if a.ipv4_mapped and not a.scope_id else str(a)
                    out.append("ok\\t" + c + "\\t" + a.exploded)
                elif kind == "a4":
                    a = ipaddress.IPv4Address(text)
                    out.append("ok\\t" + str(a) + "\\t" + a.exploded)
                else:
                    net_text, new_len, index, probe = text.split(" ")
                    n = ipaddress.ip_network(net_text)
                    sub = next(iter(__import__("itertools").islice(n.subnets(new_prefix=int(new_len)), int(index), None)))
                    inside = ipaddress.ip_address(probe) in n
                    out.append("ok\\t%s %s %s %s %s" % (n, n.network_address, n.broadcast_address, sub, int(inside)))
            except ValueError:
                out.append("err")
        sys.stdout.write("\\n".join(out) + "\\n")
        """

    static func runOracle(_ lines: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", oracle]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread {
            input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    /// Writes `address` in one of the many spellings RFC 4291 allows.
    static func spell(_ address: IPv6Address, _ rng: inout SplitMix64) -> String {
        let groups = address.groups
        var parts = groups.map { group -> String in
            let hex = String(group, radix: 16)
            switch rng.next() % 3 {
            case 0: return hex
            case 1: return String(repeating: "0", count: 4 - hex.count) + hex
            default: return Bool.random(using: &rng) ? hex.uppercased() : hex
            }
        }
        if rng.next() % 4 == 0 {
            let v4 = IPv4Address(UInt32(groups[6]) << 16 | UInt32(groups[7]))
            parts.replaceSubrange(6..<8, with: [v4.description])
        }
        let zeroRuns = (0..<parts.count).filter { groups[$0] == 0 && !parts[$0].contains(".") }
        if let start = zeroRuns.randomElement(using: &rng), rng.next() % 3 != 0 {
            var end = start
            while end + 1 < parts.count, groups[end + 1] == 0, !parts[end + 1].contains(".") { end += 1 }
            let head = parts[..<start].joined(separator: ":")
            let tail = parts[(end + 1)...].joined(separator: ":")
            return head + "::" + tail
        }
        return parts.joined(separator: ":")
    }

    static func randomIPv6(_ rng: inout SplitMix64) -> IPv6Address {
        switch rng.next() % 5 {
        case 0: return IPv6Address(ipv4Mapped: IPv4Address(UInt32(truncatingIfNeeded: rng.next())))
        case 1: return IPv6Address(bits: UInt128(rng.next()) << 64 | UInt128(rng.next()))
        default:
            return IPv6Address(
                groups: (0..<8).map { _ in rng.next() % 2 == 0 ? 0 : UInt16(truncatingIfNeeded: rng.next() % 0x1_0000) }
            )
        }
    }

    static func mutate(_ text: String, _ rng: inout SplitMix64) -> String {
        switch rng.next() % 7 {
        case 0: return text + ":1"
        case 1:
            return text.contains("::")
                ? text + "::" : "1::" + text.replacingOccurrences(of: ":", with: ":", options: [])
        case 2: return "12345:" + text
        case 3: return text.replacingOccurrences(of: "0", with: "g")
        case 4: return ":" + text
        case 5: return text + "%"
        default: return text.replacingOccurrences(of: ":", with: ":::")
        }
    }

    @Test("addresses: validity, canonical and expanded text agree with Python")
    func addresses() throws {
        var rng = SplitMix64(state: 0x5EED_1234)
        var lines: [String] = []
        for _ in 0..<3000 {
            let address = Self.randomIPv6(&rng)
            let text = Self.spell(address, &rng)
            lines.append("a6\t" + text)
            if rng.next() % 3 == 0 { lines.append("a6\t" + Self.mutate(text, &rng)) }
        }
        for _ in 0..<800 {
            let v4 = IPv4Address(UInt32(truncatingIfNeeded: rng.next()))
            var text = v4.description
            switch rng.next() % 6 {
            case 0: text = "0" + text
            case 1: text += ".1"
            case 2: text = text.replacingOccurrences(of: ".", with: "..")
            case 3: text += "0"
            default: break
            }
            lines.append("a4\t" + text)
        }
        let answers = try Self.runOracle(lines)
        try #require(answers.count == lines.count)
        var checked = 0
        for (line, answer) in zip(lines, answers) {
            let kind = line.prefix(2)
            let text = String(line.dropFirst(3))
            let ours: String
            if kind == "a6" {
                ours = (try? IPv6Address(parsing: text)).map { "ok\t\($0)\t\($0.expanded)" } ?? "err"
            } else {
                ours = (try? IPv4Address(parsing: text)).map { "ok\t\($0)\t\($0)" } ?? "err"
            }
            #expect(ours == answer, "input \(text)")
            checked += 1
        }
        #expect(checked > 4000)
    }

    @Test("prefixes: validity, bounds, subnet carving and membership agree with Python")
    func prefixes() throws {
        var rng = SplitMix64(state: 0xC1D2_0056)
        var lines: [String] = []
        for index in 0..<1500 {
            let v6 = index % 2 == 0
            let width: UInt64 = v6 ? 128 : 32
            let length = Int(rng.next() % (width + 1))
            let bits =
                v6 ? UInt128(rng.next()) << 64 | UInt128(rng.next()) : UInt128(UInt32(truncatingIfNeeded: rng.next()))
            let keepHostBits = rng.next() % 5 == 0
            let shift = Int(width) - length
            let networkBits = keepHostBits || shift == 0 ? bits : (shift >= 128 ? 0 : (bits >> shift) << shift)
            let newLength = length + Int(rng.next() % UInt64(min(Int(width) - length, 8) + 1))
            let maxIndex = UInt64(1) << UInt64(newLength - length)
            let subIndex = rng.next() % min(maxIndex, 40)
            let probe =
                v6
                ? IPAddress.v6(IPv6Address(bits: networkBits ^ UInt128(rng.next() % 4096)))
                : IPAddress.v4(IPv4Address(bits: networkBits ^ UInt128(rng.next() % 4096)))
            let address = v6 ? "\(IPv6Address(bits: networkBits))" : "\(IPv4Address(bits: networkBits))"
            lines.append("p\t\(address)/\(length) \(newLength) \(subIndex) \(probe)")
        }
        let answers = try Self.runOracle(lines)
        try #require(answers.count == lines.count)
        for (line, answer) in zip(lines, answers) {
            let fields = line.dropFirst(2).split(separator: " ").map(String.init)
            let newLength = try #require(Int(fields[1]))
            let subIndex = try #require(UInt128(fields[2]))
            let ours: String
            do {
                switch try IPPrefix(parsing: fields[0]) {
                case .v4(let network):
                    let sub = try network.subnet(length: newLength, index: subIndex)
                    let inside = IPPrefix.v4(network).contains(try IPAddress(parsing: fields[3]))
                    ours = "ok\t\(network) \(network.first) \(network.last) \(sub) \(inside ? 1 : 0)"
                case .v6(let network):
                    let sub = try network.subnet(length: newLength, index: subIndex)
                    let inside = IPPrefix.v6(network).contains(try IPAddress(parsing: fields[3]))
                    ours = "ok\t\(network) \(network.first) \(network.last) \(sub) \(inside ? 1 : 0)"
                }
            } catch {
                ours = "err"
            }
            #expect(ours == answer, "input \(line)")
        }
    }
}
