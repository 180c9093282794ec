import Foundation
import SkiffCloud

/// The local cloud's built-in stemcell (`skiff://local` in a manifest), kept in code so that any `skiff`
/// binary can deploy without the repository beside it. `stemcells/local/` in the repository holds the same files.
public enum LocalStemcellSource {
    /// `stemcell.MF`.
    static let manifest = """
        ---
        name: bosh-skiff-local-debian-go_agent
        version: '0.1.0'
        bosh_protocol: 1
        api_version: 2
        operating_system: debian-bookworm
        stemcell_formats:
        - skiff-local
        cloud_properties:
          name: bosh-skiff-local-debian-go_agent
          version: '0.1.0'
          infrastructure: skiff-local
          architecture: x86_64

        """

    /// The files of `image/`, by path.
    static let imageFiles: [(path: String, content: String)] = [
        (
            "skiff-image.json",
            """
            {
              "format": "skiff-local",
              "agent": {
                "command": ["skiff", "agent", "--settings", "/var/vcap/bosh/settings.json"]
              }
            }

            """
        ),
        (
            "root/etc/sysctl.d/60-skiff-disable-ipv6.conf",
            """
            # Hardened BOSH stemcells boot with IPv6 off; a job (enable_ipv6) turns it on.
            net.ipv6.conf.all.disable_ipv6 = 1
            net.ipv6.conf.default.disable_ipv6 = 1
            # Every address on the local cloud's private bridge is handed out by its DHCPv6 server, so duplicate
            # address detection and the random delay before the first router solicitation only slow the boot.
            net.ipv6.conf.all.accept_dad = 0
            net.ipv6.conf.default.accept_dad = 0
            net.ipv6.conf.eth0.accept_dad = 0
            net.ipv6.conf.all.router_solicitation_delay = 0
            net.ipv6.conf.default.router_solicitation_delay = 0
            net.ipv6.conf.eth0.router_solicitation_delay = 0

            """
        ),
        (
            "root/var/vcap/bosh/README",
            "The agent's home inside a skiff local VM: settings.json (written by the CPI, 0600) and log/.\n"
        ),
    ]

    /// Writes the stemcell as a directory (`stemcell.MF` beside an `image/` directory) at `directory`.
    public static func write(to directory: String) throws(CloudError) {
        do {
            let root = URL(fileURLWithPath: directory)
            try? FileManager.default.removeItem(at: root)
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try Data(manifest.utf8).write(to: root.appendingPathComponent("stemcell.MF"))
            for file in imageFiles {
                let url = root.appendingPathComponent("image/" + file.path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.content.utf8).write(to: url)
            }
        } catch {
            throw CloudError.cloud(
                "cannot write the built-in stemcell to '\(directory)': \(error.localizedDescription)")
        }
    }
}
