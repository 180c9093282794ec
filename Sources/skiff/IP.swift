import ArgumentParser

/// `skiff ip`: the address toolkit, for manifest authors and scripts.
struct IP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Canonicalise, expand and carve IPv4 and IPv6 addresses and prefixes.",
        subcommands: [IPCanonical.self, IPExpand.self, IPSubnets.self, IPReserved.self, IPContains.self]
    )
}

/// A cloud whose reserved-address rules `skiff ip reserved` knows.
enum CloudRules: String, ExpressibleByArgument, CaseIterable {
    case aws
}
