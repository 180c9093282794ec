import ArgumentParser
import SkiffNet

/// `skiff ip contains`: exit status 0 when the address is inside the prefix, 1 when not.
struct IPContains: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contains",
        abstract: "Exit 0 if the address is inside the prefix, 1 if it is not.",
        discussion: "Prints nothing on success or on a plain 'no'; bad input prints one line on stderr."
    )

    @Argument(help: "The prefix, e.g. 2600:1f16:a62:5c00::/64.")
    var prefix: String

    @Argument(help: "The address, e.g. 2600:1f16:a62:5c00::4.")
    var address: String

    func run() async throws {
        let inside = try await reportingErrors {
            try IPPrefix(parsing: prefix).contains(IPAddress(parsing: address))
        }
        if !inside { throw ExitCode.failure }
    }
}
