import ArgumentParser
import SkiffNet

/// `skiff ip reserved`: the addresses a cloud keeps for itself in a subnet.
struct IPReserved: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reserved",
        abstract: "Print the addresses a cloud reserves in a subnet, ascending, one per line."
    )

    @Argument(help: "The subnet, e.g. 10.0.0.0/24 or 2600:1f16:a62:5c00::/64.")
    var subnet: String

    @Option(help: "The cloud whose rules apply.")
    var cloud: CloudRules

    func run() async throws {
        let policy: ReservationPolicy =
            switch cloud {
            case .aws: .aws
            }
        let lines = try await reportingErrors {
            switch try IPPrefix(parsing: subnet) {
            case .v4(let network): policy.reserved(in: network).map(\.description)
            case .v6(let network): policy.reserved(in: network).map(\.description)
            }
        }
        print(lines.joined(separator: "\n"))
    }
}
