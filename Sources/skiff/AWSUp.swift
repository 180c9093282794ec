import ArgumentParser
import Foundation
import SkiffAWS
import SkiffCore

/// `skiff aws up`: create (or converge) the IPv6 network and write the manifest vars.
struct AWSUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create the IPv6 network on EC2, or find it again by tags, and print the manifest vars.",
        discussion: """
            Makes a VPC with an Amazon-provided IPv6 /56, a dual-stack subnet (/24 and the first /64), an internet \
            gateway, a route table with 0.0.0.0/0 and ::/0, and a security group. Running it again creates nothing \
            new. The vars (region, az, subnet_id, security_group, internal_cidr, internal_gw, internal_ip, \
            ipv6_cidr, ipv6_address, ipv6_gw) go to stdout or --vars-out, for create-env -l.
            """
    )

    @OptionGroup var options: AWSOptions

    @Option(help: "The availability zone (default: the region's first available zone).")
    var az: String?

    @Option(help: "Inbound TCP ports, e.g. 22,80,443,6868 (the default) or 8000-8080, or 'all' for everything.")
    var ingress: String = "22,80,443,6868"

    @Flag(help: "Print what would be created; make no change.")
    var dryRun = false

    @Option(help: "Write the vars to FILE (mode 0600) instead of stdout.")
    var varsOut: String?

    func run() async throws {
        try await reportingErrors {
            let start = ContinuousClock.now
            let spec = try NetworkEnvironmentSpec(
                name: options.name, zone: az, ingress: try IngressRules(parsing: ingress))
            let counter = EC2CallCounter()
            let environment = NetworkEnvironment(client: try options.client(counter: counter), spec: spec)
            if dryRun {
                let result = try await environment.up(dryRun: true)
                print(result.steps.map(\.description).joined(separator: "\n"))
                printError("skiff: dry run; nothing was changed")
                reportCalls("aws up --dry-run", counter: counter, since: start)
                return
            }
            let result = try await environment.up { printError($0.description) }
            guard let vars = result.vars else {
                throw NetworkEnvironmentError("environment '\(spec.name)' is incomplete; run skiff aws up again")
            }
            if let varsOut {
                try AtomicFile.write(vars.yaml, to: varsOut, mode: 0o600)
                printError("skiff: wrote \(varsOut)")
            } else {
                print(vars.yaml, terminator: "")
            }
            reportCalls("aws up \(spec.name)", counter: counter, since: start)
        }
    }
}
