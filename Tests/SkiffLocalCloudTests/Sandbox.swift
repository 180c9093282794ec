import Foundation
import SkiffCloud
import SkiffLocalCloud
import SkiffNet
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// True when the tests may create namespaces and bridges.
let isRoot = geteuid() == 0

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Runs a host command and returns its stdout; the test fails if it fails.
@discardableResult
func sh(_ script: String) async throws -> String {
    let output = try await ProcessRunner.run("/bin/sh", ["-c", script])
    guard output.status == 0 else {
        throw CloudError.cloud("'\(script)' failed (\(output.status)): \(output.stderrText)")
    }
    return output.stdoutText
}

/// What the host looks like, in the parts the local cloud may touch.
struct HostSnapshot: Equatable, CustomStringConvertible {
    var namespaces: [String]
    var links: [String]
    var routes6: [String]
    var routes4: [String]
    var sysctlD: [String]
    var dnsmasqs: [String]
    var varVcap: Bool

    static func take() async throws -> HostSnapshot {
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.sorted()
        }
        let sysctl = try await sh("cd /etc/sysctl.d && for f in $(ls -A); do echo \"$f $(cksum < $f)\"; done")
        let dnsmasq = try await sh(
            "for p in $(pgrep -x dnsmasq); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done || true")
        return HostSnapshot(
            namespaces: lines(try await sh("ip netns list | awk '{print $1}'")).filter { $0.hasPrefix("skiff") },
            links: lines(try await sh("ip -o link show | awk -F': ' '{print $2}'")).filter { $0.hasPrefix("skiff") },
            routes6: lines(try await sh("ip -6 route show table all")).filter { $0.contains("skiff") },
            routes4: lines(try await sh("ip -4 route show table all")).filter { $0.contains("skiff") },
            sysctlD: lines(sysctl),
            dnsmasqs: lines(dnsmasq).filter { $0.contains("skiff") },
            varVcap: FileManager.default.fileExists(atPath: "/var/vcap"))
    }

    /// Equal in what the given local cloud can have made: namespaces and links named with its tag or its
    /// network's bridge, routes on those, dnsmasq serving its state directory; and /etc/sysctl.d and /var/vcap.
    /// Other local clouds at work on this shared host (other test runs, other tools) are left out.
    func same(as other: HostSnapshot, cloud: LocalCloud, network: String) -> Bool {
        let names = ["skiff-vm-" + cloud.nameTag, "skiffv" + cloud.nameTag, cloud.bridgeName(network: network)]
        func mine(_ lines: [String]) -> [String] { lines.filter { line in names.contains { line.contains($0) } } }
        func served(_ lines: [String]) -> [String] { lines.filter { $0.contains(cloud.config.stateDirectory + "/") } }
        return mine(namespaces) == mine(other.namespaces) && mine(links) == mine(other.links)
            && mine(routes6) == mine(other.routes6) && mine(routes4) == mine(other.routes4)
            && served(dnsmasqs) == served(other.dnsmasqs) && sysctlD == other.sysctlD && varVcap == other.varVcap
    }

    var description: String {
        "netns \(namespaces) links \(links) routes \(routes6 + routes4) dnsmasq \(dnsmasqs) /var/vcap \(varVcap) "
            + "sysctl.d \(sysctlD)"
    }
}

/// One test's private local cloud: its own state directory, network name and subnets; everything it made is pruned
/// afterwards, even when the test failed midway, and the host is checked to be as before.
struct Sandbox {
    let id: String
    let cloud: LocalCloud
    let stateDirectory: String
    let network: String
    let subnet6: IPv6Network
    let subnet4: IPv4Network
    var stemcell: String = ""

    static let agentCommand = [
        "/bin/sh", "-c",
        "echo \"$$ $(cat /proc/sys/net/ipv6/conf/all/disable_ipv6)\" > /var/vcap/bosh/agent-started; "
            + "exec sleep infinity",
    ]

    init(stateDirectory: String? = nil) throws {
        id = String(format: "%06x", Int.random(in: 0..<0xffffff))
        let directory = stateDirectory ?? "/tmp/skiff-test-\(id)"
        self.stateDirectory = directory
        network = "skifft\(id)"
        let random = UInt128.random(in: 0...UInt128(0xff_ffff_ffff))
        subnet6 = try IPv6Network(address: IPv6Address(bits: (UInt128(0xfd) << 120) | (random << 80)), length: 64)
        let second = UInt32.random(in: 0...255)
        let third = UInt32.random(in: 0...255)
        subnet4 = try IPv4Network(address: IPv4Address(bits: UInt128(10 << 24 | second << 16 | third << 8)), length: 24)
        cloud = LocalCloud(
            config: LocalCloudConfig(
                stateDirectory: directory, agentCommand: Self.agentCommand,
                mbus: "https://mbus:secret-\(id)@0.0.0.0:6868"))
    }

    /// Runs `body` with a sandbox whose stemcell is imported; prunes and checks the host afterwards.
    static func with(_ body: (inout Sandbox) async throws -> Void) async throws {
        var sandbox = try Sandbox()
        let before = try await HostSnapshot.take()
        var failure: (any Error)?
        do {
            sandbox.stemcell = try await sandbox.cloud.createStemcell(
                imagePath: try await testStemcellImage(), cloudProperties: [:])
            try await body(&sandbox)
        } catch {
            failure = error
        }
        try await sandbox.cloud.prune()
        let after = try await HostSnapshot.take()
        #expect(
            after.same(as: before, cloud: sandbox.cloud, network: sandbox.network),
            "host changed: before \(before), after \(after)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory))
        if let failure { throw failure }
    }

    func address6(_ offset: UInt128) -> IPv6Address { subnet6.address(at: offset) ?? subnet6.address }
    func address4(_ offset: UInt128) -> IPv4Address { subnet4.address(at: offset) ?? subnet4.address }

    /// Dual-stack networks the BOSH way: an IPv4 and an IPv6 manual entry, both on this sandbox's local network.
    func networks(v4: UInt128? = 10, v6: UInt128? = 10, network: String? = nil) -> [String: CPINetwork] {
        let properties: [String: JSONValue] = ["network": .string(network ?? self.network)]
        var result: [String: CPINetwork] = [:]
        if let v4 {
            result["default"] = CPINetwork(
                ip: .v4(address4(v4)), netmask: .v4(subnet4.netmask), gateway: .v4(address4(1)),
                defaults: ["dns", "gateway"], cloudProperties: properties)
        }
        if let v6 {
            result["default-v6"] = CPINetwork(
                ip: .v6(address6(v6)), netmask: .v6(subnet6.netmask), gateway: .v6(address6(1)),
                cloudProperties: properties)
        }
        return result
    }

    func createVM(_ networks: [String: CPINetwork], agent: String = "agent-1") async throws -> String {
        try await cloud.createVM(
            agentID: agent, stemcellCID: stemcell, cloudProperties: [:], networks: networks, diskCIDs: [],
            env: ["bosh": ["password": "x"]]
        ).cid
    }

    /// What the guest's enable_ipv6 and dhclient_ipv6 jobs do: IPv6 on (no DAD wait, prompt router solicitation),
    /// then `dhclient -6` with its config, lease and pid files in the VM's own /var/lib/dhcp.
    func acquireIPv6(_ vm: String) async throws -> String {
        let root = cloud.directory(vmCID: vm) + "/root"
        let hook = """
            #!/bin/sh
            case "$reason" in
            BOUND6|RENEW6|REBIND6|REBOOT6) ip -6 address replace "$new_ip6_address/128" dev "$interface" ;;
            esac
            exit 0

            """
        try hook.write(toFile: root + "/var/vcap/bosh/dhclient-hook", atomically: true, encoding: .utf8)
        chmod(root + "/var/vcap/bosh/dhclient-hook", 0o755)
        let script = """
            set -e
            for key in all default eth0; do
                echo 0 > /proc/sys/net/ipv6/conf/$key/accept_dad
                echo 0 > /proc/sys/net/ipv6/conf/$key/router_solicitation_delay
                echo 0 > /proc/sys/net/ipv6/conf/$key/disable_ipv6
            done
            for i in $(seq 1 300); do
                ip -6 address show dev eth0 scope link | grep -v tentative | grep -q inet6 && break
                sleep 0.01
            done
            : > /var/lib/dhcp/dhclient6.conf
            dhclient -6 -1 -cf /var/lib/dhcp/dhclient6.conf -lf /var/lib/dhcp/dhclient6.leases \
                -pf /var/lib/dhcp/dhclient6.pid -sf /var/vcap/bosh/dhclient-hook eth0
            for i in $(seq 1 300); do
                ip -6 route show default | grep -q . && break
                sleep 0.01
            done
            ip -6 -o address show dev eth0 scope global
            ip -6 route show
            """
        let output = try await cloud.run(vmCID: vm, ["/bin/sh", "-c", script])
        guard output.status == 0 else {
            throw CloudError.cloud(
                "dhclient in \(vm) failed (\(output.status)): \(output.stdoutText) \(output.stderrText)")
        }
        return output.stdoutText
    }

    /// Starts nginx in the VM, serving `text` on port 80 of every address, with every file under /var/vcap.
    func startNginx(_ vm: String, text: String) async throws {
        let root = cloud.directory(vmCID: vm) + "/root/var/vcap/data/nginx"
        try FileManager.default.createDirectory(atPath: root + "/html", withIntermediateDirectories: true)
        try text.write(toFile: root + "/html/index.html", atomically: true, encoding: .utf8)
        let config = """
            daemon on;
            pid /var/vcap/data/nginx/nginx.pid;
            error_log /var/vcap/data/nginx/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path /var/vcap/data/nginx/body;
                proxy_temp_path /var/vcap/data/nginx/proxy;
                fastcgi_temp_path /var/vcap/data/nginx/fastcgi;
                uwsgi_temp_path /var/vcap/data/nginx/uwsgi;
                scgi_temp_path /var/vcap/data/nginx/scgi;
                server { listen [::]:80 ipv6only=on; listen 80; root /var/vcap/data/nginx/html; }
            }

            """
        try config.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        // The stemcell has no nginx: take the example release's package blob, Debian's nginx .deb.
        let blobs = repositoryRoot + "/examples/nginx-ipv6/release/blobs/nginx"
        try await sh("dpkg-deb -x \(blobs)/nginx_*_amd64.deb \(root)/pkg && chown -R 2000000000:2000000000 \(root)")
        let output = try await cloud.run(
            vmCID: vm,
            [
                "/var/vcap/data/nginx/pkg/usr/sbin/nginx", "-e", "/var/vcap/data/nginx/error.log", "-c",
                "/var/vcap/data/nginx/nginx.conf", "-p",
                "/var/vcap/data/nginx/",
            ])
        guard output.status == 0 else { throw CloudError.cloud("nginx in \(vm) failed: \(output.stderrText)") }
    }

    /// The local cloud's record directory of the sandbox's network.
    var networkDirectory: String { stateDirectory + "/networks/" + network }

    /// VM directories present in the state.
    var vmDirectories: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stateDirectory + "/vms")) ?? []).filter {
            !$0.hasPrefix(".")
        }
    }
}

/// Fetches `url` from the host with curl; returns the body or nil.
func fetch(_ url: String) async throws -> String? {
    let output = try await ProcessRunner.run(
        ProcessRunner.find("curl") ?? "/usr/bin/curl", ["-s", "-g", "--max-time", "3", url])
    return output.status == 0 ? output.stdoutText : nil
}

/// The image directory of the local stemcell built with this build's `skiff` as its agent (cached: the Debian part
/// is built once per machine, the stemcell once per `skiff` binary).
func testStemcellImage() async throws -> String {
    guard let skiff = skiffExecutable else {
        throw CloudError.cloud("the skiff executable is not built; run 'swift build' first")
    }
    return try await LocalStemcellBuilder(agentExecutable: skiff).cachedStemcell() + "/image"
}
