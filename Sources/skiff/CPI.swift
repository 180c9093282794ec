import ArgumentParser
import Foundation
import SkiffCloud
import SkiffLocalCloud

/// `skiff cpi`: skiff's built-in CPIs, each run as an external CPI executable (one request per process).
///
/// A CPI subcommand reads one JSON request on stdin and writes one JSON response on stdout, like the
/// `bosh-*-cpi` executables, so the BOSH CLI itself could drive it. Add a cloud by adding a subcommand whose
/// `run()` calls ``CPIExecutable/serve(_:)`` with its ``CloudProvider``.
struct CPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpi",
        abstract: "Run a built-in CPI: one JSON request on stdin, one JSON response on stdout.",
        subcommands: [CPILocal.self, CPIAWS.self]
    )
}

/// The external-CPI process protocol shared by every `skiff cpi` subcommand.
enum CPIExecutable {
    /// Reads the request from stdin, has `provider` answer it, writes the response to stdout.
    static func serve(_ provider: any CloudProvider) async {
        let request = FileHandle.standardInput.readDataToEndOfFile()
        let response = await CPIDispatcher(provider: provider).handle(request)
        write(response)
    }

    /// Answers with `error` without reading a provider (e.g. the CPI's configuration is broken).
    static func fail(_ error: CloudError) {
        _ = FileHandle.standardInput.readDataToEndOfFile()
        write(CPIResponse(error: error).encoded())
    }

    private static func write(_ data: Data) {
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

/// `skiff cpi local`: the local cloud (network namespaces, bridges, DHCPv6) as an external CPI.
struct CPILocal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "The local IPv6 cloud's CPI: network namespaces on this machine, DHCPv6 by dnsmasq.",
        discussion: """
            The config file is YAML; 'state_dir' names the state directory (default /var/lib/skiff/local), \
            'agent_command' overrides the agent the stemcell names, 'mbus' and 'ntp' go into agent settings. \
            Unknown keys are ignored. Needs root, iproute2 and dnsmasq-base.
            """
    )

    @Option(help: "The local cloud's YAML config file.")
    var config: String?

    func run() async throws {
        let settings: LocalCloudConfig
        do {
            settings =
                try config.map { file throws(CloudError) in try LocalCloudConfig(file: file) } ?? LocalCloudConfig()
        } catch {
            CPIExecutable.fail(error)
            return
        }
        await CPIExecutable.serve(LocalCloud(config: settings))
    }
}
