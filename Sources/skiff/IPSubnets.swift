import ArgumentParser
import SkiffNet

/// `skiff ip subnets`: carve a prefix into subnets of one length.
struct IPSubnets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subnets",
        abstract: "Print the subnets of a given length inside a prefix, one CIDR per line.",
        discussion: "Example: skiff ip subnets 2600:1f16:a62:5c00::/56 --length 64 --count 4"
    )

    @Argument(help: "The prefix to carve, e.g. 2600:1f16:a62:5c00::/56.")
    var prefix: String

    @Option(help: "The length of each subnet, e.g. 64.")
    var length: Int

    @Option(help: "How many subnets to print, from the first (default: all).")
    var count: UInt64?

    func run() async throws {
        try await reportingErrors {
            if let count, count == 0 { return }
            switch try IPPrefix(parsing: prefix) {
            case .v4(let network): try emit(network)
            case .v6(let network): try emit(network)
            }
        }
    }

    private func emit<A>(_ network: IPNetwork<A>) throws {
        var remaining: UInt128? = count.map { UInt128($0) }
        var buffer = ""
        for subnet in try network.subnets(length: length) {
            if let left = remaining {
                if left == 0 { break }
                remaining = left - 1
            }
            buffer += subnet.description
            buffer += "\n"
            if buffer.utf8.count > 1 << 16 {
                print(buffer, terminator: "")
                buffer = ""
            }
        }
        print(buffer, terminator: "")
    }
}
