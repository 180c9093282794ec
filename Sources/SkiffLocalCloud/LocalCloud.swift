import Foundation
import SkiffCloud
import SkiffNet

#if canImport(Glibc)
    import Glibc
#endif

/// A cloud on this Linux machine: networks are bridges with a DHCPv6 server, VMs are network namespaces with a
/// private mount namespace, disks are directories. Everything it makes is named `skiff…` and recorded under the
/// state directory, so ``prune()`` can remove it all.
public struct LocalCloud: CloudProvider {
    /// The configuration (state directory, agent command override, mbus URL).
    public let config: LocalCloudConfig
    let layout: StateLayout
    let toolSearchPath: String?
    let effectiveUserID: UInt32

    /// Creates the cloud. `toolSearchPath` overrides where host programs are looked up; `effectiveUserID` overrides
    /// the root check (both for tests).
    public init(
        config: LocalCloudConfig = LocalCloudConfig(), toolSearchPath: String? = nil, effectiveUserID: UInt32? = nil
    ) {
        self.config = config
        self.layout = StateLayout(root: config.stateDirectory)
        self.toolSearchPath = toolSearchPath
        self.effectiveUserID = effectiveUserID ?? Host.effectiveUserID
    }

    /// Four hex digits derived from the state directory that begin every VM's id (`skiff-vm-<tag>…`, veth
    /// `skiffv<tag>…`), so the namespaces and links of one local cloud can be told from another's on a shared host.
    public var nameTag: String { Naming.hex(Naming.hash("skiff-local-state:" + layout.root), 4) }

    /// The bridge a local network has (or will have).
    public func bridgeName(network: String) -> String {
        NetworkManager.bridgeName(root: layout.root, network: network)
    }

    /// Checks for root and the host programs; the error says which is missing.
    func hostTools() throws(CloudError) -> HostTools {
        guard effectiveUserID == 0 else {
            throw CloudError.cloud(
                "the local cloud needs root (CAP_NET_ADMIN) to create namespaces and bridges; run it as root")
        }
        return try HostTools(searchPath: toolSearchPath)
    }

    func lock() async throws(CloudError) -> StateLock {
        try layout.prepare()
        return try await StateLock.acquire(layout.lockFile)
    }

    func network(_ tools: HostTools) -> NetworkManager { NetworkManager(layout: layout, tools: tools) }

    func loadVM(_ cid: String) throws(CloudError) -> VMRecord? {
        guard Self.isSafeName(cid) else { return nil }
        return try Files.load(VMRecord.self, from: layout.vm(cid) + "/vm.json")
    }

    func allVMs() throws(CloudError) -> [VMRecord] {
        var result: [VMRecord] = []
        for cid in Files.list(layout.vms) {
            if let vm = try Files.load(VMRecord.self, from: layout.vm(cid) + "/vm.json") { result.append(vm) }
        }
        return result
    }

    func loadDisk(_ cid: String) throws(CloudError) -> DiskRecord? {
        guard Self.isSafeName(cid) else { return nil }
        return try Files.load(DiskRecord.self, from: layout.disk(cid) + "/disk.json")
    }

    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    // MARK: info and stemcells

    /// API version 2, stemcell format `skiff-local`.
    public func info() async throws -> CPIInfo {
        CPIInfo(apiVersion: 2, stemcellFormats: [LocalStemcellImage.format])
    }

    /// Imports a `skiff-local` image (a gzipped tarball or a directory) into the state directory.
    public func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String {
        try await importStemcell(imagePath: imagePath, cloudProperties: cloudProperties, uploadID: nil)
    }

    /// Imports a stemcell into a hidden folder and renames it into place once complete, so that a kill during the
    /// import leaves no stemcell (the next call removes the hidden folder); `uploadID` is kept in its record.
    func importStemcell(
        imagePath: String, cloudProperties: [String: JSONValue], uploadID: String?
    ) async throws -> String {
        guard Files.exists(imagePath) else {
            throw CloudError.cloud("stemcell image '\(imagePath)' does not exist")
        }
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        await collectGarbage()
        let cid = "skiff-sc-" + Naming.randomID()
        let directory = layout.stemcells + "/.importing-" + cid
        do {
            try Files.makeDirectory(directory + "/image")
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: imagePath, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                guard let cp = ProcessRunner.find("cp") else {
                    throw CloudError.cloud("importing a stemcell needs 'cp'")
                }
                let output = try await ProcessRunner.run(cp, ["-a", imagePath + "/.", directory + "/image/"])
                guard output.status == 0 else {
                    throw CloudError.cloud("cannot copy stemcell image '\(imagePath)': \(output.stderrText)")
                }
            } else {
                guard let tar = ProcessRunner.find("tar") else {
                    throw CloudError.cloud("importing a stemcell needs 'tar'")
                }
                let output = try await ProcessRunner.run(
                    tar, ["-xzf", imagePath, "-C", directory + "/image", "--no-same-owner"])
                guard output.status == 0 else {
                    throw CloudError.cloud(
                        "stemcell image '\(imagePath)' is not a gzipped tarball: \(output.stderrText)")
                }
            }
            let image = try LocalStemcellImage.read(directory: directory + "/image", reportingAs: imagePath)
            try Files.save(
                StemcellRecord(
                    cid: cid, agentCommand: image.agent.command, cloudProperties: .object(cloudProperties),
                    uploadID: uploadID),
                to: directory + "/stemcell.json")
            guard rename(directory, layout.stemcell(cid)) == 0 else {
                throw CloudError.cloud("cannot move the imported stemcell into \(layout.stemcell(cid))")
            }
            CPILog.write("imported stemcell \(cid) from \(imagePath)")
            return cid
        } catch {
            Files.remove(directory)
            throw error
        }
    }

    /// Removes an imported stemcell; a missing one is `StemcellNotFound`.
    public func deleteStemcell(_ stemcellCID: String) async throws {
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard Self.isSafeName(stemcellCID), Files.exists(layout.stemcell(stemcellCID) + "/stemcell.json") else {
            throw CloudError.stemcellNotFound(stemcellCID)
        }
        Files.remove(layout.stemcell(stemcellCID))
    }

    // MARK: VMs

    /// Creates the VM (network namespace, veth, private mount namespace, agent settings, agent) and, for its first VM,
    /// the network (bridge, dnsmasq); reserves the IPv6 address by MAC.
    public func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM {
        var timer = PhaseTimer()
        let tools = try hostTools()
        let plan = try NetworkPlan(networks: networks)
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        timer.mark("lock")

        guard Self.isSafeName(stemcellCID),
            let stemcell = try Files.load(StemcellRecord.self, from: layout.stemcell(stemcellCID) + "/stemcell.json")
        else {
            throw CloudError.cloud("stemcell '\(stemcellCID)' does not exist in \(layout.stemcells)")
        }
        let agentCommand = try resolveAgentCommand(
            cloudProperties["agent_command"]?.arrayValue?.compactMap(\.stringValue) ?? config.agentCommand
                ?? stemcell.agentCommand)
        let manager = network(tools)
        await collectGarbage(tools: tools)
        let existing = try await manager.reconciled(plan.name)
        let others = try allVMs()
        if let existing { try plan.check(against: existing) }
        for other in others where other.network == plan.name {
            if let address = plan.ipv4Address, other.ipv4 == address.description {
                throw CloudError.cloud("IPv4 address \(address) is already used by VM \(other.cid)")
            }
            if let address = plan.ipv6Address, other.ipv6 == address.description {
                throw CloudError.cloud("IPv6 address \(address) is already used by VM \(other.cid)")
            }
        }

        func newCID() -> String { "skiff-vm-" + nameTag + String(Naming.randomID().suffix(4)) }
        var cid = newCID()
        while Files.exists(layout.vm(cid)) || Host.netnsExists(cid) { cid = newCID() }
        let suffix = String(cid.dropFirst("skiff-vm-".count))
        let macBytes = Naming.hex(Naming.hash(cid), 10)
        let mac =
            "02:"
            + stride(from: 0, to: 10, by: 2).map { offset -> String in
                let start = macBytes.index(macBytes.startIndex, offsetBy: offset)
                return String(macBytes[start..<macBytes.index(start, offsetBy: 2)])
            }.joined(separator: ":")
        var configured = networks
        for key in configured.keys { configured[key]?.mac = mac }
        var record = VMRecord(
            cid: cid, agentID: agentID, stemcell: stemcellCID, network: plan.name, netns: cid,
            hostVeth: "skiffv" + suffix, mac: mac, ipv4: plan.ipv4Address?.description,
            ipv6: plan.ipv6Address?.description, holderPID: nil, disks: [], networks: CPINetwork.json(configured),
            metadata: [:], state: "creating")
        let directory = layout.vm(cid)
        try Files.makeDirectory(directory)
        try Files.save(record, to: directory + "/vm.json")

        var networkRecord = existing
        var createdNetwork = false
        timer.mark("validate")
        do {
            if networkRecord == nil {
                networkRecord = try await manager.create(plan)
                createdNetwork = true
                timer.mark("network")
            }
            guard var networkRecord else { throw CloudError.cloud("local network '\(plan.name)' was not created") }
            try prepareRoot(
                record, stemcell: stemcellCID, agentCommand: agentCommand, plan: plan, networks: configured, env: env)
            timer.mark("root")
            try await tools.ipBatch([
                "netns add \(record.netns)",
                "link add \(record.hostVeth) type veth peer name eth0 address \(mac) netns \(record.netns)",
                "link set \(record.hostVeth) master \(networkRecord.bridge) up",
            ])
            timer.mark("links")
            record.holderPID = try await boot(record, tools: tools)
            timer.mark("boot")
            record.state = "running"
            try Files.save(record, to: directory + "/vm.json")
            try manager.writeReservations(networkRecord, vms: others + [record])
            if let address = record.ipv6, !createdNetwork {
                networkRecord = try await manager.forgetLease(networkRecord, address: address)
            }
            manager.reload(networkRecord)
            timer.mark("reservation")
            CPILog.write("created VM \(cid) on local network '\(plan.name)' (bridge \(networkRecord.bridge))")
            CPILog.write("create_vm took \(timer)")
            return CreatedVM(cid: cid, networks: configured)
        } catch {
            await destroy(record, tools: tools)
            if let networkRecord {
                if createdNetwork && !others.contains(where: { $0.network == plan.name }) {
                    await manager.remove(networkRecord)
                } else {
                    try? manager.writeReservations(networkRecord, vms: others)
                }
            }
            if let error = error as? CloudError, error.type == .cloudError {
                throw CloudError.vmCreationFailed(error.message)
            }
            throw error
        }
    }

    /// The agent's command line with its program resolved: `skiff` may be this very executable.
    func resolveAgentCommand(_ command: [String]) throws(CloudError) -> [String] {
        guard let program = command.first else { throw CloudError.cloud("the agent command is empty") }
        if let path = ProcessRunner.find(program, path: toolSearchPath ?? HostTools.defaultPath) {
            return [path] + command.dropFirst()
        }
        if program == "skiff", let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            me.hasSuffix("/skiff")
        {
            return [me] + command.dropFirst()
        }
        throw CloudError.cloud(
            "agent command '\(program)' named by the stemcell is not on PATH; "
                + "set agent_command in the local cloud config"
        )
    }

    /// The settings the VM's agent reads from `/var/vcap/bosh/settings.json`.
    public func agentSettings(
        agentID: String, vmCID: String, networks: [String: CPINetwork], env: [String: JSONValue]
    ) throws(CloudError) -> AgentSettings {
        let mbusText =
            config.mbus ?? env["bosh"]?["mbus"]?["urls"]?.arrayValue?.first?.stringValue ?? "https://0.0.0.0:6868"
        return AgentSettings(
            agentID: agentID, vm: .init(name: vmCID), networks: networks,
            disks: .init(system: "/", ephemeral: "/var/vcap/data", persistent: [:]),
            mbus: try MbusURL(parsing: mbusText), ntp: config.ntp, env: env)
    }

    /// Builds the VM's own root: the stemcell's files, the agent settings, and the boot script.
    func prepareRoot(
        _ record: VMRecord, stemcell: String, agentCommand: [String], plan: NetworkPlan,
        networks: [String: CPINetwork], env: [String: JSONValue]
    ) throws(CloudError) {
        let directory = layout.vm(record.cid)
        let root = directory + "/root"
        if Files.exists(layout.stemcell(stemcell) + "/image/root") {
            try Files.copyTree(layout.stemcell(stemcell) + "/image/root", to: root)
        }
        for path in [
            "/var/vcap/bosh/log", "/var/vcap/store", "/var/vcap/data", "/var/vcap/sys/log", "/var/vcap/jobs",
            "/var/vcap/packages", "/var/lib/dhcp", "/etc/sysctl.d",
        ] {
            try Files.makeDirectory(root + path)
        }
        try Files.makeDirectory(directory + "/.var")
        try agentSettings(agentID: record.agentID, vmCID: record.cid, networks: networks, env: env)
            .write(to: root + "/var/vcap/bosh/settings.json")
        try Files.write(bootScript(record, agentCommand: agentCommand, plan: plan), to: directory + "/boot.sh")
    }

    /// The script run inside the VM's network namespace and a new private mount namespace at every boot.
    func bootScript(_ record: VMRecord, agentCommand: [String], plan: NetworkPlan) -> String {
        var network = ["link set lo up"]
        if let address = plan.ipv4Address, let subnet = plan.ipv4Subnet {
            network.append("address replace \(address)/\(subnet.length) dev eth0")
        }
        network.append("link set eth0 up")
        if plan.ipv4Default, let gateway = plan.ipv4Gateway {
            network.append("route replace default via \(gateway) dev eth0")
        }
        let agent = agentCommand.map(Naming.shellQuote).joined(separator: " ")
        return """
            #!/bin/sh
            # skiff local cloud: boots VM \(record.cid) in netns \(record.netns) and a private mount namespace.
            set -eu
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            export PATH
            vm=\(Naming.shellQuote(layout.vm(record.cid)))
            root="$vm/root"

            # 1. The VM's own sysctls, network keys only: any other key would change the host's kernel.
            #    One sed turns "net.ipv6.conf.all.disable_ipv6 = 1" into "net/ipv6/conf/all/disable_ipv6 1".
            set -- "$root"/etc/sysctl.d/*.conf
            if [ -f "$1" ]; then
                sed -n -e 's/^[[:space:]]*\\(net\\.[^[:space:]=]*\\)[[:space:]]*=[[:space:]]*\\([^#]*\\).*$/\\1 \\2/' \\
                    -e 'T' -e 'h' -e 's/ .*//' -e 'y/./\\//' -e 'G' -e 's/\\n[^ ]*//' -e 'p' "$@" |
                while read -r key value; do
                    printf '%s\\n' "$value" > "/proc/sys/$key" 2>/dev/null || true
                done
            fi

            # 2. Loopback, the static IPv4 address, the link. IPv6 stays off until the guest turns it on.
            ip -batch - <<'SKIFF_NETWORK'
            \(network.joined(separator: "\n"))
            SKIFF_NETWORK

            # 3. A private /var: a tmpfs whose entries are links into a bind of the host's /var, except /var/vcap and
            #    /var/lib/dhcp, which are the VM's own (few mounts: each is a process, and boots must be quick).
            stage="$vm/.var"
            mount -t tmpfs -o mode=0755 skiff-var "$stage"
            cd /var
            links=
            for name in *; do [ "$name" = vcap ] || links="$links .skiff-host/$name"; done
            cd "$stage"
            mkdir vcap .skiff-host
            mount --bind /var .skiff-host
            ln -s $links .
            mount --bind "$root/var/vcap" "$stage/vcap"
            if [ -d "$stage/lib/dhcp" ]; then mount --bind "$root/var/lib/dhcp" "$stage/lib/dhcp"; fi
            if [ -s "$vm/attached-disk" ]; then mount --bind "$(cat "$vm/attached-disk")" "$stage/vcap/store"; fi
            mount --move "$stage" /var
            mount --bind "$root/etc/sysctl.d" /etc/sysctl.d

            # 4. The holder keeps the namespaces alive; the agent starts beside it.
            cd /
            setsid bash -c 'exec -a "skiff-vm:$0" sleep infinity' \(record.cid) </dev/null >/dev/null 2>&1 &
            echo "$!"
            setsid env -i PATH="$PATH" HOME=/var/vcap LANG=C.UTF-8 \(agent) \\
                </dev/null >>/var/vcap/bosh/log/agent.log 2>&1 &

            """
    }

    /// Runs the boot script; returns the holder's pid once it is running.
    func boot(_ record: VMRecord, tools: HostTools) async throws(CloudError) -> Int32 {
        let output = try await tools.run(
            "ip",
            [
                "netns", "exec", record.netns, tools.path("unshare"), "--mount", "--propagation", "private",
                "/bin/sh", layout.vm(record.cid) + "/boot.sh",
            ])
        guard let pid = Int32(output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CloudError.cloud("VM \(record.cid) did not start: \(output.stdoutText) \(output.stderrText)")
        }
        guard Host.isAlive(pid) else {
            throw CloudError.cloud("VM \(record.cid): its holder process \(pid) did not start")
        }
        return pid
    }

    /// Kills the VM's processes, removes its namespace and veth and its directory. Never fails: used for cleanup.
    func destroy(_ record: VMRecord, tools: HostTools) async {
        var timer = PhaseTimer()
        await destroy(record, tools: tools, timer: &timer)
    }

    func destroy(_ record: VMRecord, tools: HostTools, timer: inout PhaseTimer) async {
        let pids = Host.pids(inNetns: record.netns)
        timer.mark("find processes")
        await Host.killAndWait(pids)
        timer.mark("kill")
        var commands: [String] = []
        if Host.linkExists(record.hostVeth) { commands.append("link del \(record.hostVeth)") }
        if Host.netnsExists(record.netns) { commands.append("netns del \(record.netns)") }
        try? await tools.ipBatch(commands, force: true)
        timer.mark("links")
        Files.discard(layout.vm(record.cid), trash: layout.trash)
        timer.mark("files")
    }

    /// Kills the VM's processes, removes its namespace, veth and files, and its reservation; the network goes with its
    /// last VM.
    public func deleteVM(_ vmCID: String) async throws {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard let record = try loadVM(vmCID) else {
            // A delete killed after the VM went but before its network did: finish it now.
            await collectGarbage(tools: tools)
            throw CloudError.vmNotFound(vmCID)
        }
        var timer = PhaseTimer()
        await destroy(record, tools: tools, timer: &timer)
        defer { CPILog.write("delete_vm took \(timer)") }
        for diskCID in record.disks {
            if var disk = try loadDisk(diskCID), disk.vm == vmCID {
                disk.vm = nil
                try Files.save(disk, to: layout.disk(diskCID) + "/disk.json")
            }
        }
        let manager = network(tools)
        guard let networkRecord = try manager.load(record.network) else { return }
        let remaining = try allVMs().filter { $0.network == record.network }
        if remaining.isEmpty {
            await manager.remove(networkRecord)
            timer.mark("network removed")
        } else {
            try manager.writeReservations(networkRecord, vms: remaining)
            manager.reload(networkRecord)
            timer.mark("reservation")
        }
    }

    /// True if the VM is recorded.
    public func hasVM(_ vmCID: String) async throws -> Bool {
        try loadVM(vmCID) != nil
    }

    /// Restarts the VM's processes: boots it again in its namespace.
    public func rebootVM(_ vmCID: String) async throws {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        await Host.killAndWait(Host.pids(inNetns: record.netns))
        record.holderPID = try await boot(record, tools: tools)
        try Files.save(record, to: layout.vm(vmCID) + "/vm.json")
    }

    /// Records metadata in the VM's record.
    public func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        record.metadata.merge(metadata) { _, new in new }
        try Files.save(record, to: layout.vm(vmCID) + "/vm.json")
    }

    /// Accepts disk metadata (not kept).
    public func setDiskMetadata(_ diskCID: String, metadata: [String: String]) async throws {
        guard try loadDisk(diskCID) != nil else { throw CloudError.diskNotFound(diskCID) }
    }

    // MARK: disks

    /// Creates a disk: a directory under the state directory.
    public func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String {
        try await makeDisk(sizeMiB: sizeMiB, creationID: nil)
    }

    func makeDisk(sizeMiB: Int, creationID: String?) async throws -> String {
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        await collectGarbage()
        var cid = "skiff-disk-" + Naming.randomID()
        while Files.exists(layout.disk(cid)) { cid = "skiff-disk-" + Naming.randomID() }
        // Made in a hidden folder and renamed into place whole: a kill half-way leaves nothing the next call
        // does not remove.
        let staging = layout.disks + "/.creating-" + cid
        do {
            try Files.makeDirectory(staging + "/data")
            try Files.save(
                DiskRecord(cid: cid, sizeMiB: sizeMiB, vm: nil, creationID: creationID), to: staging + "/disk.json")
            guard rename(staging, layout.disk(cid)) == 0 else {
                throw CloudError.cloud("cannot move the new disk into \(layout.disk(cid))")
            }
        } catch {
            Files.remove(staging)
            throw error
        }
        return cid
    }

    /// Bind-mounts the disk at the VM's /var/vcap/store; returns `{"path": "/var/vcap/store"}`.
    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        guard var disk = try loadDisk(diskCID) else { throw CloudError.diskNotFound(diskCID) }
        let hint: JSONValue = ["path": "/var/vcap/store"]
        if disk.vm == vmCID { return hint }
        if let other = disk.vm { throw CloudError.cloud("disk \(diskCID) is attached to VM \(other)") }
        if let other = record.disks.first {
            throw CloudError.cloud("VM \(vmCID) already has disk \(other) at /var/vcap/store; detach it first")
        }
        let data = layout.disk(diskCID) + "/data"
        let directory = layout.vm(vmCID)
        try Files.write(data, to: directory + "/attached-disk")
        if let pid = record.holderPID {
            do {
                try await tools.run(
                    "nsenter", ["-t", "\(pid)", "-m", "--", tools.path("mount"), "--bind", data, "/var/vcap/store"])
            } catch {
                Files.remove(directory + "/attached-disk")
                throw error
            }
        }
        disk.vm = vmCID
        record.disks = [diskCID]
        try Files.save(disk, to: layout.disk(diskCID) + "/disk.json")
        try Files.save(record, to: directory + "/vm.json")
        try updateSettings(vmCID) { $0.disks.persistent[diskCID] = hint }
        return hint
    }

    /// Unmounts the disk from the VM.
    public func detachDisk(vmCID: String, diskCID: String) async throws {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        guard var disk = try loadDisk(diskCID) else { throw CloudError.diskNotFound(diskCID) }
        guard record.disks.contains(diskCID) else {
            throw CloudError(.diskNotAttached, "disk \(diskCID) is not attached to VM \(vmCID)")
        }
        if let pid = record.holderPID, Host.isAlive(pid) {
            try await tools.run("nsenter", ["-t", "\(pid)", "-m", "--", tools.path("umount"), "-l", "/var/vcap/store"])
        }
        Files.remove(layout.vm(vmCID) + "/attached-disk")
        record.disks.removeAll { $0 == diskCID }
        disk.vm = nil
        try Files.save(record, to: layout.vm(vmCID) + "/vm.json")
        try Files.save(disk, to: layout.disk(diskCID) + "/disk.json")
        try updateSettings(vmCID) { $0.disks.persistent.removeValue(forKey: diskCID) }
    }

    /// Removes a detached disk and its data.
    public func deleteDisk(_ diskCID: String) async throws {
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard let disk = try loadDisk(diskCID) else { throw CloudError.diskNotFound(diskCID) }
        if let vm = disk.vm, try loadVM(vm) != nil {
            throw CloudError.cloud("disk \(diskCID) is attached to VM \(vm); detach it first")
        }
        Files.remove(layout.disk(diskCID))
    }

    /// True if the disk is recorded.
    public func hasDisk(_ diskCID: String) async throws -> Bool {
        try loadDisk(diskCID) != nil
    }

    /// The disks attached to the VM.
    public func getDisks(vmCID: String) async throws -> [String] {
        guard let record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        return record.disks
    }

    func updateSettings(_ vmCID: String, _ change: (inout AgentSettings) -> Void) throws(CloudError) {
        let path = layout.vm(vmCID) + "/root/var/vcap/bosh/settings.json"
        guard let data = FileManager.default.contents(atPath: path) else { return }
        var settings = try AgentSettings.decode(data, source: path)
        change(&settings)
        try settings.write(to: path)
    }

    // MARK: for operators and tests

    /// The pid of the process holding a VM's namespaces; `nsenter -t PID -n -m` runs a command inside the VM.
    public func holderPID(vmCID: String) throws(CloudError) -> Int32 {
        guard let record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        guard let pid = record.holderPID, Host.isAlive(pid) else {
            throw CloudError.cloud("VM \(vmCID) is not running")
        }
        return pid
    }

    /// Runs `command` inside a VM (its network and mount namespaces) and returns what it printed.
    public func run(vmCID: String, _ command: [String], input: String? = nil) async throws(CloudError) -> ProcessOutput
    {
        let pid = try holderPID(vmCID: vmCID)
        let nsenter = ProcessRunner.find("nsenter") ?? "/usr/bin/nsenter"
        return try await ProcessRunner.run(
            nsenter, ["-t", "\(pid)", "-n", "-m", "--"] + command, input: input.map { Data($0.utf8) })
    }

    /// The VM's directory on the host (its root is `root/` inside it).
    public func directory(vmCID: String) -> String { layout.vm(vmCID) }

    /// The bridge of a local network.
    public func bridge(network: String) throws(CloudError) -> String? {
        try Files.load(NetworkRecord.self, from: layout.network(network) + "/network.json")?.bridge
    }

    /// Removes everything the local cloud ever made under its state directory: VMs (processes, namespaces, veths),
    /// networks (dnsmasq, bridges), disks, stemcells, and the directory itself. Returns what it removed.
    @discardableResult
    public func prune() async throws(CloudError) -> [String] {
        guard Files.exists(layout.root) else { return [] }
        let tools = try hostTools()
        let held = try await StateLock.acquire(layout.lockFile)
        defer { withExtendedLifetime(held) {} }
        var removed: [String] = []
        for cid in Files.list(layout.vms) {
            let record = (try? Files.load(VMRecord.self, from: layout.vm(cid) + "/vm.json")) ?? nil
            if let record {
                await destroy(record, tools: tools)
            } else {
                Files.remove(layout.vm(cid))
            }
            removed.append("VM \(cid)")
        }
        let manager = network(tools)
        for name in Files.list(layout.networks) {
            let record = (try? manager.load(name)) ?? nil
            if let record { await manager.remove(record) } else { Files.remove(layout.network(name)) }
            removed.append("network \(name)" + (record.map { " (bridge \($0.bridge))" } ?? ""))
        }
        removed += Files.list(layout.disks).map { "disk \($0)" }
        removed += Files.list(layout.stemcells).map { "stemcell \($0)" }
        Files.remove(layout.root)
        return removed
    }
}

/// Milliseconds spent per phase, for the CPI log.
struct PhaseTimer: CustomStringConvertible {
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant
    private var phases: [(String, Duration)] = []

    init() { last = clock.now }

    mutating func mark(_ phase: String) {
        let now = clock.now
        phases.append((phase, now - last))
        last = now
    }

    var description: String {
        phases.map { name, duration in
            let milliseconds =
                Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000
            return "\(name) \(Int(milliseconds.rounded())) ms"
        }.joined(separator: ", ")
    }
}
