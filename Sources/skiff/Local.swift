import ArgumentParser
import SkiffCloud
import SkiffLocalCloud

/// `skiff local`: operate the local IPv6 cloud outside the CPI protocol.
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Manage the local IPv6 cloud (network namespaces, bridges, dnsmasq) on this machine.",
        subcommands: [LocalPrune.self, LocalMetadataServer.self]
    )
}

/// `skiff local prune`: remove everything the local cloud ever made.
struct LocalPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove every VM, network, disk and stemcell the local cloud made, and its state directory."
    )

    @Option(help: "The state directory (default: the config's state_dir, else /var/lib/skiff/local).")
    var stateDir: String?

    @Option(help: "The local cloud's YAML config file.")
    var config: String?

    func run() async throws {
        let removed = try await reportingErrors {
            var settings =
                try config.map { file throws(CloudError) in try LocalCloudConfig(file: file) } ?? LocalCloudConfig()
            if let stateDir { settings.stateDirectory = stateDir }
            return try await LocalCloud(config: settings).prune()
        }
        for line in removed { print("removed \(line)") }
    }
}

/// `skiff local metadata-server`: a local VM's instance metadata service (started by the local cloud in the VM's
/// network namespace; not for people).
struct LocalMetadataServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata-server",
        abstract: "Serve a local VM's instance metadata on 169.254.169.254:80 (run by the local cloud).",
        shouldDisplay: false
    )

    @Option(help: "The VM's metadata folder (user-data, instance-id, public-key); server.pid is written there.")
    var directory: String

    func run() throws {
        do {
            let server = try InstanceMetadataServer.start(directory: directory)
            server.serve()
        } catch {
            printError("skiff local metadata-server: \(error.message)")
            throw ExitCode.failure
        }
    }
}
