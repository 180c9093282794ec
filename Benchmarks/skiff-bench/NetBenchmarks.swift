import SkiffNet

/// Addresses in several spellings, made once, so parsing is what is measured.
private let sampleAddresses: [String] = (0..<100_000).map { index in
    let n = UInt32(truncatingIfNeeded: index &* 2_654_435_761)
    switch index % 4 {
    case 0: return "2600:1f16:a62:5c00::\(String(n & 0xffff, radix: 16))"
    case 1: return "2600:1F16:0A62:5C00:0000:\(String(n >> 16, radix: 16)):0:\(String(n & 0xffff, radix: 16))"
    case 2: return "::ffff:\(n >> 24).\(n >> 16 & 0xff).\(n >> 8 & 0xff).\(n & 0xff)"
    default: return "\(n >> 24).\(n >> 16 & 0xff).\(n >> 8 & 0xff).\(n & 0xff)"
    }
}

let netBenchmarks: [Benchmark] = [
    Benchmark(name: "net.parse-canonical", summary: "parse 100k addresses and print them canonically", iterations: 5) {
        var bytes = 0
        for text in sampleAddresses {
            bytes += try IPAddress(parsing: text).description.utf8.count
        }
        if bytes == 0 { throw BenchmarkError("no output") }
        return sampleAddresses.count
    },
    Benchmark(name: "net.carve-64s", summary: "carve all 65,536 /64s of a /48", iterations: 5) {
        let network = try IPv6Network(parsing: "2600:1f16:a62::/48")
        var count = 0
        for subnet in try network.subnets(length: 64) where subnet.length == 64 { count += 1 }
        return count
    },
]
