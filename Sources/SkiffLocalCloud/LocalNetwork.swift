import Foundation
import SkiffCloud
import SkiffNet

#if canImport(Glibc)
    import Glibc
#endif

/// What `create_vm`'s networks ask of the local cloud: which local network (bridge), which subnets, which addresses.
struct NetworkPlan: Sendable, Hashable {
    /// The local network's name: `cloud_properties.network` of the entries, else `default`.
    var name: String
    var ipv6Subnet: IPv6Network
    var ipv6Router: IPv6Address
    /// The VM's IPv6 address, reserved in DHCPv6 only.
    var ipv6Address: IPv6Address?
    var ipv4Subnet: IPv4Network?
    var ipv4Gateway: IPv4Address?
    /// The VM's static IPv4 address, configured at create.
    var ipv4Address: IPv4Address?
    /// True if the IPv4 network carries the VM's default route.
    var ipv4Default: Bool

    static let defaultNetworkName = "default"

    /// Reads the networks argument; every error names the entry and the value.
    init(networks: [String: CPINetwork]) throws(CloudError) {
        guard !networks.isEmpty else { throw CloudError.cloud("create_vm networks is empty; the VM needs a network") }
        var names: Set<String> = []
        var v4: (String, IPv4Network, IPv4Address, CPINetwork)?
        var v6: (String, IPv6Network, IPv6Address, CPINetwork)?
        for (entryName, entry) in networks.sorted(by: { $0.key < $1.key }) {
            let path = "networks.\(entryName)"
            let type = entry.type ?? "manual"
            guard type == "manual" else {
                throw CloudError(
                    .notSupported, "\(path): network type '\(type)' is not supported by the local cloud; use manual")
            }
            switch entry.cloudProperties["network"] {
            case nil, .null?: names.insert(Self.defaultNetworkName)
            case .string(let name)?: names.insert(name)
            case let other?:
                throw CloudError.cloud("\(path).cloud_properties.network must be a string, not \(other.typeName)")
            }
            guard let ip = entry.ip, let subnet = try entry.subnet() else {
                throw CloudError.cloud("\(path) needs a static 'ip' and a 'netmask' on the local cloud")
            }
            switch (ip, subnet) {
            case (.v4(let address), .v4(let network)):
                if let v4 { throw CloudError.cloud("\(path) and networks.\(v4.0) both give an IPv4 address") }
                v4 = (entryName, network, address, entry)
            case (.v6(let address), .v6(let network)):
                if let v6 { throw CloudError.cloud("\(path) and networks.\(v6.0) both give an IPv6 address") }
                v6 = (entryName, network, address, entry)
            default:
                throw CloudError.cloud("\(path): ip '\(ip)' does not match its netmask")
            }
        }
        guard names.count == 1, let name = names.first else {
            throw CloudError.cloud(
                "the local cloud gives a VM one interface; its networks name several local networks: "
                    + names.sorted().joined(separator: ", "))
        }
        guard name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
            !name.hasPrefix(".")
        else {
            throw CloudError.cloud("local network name '\(name)' must be 1-64 letters, digits, '-', '_' or '.'")
        }
        self.name = name
        if let (entryName, subnet, address, entry) = v6 {
            let path = "networks.\(entryName)"
            guard subnet.address.isUniqueLocal else {
                throw CloudError.cloud(
                    "\(path): subnet \(subnet) is not a unique local prefix (fc00::/7); the local cloud only routes ULA"
                )
            }
            guard subnet.length == 64 else {
                throw CloudError.cloud(
                    "\(path): subnet \(subnet) must be a /64 on the local cloud (DHCPv6 and router advertisements "
                        + "serve a /64), not a /\(subnet.length)")
            }
            let router = try Self.gateway(entry, path: path, subnet: subnet, as: IPv6Address.self)
            try Self.check(address, path: path, subnet: subnet, router: router)
            ipv6Subnet = subnet
            ipv6Router = router
            ipv6Address = address
        } else {
            ipv6Subnet = try Self.derivedSubnet(name: name)
            ipv6Router = ipv6Subnet.address(at: 1) ?? ipv6Subnet.address
            ipv6Address = nil
        }
        if let (entryName, subnet, address, entry) = v4 {
            let path = "networks.\(entryName)"
            guard (16...28).contains(subnet.length) else {
                throw CloudError.cloud(
                    "\(path): subnet \(subnet) must be between a /16 and a /28 on the local cloud, "
                        + "not a /\(subnet.length)")
            }
            let gateway = try Self.gateway(entry, path: path, subnet: subnet, as: IPv4Address.self)
            try Self.check(address, path: path, subnet: subnet, router: gateway)
            ipv4Subnet = subnet
            ipv4Gateway = gateway
            ipv4Address = address
            ipv4Default = entry.defaults?.contains("gateway") ?? true
        } else {
            ipv4Subnet = nil
            ipv4Gateway = nil
            ipv4Address = nil
            ipv4Default = false
        }
    }

    /// A /64 in fd00::/8 derived from the network's name: the same name always gives the same prefix.
    static func derivedSubnet(name: String) throws(CloudError) -> IPv6Network {
        let globalID = UInt128(Naming.hash("skiff-local-network:" + name) & 0xff_ffff_ffff)
        let bits = (UInt128(0xfd) << 120) | (globalID << 80)
        do {
            return try IPv6Network(containing: IPv6Address(bits: bits), length: 64)
        } catch {
            throw CloudError.cloud("cannot derive an IPv6 prefix for local network '\(name)': \(error)")
        }
    }

    private static func gateway<Address: IPAddressProtocol>(
        _ entry: CPINetwork, path: String, subnet: IPNetwork<Address>, as: Address.Type
    ) throws(CloudError) -> Address {
        guard let given = entry.gateway else {
            return subnet.address(at: 1) ?? subnet.address
        }
        guard let gateway = Address(given.description), subnet.contains(gateway) else {
            throw CloudError.cloud("\(path).gateway \(given) is outside the subnet \(subnet)")
        }
        return gateway
    }

    /// Refuses the router's address and the addresses AWS-style rules reserve.
    private static func check<Address: IPAddressProtocol>(
        _ address: Address, path: String, subnet: IPNetwork<Address>, router: Address
    ) throws(CloudError) {
        guard subnet.contains(address) else {
            throw CloudError.cloud("\(path).ip \(address) is outside the subnet \(subnet)")
        }
        guard address != router else {
            throw CloudError.cloud("\(path).ip \(address) is the router address of \(subnet)")
        }
        if ReservationPolicy.aws.isReserved(address, in: subnet) {
            let list = ReservationPolicy.aws.reserved(in: subnet).map(\.description).joined(separator: ", ")
            throw CloudError.cloud(
                "\(path).ip \(address) is reserved in \(subnet) (the local cloud keeps \(list), as EC2 does)")
        }
    }

    /// Refuses a VM whose subnets differ from those of the existing network.
    func check(against record: NetworkRecord) throws(CloudError) {
        if let ipv6Address {
            guard record.ipv6Subnet == ipv6Subnet.description else {
                throw CloudError.cloud(
                    "IPv6 address \(ipv6Address) is outside the subnet \(record.ipv6Subnet) of local network '\(name)'")
            }
            guard record.ipv6Router == ipv6Router.description else {
                throw CloudError.cloud(
                    "gateway \(ipv6Router) differs from the router \(record.ipv6Router) of local network '\(name)'")
            }
        }
        if let ipv4Subnet, let ipv4Address {
            guard let recorded = record.ipv4Subnet else {
                throw CloudError.cloud("local network '\(name)' has no IPv4 subnet; \(ipv4Address) cannot join it")
            }
            guard recorded == ipv4Subnet.description else {
                throw CloudError.cloud(
                    "IPv4 address \(ipv4Address) is outside the subnet \(recorded) of local network '\(name)'")
            }
            guard record.ipv4Gateway == ipv4Gateway?.description else {
                throw CloudError.cloud(
                    "gateway \(ipv4Gateway.map(\.description) ?? "-") differs from the gateway "
                        + "\(record.ipv4Gateway ?? "-") of local network '\(name)'")
            }
        }
    }
}

/// Creating, reloading and removing one network's bridge and DHCPv6 server.
struct NetworkManager: Sendable {
    let layout: StateLayout
    let tools: HostTools

    /// The bridge name for a network: `skiffb` and eight hex digits of the state directory and network name.
    func bridgeName(_ network: String) -> String { Self.bridgeName(root: layout.root, network: network) }

    static func bridgeName(root: String, network: String) -> String {
        "skiffb" + Naming.hex(Naming.hash(root + "\u{0}" + network), 8)
    }

    func load(_ name: String) throws(CloudError) -> NetworkRecord? {
        try Files.load(NetworkRecord.self, from: layout.network(name) + "/network.json")
    }

    /// Refuses prefixes that overlap a route the host already has.
    func checkRoutes(_ plan: NetworkPlan) async throws(CloudError) {
        let routes = try await Host.routes(tools: tools)
        var wanted: [(String, IPPrefix)] = [("IPv6 subnet", .v6(plan.ipv6Subnet))]
        if let subnet = plan.ipv4Subnet { wanted.append(("IPv4 subnet", .v4(subnet))) }
        for (label, prefix) in wanted {
            if let clash = routes.first(where: { $0.prefix.overlaps(prefix) }) {
                let device = clash.device.isEmpty ? "" : " (dev \(clash.device))"
                throw CloudError.cloud(
                    "\(label) \(prefix) of local network '\(plan.name)' overlaps the host route "
                        + "\(clash.prefix)\(device)"
                )
            }
        }
    }

    /// Creates the bridge, its addresses and the DHCPv6 server. On failure, removes what it made.
    func create(_ plan: NetworkPlan) async throws(CloudError) -> NetworkRecord {
        let directory = layout.network(plan.name)
        let bridge = bridgeName(plan.name)
        guard !Host.linkExists(bridge) else {
            throw CloudError.cloud(
                "bridge \(bridge) for local network '\(plan.name)' already exists; run 'skiff local prune'")
        }
        try await checkRoutes(plan)
        var record = NetworkRecord(
            name: plan.name, bridge: bridge, ipv6Subnet: plan.ipv6Subnet.description,
            ipv6Router: plan.ipv6Router.description, ipv4Subnet: plan.ipv4Subnet?.description,
            ipv4Gateway: plan.ipv4Gateway?.description, dnsmasqPID: nil)
        try Files.makeDirectory(directory)
        try Files.save(record, to: directory + "/network.json")
        do {
            try await tools.ipBatch([
                "link add \(bridge) type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
            ])
            // Our own bridge only: no duplicate address detection, so the router's addresses are usable at once;
            // forwarding on this interface makes dnsmasq advertise itself as the default router.
            try Host.writeSysctl("net/ipv6/conf/\(bridge)/disable_ipv6", "0")
            try Host.writeSysctl("net/ipv6/conf/\(bridge)/accept_dad", "0")
            try Host.writeSysctl("net/ipv6/conf/\(bridge)/accept_ra", "0")
            try Host.writeSysctl("net/ipv6/conf/\(bridge)/forwarding", "1")
            // A guest's address appears when its DHCPv6 client is answered; the host's first packet to it waits for
            // neighbour discovery, which asks again only after retrans_time (1 s by default). On this bridge ask
            // every 50 ms (up to 20 times), so the host reaches a new address within 50 ms of its appearing.
            for family in ["ipv6", "ipv4"] {
                try Host.writeSysctl("net/\(family)/neigh/\(bridge)/retrans_time_ms", "50")
                try Host.writeSysctl("net/\(family)/neigh/\(bridge)/mcast_solicit", "20")
            }
            var commands = ["address add \(plan.ipv6Router)/\(plan.ipv6Subnet.length) dev \(bridge) nodad"]
            if let gateway = plan.ipv4Gateway, let subnet = plan.ipv4Subnet {
                commands.append("address add \(gateway)/\(subnet.length) dev \(bridge)")
            }
            commands.append("link set \(bridge) up")
            try await tools.ipBatch(commands)
            try writeReservations(record, vms: [])
            try Files.write(dnsmasqConfig(record), to: directory + "/dnsmasq.conf")
            record.dnsmasqPID = try await startDNSMasq(record)
            try Files.save(record, to: directory + "/network.json")
            return record
        } catch {
            await remove(record)
            throw error
        }
    }

    func dnsmasqConfig(_ record: NetworkRecord) -> String {
        let directory = layout.network(record.name)
        return """
            # skiff local cloud: DHCPv6 reservations and router advertisements for local network '\(record.name)'
            interface=\(record.bridge)
            # Stay root: the state directory may sit under a directory only root can enter (mktemp -d, ~/.skiff),
            # and dnsmasq re-reads the reservations on SIGHUP. It serves only this bridge, with DNS off.
            user=root
            bind-interfaces
            except-interface=lo
            port=0
            no-resolv
            no-hosts
            dhcp-range=\(record.ipv6Subnet.split(separator: "/")[0]),static,64,1h
            enable-ra
            ra-param=\(record.bridge),high,10,1800
            dhcp-hostsfile=\(directory)/reservations
            dhcp-leasefile=\(directory)/leases
            pid-file=\(directory)/dnsmasq.pid
            log-facility=\(directory)/dnsmasq.log
            log-dhcp

            """
    }

    /// Starts dnsmasq (it daemonizes once it is ready) and returns its pid.
    func startDNSMasq(_ record: NetworkRecord) async throws(CloudError) -> Int32 {
        let directory = layout.network(record.name)
        try await tools.run("dnsmasq", ["--conf-file=\(directory)/dnsmasq.conf"])
        guard let text = try? String(contentsOfFile: directory + "/dnsmasq.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw CloudError.cloud("dnsmasq for local network '\(record.name)' wrote no pid file")
        }
        return pid
    }

    /// True if `pid` is the dnsmasq serving this network (never signal a process that merely reused the pid).
    func isOurDNSMasq(_ pid: Int32, _ record: NetworkRecord) -> Bool {
        Host.commandLine(pid)?.contains("--conf-file=\(layout.network(record.name))/dnsmasq.conf") ?? false
    }

    /// Rewrites the reservation file from the network's VMs (MAC -> IPv6 address).
    func writeReservations(_ record: NetworkRecord, vms: [VMRecord]) throws(CloudError) {
        let lines = vms.filter { $0.network == record.name }.sorted { $0.cid < $1.cid }.compactMap { vm in
            vm.ipv6.map { "\(vm.mac),[\($0)]" }
        }
        try Files.write(lines.map { $0 + "\n" }.joined(), to: layout.network(record.name) + "/reservations")
    }

    /// Makes dnsmasq re-read the reservations: SIGHUP, no restart.
    func reload(_ record: NetworkRecord) {
        if let pid = record.dnsmasqPID, isOurDNSMasq(pid, record) { kill(pid, SIGHUP) }
    }

    /// Restarts dnsmasq without the lease of `address`, if it has one: dnsmasq keeps leases across SIGHUP, and the
    /// stale lease of a deleted VM would keep the address from the new VM it is reserved for. Called by create_vm,
    /// so that delete_vm stays a reload; a restart happens only when an address is given out again.
    func forgetLease(_ record: NetworkRecord, address: String) async throws(CloudError) -> NetworkRecord {
        let leases = layout.network(record.name) + "/leases"
        guard let text = try? String(contentsOfFile: leases, encoding: .utf8),
            text.split(separator: "\n").contains(where: { $0.split(separator: " ").contains(Substring(address)) })
        else {
            return record
        }
        var updated = record
        if let pid = record.dnsmasqPID, isOurDNSMasq(pid, record) {
            await Host.killAndWait([pid])
        }
        let kept = text.split(separator: "\n", omittingEmptySubsequences: true).filter {
            !$0.split(separator: " ").contains(Substring(address))
        }
        try Files.write(kept.map { $0 + "\n" }.joined(), to: leases)
        updated.dnsmasqPID = try await startDNSMasq(record)
        try Files.save(updated, to: layout.network(record.name) + "/network.json")
        return updated
    }

    /// Stops dnsmasq, deletes the bridge and the network's directory. Never fails: used for cleanup.
    func remove(_ record: NetworkRecord) async {
        let directory = layout.network(record.name)
        var pids = record.dnsmasqPID.map { [$0] } ?? []
        if let text = try? String(contentsOfFile: directory + "/dnsmasq.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            pids.append(pid)
        }
        // dnsmasq writes its lease file at every change; nothing is lost by not waiting for a graceful exit.
        await Host.killAndWait(pids.filter { isOurDNSMasq($0, record) })
        if Host.linkExists(record.bridge) {
            try? await tools.ipBatch(["link del \(record.bridge)"], force: true)
        }
        Files.discard(directory, trash: layout.trash)
    }
}
