import ArgumentParser
import SkiffNet

/// `skiff ip expand`: eight four-digit groups for each IPv6 address.
struct IPExpand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expand",
        abstract: "Print each address fully expanded (eight groups of four hex digits), one per line, in order."
    )

    @Argument(help: "Addresses, IPv4 or IPv6 (IPv4 prints as dotted decimal).")
    var addresses: [String]

    func run() async throws {
        let lines = try await reportingErrors { try addresses.map { try AnyAddressText(parsing: $0).expanded } }
        print(lines.joined(separator: "\n"))
    }
}

/// An address as typed on the command line: either family, an IPv6 one with an optional zone.
struct AnyAddressText {
    let canonical: String
    let expanded: String

    init(parsing text: String) throws {
        if text.contains(":") {
            let zoned = try ZonedIPv6Address(parsing: text)
            canonical = zoned.description
            expanded = zoned.expanded
        } else {
            let address = try IPAddress(parsing: text)
            canonical = address.description
            expanded = address.expanded
        }
    }
}
