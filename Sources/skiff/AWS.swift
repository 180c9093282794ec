import ArgumentParser
import Foundation
import SkiffAWS

/// `skiff aws`: provision and remove the IPv6 network on EC2 that a create-env deployment uses.
struct AWS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws",
        abstract: "Create and delete the IPv6 network (VPC, /64 subnet, gateway, routes, security group) on EC2.",
        discussion: """
            Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials; \
            the region from --region, AWS_REGION, AWS_DEFAULT_REGION or the profile; the endpoint from \
            AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL or the profile's ec2_endpoint.
            """,
        subcommands: [AWSUp.self, AWSDown.self]
    )
}

/// Flags every `skiff aws` subcommand shares.
struct AWSOptions: ParsableArguments {
    @Option(help: "The environment name; every resource is tagged skiff:env=NAME.")
    var name: String

    @Option(help: "The AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's region).")
    var region: String?

    @Option(help: "The AWS profile in ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE or default).")
    var profile: String?

    /// Resolves settings and builds a client that counts its calls.
    func client(counter: EC2CallCounter) throws -> EC2Client {
        let settings = try AWSSettings.resolve(region: region, profile: profile)
        let debug = ProcessInfo.processInfo.environment["SKIFF_DEBUG"].map { !$0.isEmpty && $0 != "0" } ?? false
        if debug { printError("skiff: debug: \(settings)") }
        return EC2Client(
            settings: settings,
            observer: { record in
                counter.observe(record)
                if debug {
                    let ms = record.duration / .milliseconds(1)
                    let outcome = record.errorCode.map { " \($0)" } ?? ""
                    printError(
                        "skiff: debug: \(record.action) try \(record.attempt): "
                            + "HTTP \(record.status.map(String.init) ?? "-")\(outcome) in \(Int(ms)) ms")
                }
            })
    }
}

/// Prints `skiff: <what>: N EC2 calls (M mutating) in T s` on stderr.
func reportCalls(_ what: String, counter: EC2CallCounter, since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    printError(
        "skiff: \(what): \(counter.total) EC2 calls (\(counter.mutating) mutating) in "
            + String(format: "%.2f s", seconds))
}
