import Foundation
import SkiffTestSupport

/// A private copy of the nginx example for one test: its own addresses (slot N gives 10.245.N.0/24 and
/// fd53:6b69:6666:N::/64), its own local-cloud state folder, state file and vars store, removed afterwards.
struct Environment {
    static var canRunLocalCloud: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap")
    }

    let slot: Int
    let directory: URL
    let manifest: URL
    var stateFile: URL { directory.appendingPathComponent("local-state.json") }
    var cloudState: URL { directory.appendingPathComponent("cloud") }

    /// Which agent the example's VM runs.
    enum Agent {
        /// skiff's own, in the `skiff://local` stemcell.
        case skiff
        /// The real bosh-agent of `SKIFF_BOSH_AGENT`, in a stemcell built with it (``RealAgent/stemcell``).
        case bosh
    }

    init(slot: Int, agent: Agent = .skiff) throws {
        self.slot = slot
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-e2e-\(slot)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let example = Self.repository.appendingPathComponent("examples/nginx-ipv6")
        var text = try String(contentsOf: example.appendingPathComponent("local.yml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "10.245.0.", with: "10.245.\(slot).")
            .replacingOccurrences(of: "fd53:6b69:6666:1::", with: "fd53:6b69:6666:\(slot)::")
            .replacingOccurrences(of: "url: file://release", with: "url: file://\(example.path)/release")
            .replacingOccurrences(of: "state_dir: /var/lib/skiff/local", with: "state_dir: \(directory.path)/cloud")
        if agent == .bosh {
            text = text.replacingOccurrences(
                of: "url: skiff://local", with: "url: file://" + (try RealAgent.stemcell.get()))
        }
        manifest = directory.appendingPathComponent("local.yml")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
    }

    static var repository: URL { TestProcess.repository }

    /// Runs the built `skiff`.
    func skiff(_ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extraEnvironment) { $1 }
        return try TestProcess.run(Self.skiffBinary.path, arguments, environment: environment)
    }

    /// The local network's DHCPv6 server log (dnsmasq's, with `log-dhcp`).
    func dhcpLog() throws -> String {
        try String(
            contentsOf: cloudState.appendingPathComponent("networks/default/dnsmasq.log"), encoding: .utf8)
    }

    /// Whether the DHCPv6 server's log shows `text` within 3 s (dnsmasq writes it a moment after the packet).
    func dhcpLog(eventually text: String) throws -> Bool {
        for _ in 0..<60 {
            if try dhcpLog().contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// What the local cloud still has: VM, network, disk and stemcell records, and their kernel objects.
    func leftovers() throws -> [String] {
        var found: [String] = []
        for kind in ["vms", "networks", "disks", "stemcells"] {
            let folder = cloudState.appendingPathComponent(kind)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
                found.append("\(kind)/\(entry)")
            }
        }
        let routes = try Self.run("/usr/sbin/ip", ["-6", "route", "show"]).stdout
        if routes.contains("fd53:6b69:6666:\(slot)::") { found.append("route to fd53:6b69:6666:\(slot)::/64") }
        let v4 = try Self.run("/usr/sbin/ip", ["-4", "route", "show"]).stdout
        if v4.contains("10.245.\(slot).0/24") { found.append("route to 10.245.\(slot).0/24") }
        return found
    }

    /// Removes whatever a failed test left: delete-env with --force, then the local cloud's prune, then the folder.
    func tearDown() {
        _ = try? skiff(["delete-env", "--force", manifest.path])
        _ = try? skiff(["local", "prune", "--state-dir", cloudState.path])
        try? FileManager.default.removeItem(at: directory)
    }

    static var skiffBinary: URL { TestProcess.skiffBinary }

    static func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try TestProcess.run(executable, arguments)
    }
}
