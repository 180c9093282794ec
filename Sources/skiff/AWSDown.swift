import ArgumentParser
import Foundation
import SkiffAWS

/// `skiff aws down`: delete what `skiff aws up` made.
struct AWSDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Delete the IPv6 network `skiff aws up` made, found by its tags; parts already gone are fine.",
        discussion: """
            Deletes the security group, subnet, route table and internet gateway, then the VPC, retrying while AWS \
            still reports dependencies. Refuses while instances run in the VPC (run skiff delete-env first).
            """
    )

    @OptionGroup var options: AWSOptions

    @Flag(help: "Print what would be deleted; make no change.")
    var dryRun = false

    func run() async throws {
        try await reportingErrors {
            let start = ContinuousClock.now
            let spec = try NetworkEnvironmentSpec(name: options.name)
            let counter = EC2CallCounter()
            let environment = NetworkEnvironment(client: try options.client(counter: counter), spec: spec)
            let steps = try await environment.down(dryRun: dryRun) { printError($0.description) }
            if dryRun {
                print(steps.map(\.description).joined(separator: "\n"))
                printError("skiff: dry run; nothing was changed")
            } else if steps.isEmpty {
                printError("skiff: nothing tagged \(NetworkEnvironmentSpec.envTag)=\(spec.name) was found")
            }
            reportCalls("aws down \(spec.name)", counter: counter, since: start)
        }
    }
}
