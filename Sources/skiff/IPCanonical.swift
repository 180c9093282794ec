import ArgumentParser
import SkiffNet

/// `skiff ip canonical`: RFC 5952 text for each address.
struct IPCanonical: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canonical",
        abstract: "Print each address in canonical form (RFC 5952 for IPv6), one per line, in order."
    )

    @Argument(help: "Addresses, IPv4 or IPv6 (a zone such as %eth0 is kept).")
    var addresses: [String]

    func run() async throws {
        let lines = try await reportingErrors { try addresses.map { try AnyAddressText(parsing: $0).canonical } }
        print(lines.joined(separator: "\n"))
    }
}
