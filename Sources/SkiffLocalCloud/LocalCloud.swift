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
        let tools = try HostTools(searchPath: toolSearchPath)
        try VMContainer.checkReachable(layout.root)
        return tools
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
    ///
    /// The image's root filesystem is given to the VMs' root user (uids shifted by ``VMContainer/hostIDBase``). An
    /// image directory that is already shifted (a cached `skiff://local` stemcell) is imported by hard links.
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
        let imagePath =
            imagePath.hasPrefix("/") ? imagePath : FileManager.default.currentDirectoryPath + "/" + imagePath
        do {
            try Files.makeDirectory(directory)
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: imagePath, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                guard let cp = ProcessRunner.find("cp") else {
                    throw CloudError.cloud("importing a stemcell needs 'cp'")
                }
                if LocalStemcellImage.isShifted(imagePath) {
                    // A built stemcell in skiff's cache: used in place, read-only under every VM's overlay, and
                    // held so the cache keeps it while this stemcell exists.
                    try LocalStemcellImage.hold(imagePath, by: layout.stemcell(cid))
                    guard symlink(imagePath, directory + "/image") == 0 else {
                        throw CloudError.cloud("cannot link the stemcell image '\(imagePath)'")
                    }
                } else {
                    let output = try await ProcessRunner.run(cp, ["-a", imagePath, directory + "/image"])
                    guard output.status == 0 else {
                        throw CloudError.cloud("cannot copy stemcell image '\(imagePath)': \(output.stderrText)")
                    }
                    try LocalStemcellImage.shift(directory + "/image")
                }
            } else {
                guard let tar = ProcessRunner.find("tar") else {
                    throw CloudError.cloud("importing a stemcell needs 'tar'")
                }
                try Files.makeDirectory(directory + "/image")
                let output = try await ProcessRunner.run(
                    tar,
                    [
                        "-xf", imagePath, "-C", directory + "/image", "--same-owner", "--same-permissions",
                        "--numeric-owner", "--exclude=./root/dev/*", "--exclude=root/dev/*",
                    ])
                guard output.status == 0 else {
                    throw CloudError.cloud("stemcell image '\(imagePath)' is not a tarball: \(output.stderrText)")
                }
                try LocalStemcellImage.shift(directory + "/image")
            }
            let image = try LocalStemcellImage.read(directory: directory + "/image", reportingAs: imagePath)
            try Files.save(
                StemcellRecord(
                    cid: cid, agentCommand: image.agent.command, settings: image.agent.settings, tmpfs: image.tmpfs,
                    ownMounts: image.ownMounts,
                    cloudProperties: .object(cloudProperties),
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
        LocalStemcellImage.release(layout.stemcell(stemcellCID))
        Files.remove(layout.stemcell(stemcellCID))
    }

    // MARK: VMs

    /// Creates the VM — a container of its stemcell's root filesystem with a writable layer of its own, its own
    /// namespaces, a veth on the network's bridge, agent settings — and, for its first VM, the network (bridge,
    /// dnsmasq); reserves the IPv6 address by MAC.
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
        let agentCommand =
            cloudProperties["agent_command"]?.arrayValue?.compactMap(\.stringValue) ?? config.agentCommand
            ?? stemcell.agentCommand
        guard !agentCommand.isEmpty else { throw CloudError.cloud("the agent command is empty") }
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
            try await prepareRoot(
                record, stemcell: stemcell, agentCommand: agentCommand, networks: configured, env: env, tools: tools)
            timer.mark("root")
            record.holderPID = try await boot(record, bridge: networkRecord.bridge, plan: plan, tools: tools)
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

    /// The settings of the VM's agent: the AWS CPI's user data (``AgentSettings/userData``), with the networks
    /// `preconfigured` (the local cloud sets the VM's interfaces up), the root filesystem as the system disk and
    /// `/var/vcap/data` as the ephemeral one. An image whose agent reads a file gets them in
    /// `/var/vcap/bosh/settings.json`; one whose agent reads instance metadata (the real bosh-agent's `HTTP` source)
    /// gets them as user data from the VM's metadata service.
    public func agentSettings(
        agentID: String, vmCID: String, networks: [String: CPINetwork], env: [String: JSONValue]
    ) throws(CloudError) -> AgentSettings {
        let mbusText =
            config.mbus ?? env["bosh"]?["mbus"]?["urls"]?.arrayValue?.first?.stringValue ?? "https://0.0.0.0:6868"
        return AgentSettings.userData(
            agentID: agentID, vmName: vmCID, networks: networks, env: env, mbus: try MbusURL(parsing: mbusText),
            ntp: config.ntp, blobstore: .local,
            disks: .init(system: "/", ephemeral: "/var/vcap/data", persistent: [:]), setup: .preconfigured)
    }

    /// Makes the VM's bundle: its root (the stemcell's image under a writable layer of its own, mounted on the
    /// host), the store mount point a persistent disk is attached on, the agent settings and `config.json`.
    func prepareRoot(
        _ record: VMRecord, stemcell stemcellRecord: StemcellRecord, agentCommand: [String],
        networks: [String: CPINetwork], env: [String: JSONValue], tools: HostTools
    ) async throws(CloudError) {
        let stemcell = stemcellRecord.cid
        let directory = layout.vm(record.cid)
        let root = directory + "/root"
        for path in ["upper", "work", "root", "store"] { try Files.makeDirectory(directory + "/" + path) }
        VMContainer.giveToVMRoot(directory + "/upper")
        VMContainer.giveToVMRoot(directory + "/store")
        let lower = layout.stemcell(stemcell) + "/image/root"
        try await tools.run(
            "mount",
            [
                "-t", "overlay", "skiff-" + record.cid, "-o",
                "lowerdir=\(lower),upperdir=\(directory)/upper,workdir=\(directory)/work", root,
            ])
        // The store is its own shared mount point, so a disk mounted on it later propagates into the VM.
        try await tools.run("mount", ["--bind", directory + "/store", directory + "/store"])
        try await tools.run("mount", ["--make-shared", directory + "/store"])
        for path in ["/var/vcap/bosh/log", "/var/vcap/data", "/var/vcap/store", "/var/vcap/sys/log"] {
            try Files.makeDirectory(root + path)
            VMContainer.giveToVMRoot(root + path)
        }
        let settings = try agentSettings(agentID: record.agentID, vmCID: record.cid, networks: networks, env: env)
        switch stemcellRecord.settings ?? "file" {
        case LocalStemcellImage.Agent.instanceMetadata:
            try InstanceMetadata(userData: Data(settings.json.description.utf8), instanceID: record.cid)
                .write(to: directory + "/metadata")
        case "file":
            try settings.write(to: root + "/var/vcap/bosh/settings.json")
            VMContainer.giveToVMRoot(root + "/var/vcap/bosh/settings.json")
        case let other:
            throw CloudError.cloud(
                "stemcell \(stemcell): unknown agent settings source '\(other)' (expected file or instance-metadata)")
        }
        guard let program = agentCommand.first, VMContainer.find(program, inRoot: root) else {
            throw CloudError.cloud(
                "agent command '\(agentCommand.first ?? "")' is not in the VM's root filesystem (stemcell \(stemcell), "
                    + "PATH \(VMContainer.path)); set agent_command in the local cloud config or use a stemcell that has it"
            )
        }
        let command = VMContainer.initCommand + agentCommand
        let configuration = VMContainer.configuration(
            hostname: record.agentID, command: command, store: directory + "/store", cgroup: "/skiff/" + record.cid,
            tmpfs: stemcellRecord.tmpfs ?? [], ownMounts: stemcellRecord.ownMounts ?? [],
            storeTarget: stemcellRecord.settings == LocalStemcellImage.Agent.instanceMetadata
                ? VMContainer.agentDisksDirectory : "/var/vcap/store")
        try Files.write(configuration.prettyEncoded(), to: directory + "/config.json", mode: 0o600)
    }

    /// Starts the VM's container: `runc create` makes its namespaces, its network namespace is named after the VM
    /// (`ip netns`), the veth is moved in and configured with the image's `net.*` sysctls, then `runc start` runs
    /// its init. Returns the pid of the VM's init.
    func boot(
        _ record: VMRecord, bridge: String, plan: NetworkPlan, tools: HostTools
    ) async throws(CloudError) -> Int32 {
        let directory = layout.vm(record.cid)
        let runc = runtime(tools)
        Files.remove(directory + "/pid")
        let created = try await ProcessRunner.run(
            ProcessCommand(
                tools.path("runc"),
                runc.global + ["create", "--bundle", directory, "--pid-file", directory + "/pid", record.cid],
                input: nil, stdout: .file(directory + "/console.log"), stderr: .file(directory + "/console.log"),
                timeout: .seconds(30)))
        guard created.status == 0, let text = try? String(contentsOfFile: directory + "/pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            let console = (try? String(contentsOfFile: directory + "/console.log", encoding: .utf8)) ?? ""
            let reason = console.split(separator: "\n").last.map(String.init) ?? "exit \(created.status)"
            throw CloudError.cloud("VM \(record.cid) did not start: runc create failed: \(reason)")
        }
        try await tools.run("ip", ["netns", "attach", record.netns, "\(pid)"])
        var links = [
            "link add \(record.hostVeth) type veth peer name eth0 address \(record.mac) netns \(record.netns)",
            "link set \(record.hostVeth) master \(bridge) up",
        ]
        let metadata = servesMetadata(record)
        if metadata {
            // The metadata service's own network namespace, linked to the VM alone (EC2's is off the instance too:
            // a server in the VM's namespace would hold port 80 there, which jobs such as nginx bind to).
            let md = metadataNetns(record)
            await removeMetadataNetns(md, tools: tools)
            links += ["netns add \(md)", "link add imds0 netns \(record.netns) type veth peer name md0 netns \(md)"]
        }
        try await tools.ipBatch(links)
        try await tools.run(
            "nsenter", ["--net=/run/netns/" + record.netns, "--", tools.path("sh"), "-c", networkScript(record, plan)])
        if metadata { try await startMetadataServer(record, tools: tools) }
        let started = try await ProcessRunner.run(tools.path("runc"), runc.global + ["start", record.cid])
        guard started.status == 0 else {
            throw CloudError.cloud("VM \(record.cid) did not start: \(started.stderrText)")
        }
        return pid
    }

    /// The script run on the host inside the VM's network namespace before the VM starts: the image's `net.*`
    /// sysctls (IPv6 stays off until the guest turns it on), loopback, the static IPv4 address, the link.
    func networkScript(_ record: VMRecord, _ plan: NetworkPlan) -> String {
        var lines: [String] = []
        let sysctlDirectory = layout.vm(record.cid) + "/root/etc/sysctl.d"
        for name in Files.list(sysctlDirectory) where name.hasSuffix(".conf") {
            guard let text = try? String(contentsOfFile: sysctlDirectory + "/" + name, encoding: .utf8) else {
                continue
            }
            for (key, value) in SysctlFile.netSettings(text) {
                lines.append(
                    "printf '%s\\n' \(Naming.shellQuote(value)) > /proc/sys/\(key.replacingOccurrences(of: ".", with: "/"))"
                        + " 2>/dev/null || true")
            }
        }
        var network = ["link set lo up"]
        if servesMetadata(record) {
            network += ["link set imds0 up", "route replace \(InstanceMetadata.address)/32 dev imds0"]
        }
        if let address = plan.ipv4Address, let subnet = plan.ipv4Subnet {
            network.append("address replace \(address)/\(subnet.length) dev eth0")
        }
        // The alias marks eth0 as the VM's network interface for a BOSH agent, which counts devices with a bus
        // device or this alias (a veth has no device).
        network.append("link set eth0 alias bosh-interface-eth0")
        network.append("link set eth0 up")
        if plan.ipv4Default, let gateway = plan.ipv4Gateway {
            network.append("route replace default via \(gateway) dev eth0")
        }
        lines.append("ip -batch - <<'SKIFF_NETWORK'\n" + network.joined(separator: "\n") + "\nSKIFF_NETWORK")
        return "set -e\n" + lines.joined(separator: "\n") + "\n"
    }

    /// True if the VM's agent reads its settings from instance metadata (its metadata folder exists), and so keeps
    /// its own settings file, logs under runit and mounts disks itself.
    func servesMetadata(_ record: VMRecord) -> Bool { servesMetadata(vmCID: record.cid) }

    func servesMetadata(vmCID: String) -> Bool {
        Files.exists(layout.vm(vmCID) + "/metadata/user-data")
    }

    /// The network namespace of the VM's instance metadata server: 169.254.169.254 on `md0`, whose peer `imds0`
    /// in the VM is its route there (and the only way in).
    func metadataNetns(_ record: VMRecord) -> String {
        "skiff-md-" + record.cid.dropFirst("skiff-vm-".count)
    }

    /// Ends the metadata server of a VM and removes its network namespace (and with it the link to the VM).
    func removeMetadataNetns(_ name: String, tools: HostTools) async {
        guard Host.netnsExists(name) else { return }
        await Host.killAndWait(Host.pids(inNetns: name))
        try? await tools.ipBatch(["netns del \(name)"], force: true)
    }

    /// Starts the VM's instance metadata server (`skiff local metadata-server`) in its own network namespace, on
    /// the host but never as root once it answers, and waits until it listens.
    func startMetadataServer(_ record: VMRecord, tools: HostTools) async throws(CloudError) {
        let md = metadataNetns(record)
        try await tools.ipBatch(
            [
                "link set lo up", "address add \(InstanceMetadata.address)/32 dev md0", "link set md0 up",
                "route add default dev md0",
            ], netns: md)
        let directory = layout.vm(record.cid) + "/metadata"
        let skiff = config.skiffExecutable ?? LocalStemcellBuilder.currentExecutable
        Files.remove(directory + "/server.pid")
        let command = ProcessCommand(
            tools.path("nsenter"),
            ["--net=/run/netns/" + md, "--", skiff, "local", "metadata-server", "--directory", directory],
            stdout: .file(layout.vm(record.cid) + "/metadata-server.log"), stderr: .standardOutput, newSession: true)
        let server = try ProcessRunner.start(command)
        let deadline = ContinuousClock.now + .seconds(10)
        while !Files.exists(directory + "/server.pid") {
            if !server.isRunning || ContinuousClock.now > deadline {
                server.signal(SIGKILL)
                let log = (try? String(contentsOfFile: layout.vm(record.cid) + "/metadata-server.log", encoding: .utf8))
                throw CloudError.cloud(
                    "VM \(record.cid): its instance metadata server did not start (\(skiff)): "
                        + (log?.split(separator: "\n").last.map(String.init) ?? "no output"))
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// `runc` with the local cloud's own state root, so its containers are apart from any other runc user's.
    func runtime(_ tools: HostTools) -> (path: String, global: [String]) {
        (tools.path("runc"), ["--root", layout.runtime])
    }

    /// Kills the VM's processes, removes its namespace and veth and its directory. Never fails: used for cleanup.
    func destroy(_ record: VMRecord, tools: HostTools) async {
        var timer = PhaseTimer()
        await destroy(record, tools: tools, timer: &timer)
    }

    func destroy(_ record: VMRecord, tools: HostTools, timer: inout PhaseTimer) async {
        await stop(record, tools: tools)
        timer.mark("stop")
        var commands: [String] = []
        if Host.linkExists(record.hostVeth) { commands.append("link del \(record.hostVeth)") }
        if Host.netnsExists(record.netns) { commands.append("netns del \(record.netns)") }
        try? await tools.ipBatch(commands, force: true)
        timer.mark("links")
        Mounts.detachAll(under: layout.vm(record.cid))
        Files.discard(layout.vm(record.cid), trash: layout.trash)
        timer.mark("files")
    }

    /// Stops the VM's container and every process in it, and forgets its network namespace's name.
    func stop(_ record: VMRecord, tools: HostTools) async {
        let runc = runtime(tools)
        if Files.exists(layout.runtime + "/" + record.cid) {
            _ = try? await ProcessRunner.run(runc.path, runc.global + ["kill", "--all", record.cid, "KILL"])
            _ = try? await ProcessRunner.run(runc.path, runc.global + ["delete", "--force", record.cid])
        }
        // Whatever runc did not know of (a container whose creation was interrupted).
        await Host.killAndWait(Host.pids(inNetns: record.netns))
        await removeMetadataNetns(metadataNetns(record), tools: tools)
        if Host.netnsExists(record.netns) { _ = try? await tools.run("ip", ["netns", "del", record.netns]) }
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

    /// Restarts the VM: its container is stopped and started again on the same root, with its disk still attached.
    public func rebootVM(_ vmCID: String) async throws {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        let plan = try NetworkPlan(networks: try CPINetwork.networks(json: record.networks))
        guard let networkRecord = try await network(tools).reconciled(record.network) else {
            throw CloudError.cloud("VM \(vmCID): its local network '\(record.network)' is gone")
        }
        await stop(record, tools: tools)
        if Host.linkExists(record.hostVeth) { try? await tools.ipBatch(["link del \(record.hostVeth)"], force: true) }
        record.holderPID = try await boot(record, bridge: networkRecord.bridge, plan: plan, tools: tools)
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

    /// Bind-mounts the disk at the VM's /var/vcap/store and returns `{"path": "/var/vcap/store"}`; for an agent that
    /// mounts disks itself (bosh-agent), at `/var/vcap/bosh/disks/<disk cid>`, which the hint names.
    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        let tools = try hostTools()
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        guard var record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        guard var disk = try loadDisk(diskCID) else { throw CloudError.diskNotFound(diskCID) }
        let ownMount = servesMetadata(record)
        let hint: JSONValue = [
            "path": .string(ownMount ? VMContainer.agentDisksDirectory + "/" + diskCID : "/var/vcap/store")
        ]
        if disk.vm == vmCID { return hint }
        if let other = disk.vm { throw CloudError.cloud("disk \(diskCID) is attached to VM \(other)") }
        if let other = record.disks.first {
            throw CloudError.cloud("VM \(vmCID) already has disk \(other) at /var/vcap/store; detach it first")
        }
        let data = layout.disk(diskCID) + "/data"
        let directory = layout.vm(vmCID)
        VMContainer.giveToVMRoot(data)
        // Mounted on the VM's store mount point on the host, it propagates to /var/vcap/store inside the VM.
        let target = directory + "/store" + (ownMount ? "/" + diskCID : "")
        if ownMount {
            try Files.makeDirectory(target)
            VMContainer.giveToVMRoot(target)
        }
        try await tools.run("mount", ["--bind", data, target])
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
        let store = layout.vm(vmCID) + "/store"
        let own = store + "/" + diskCID
        if Files.exists(own) {
            while Mounts.under(own).contains(own) { try await tools.run("umount", ["-l", own]) }
            rmdir(own)
        } else {
            while Mounts.under(store).filter({ $0 == store }).count > 1 {
                try await tools.run("umount", ["-l", store])
            }
        }
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
        // An agent that read user data keeps its own settings file; disks reach it by add_persistent_disk.
        guard !servesMetadata(vmCID: vmCID) else { return }
        let path = layout.vm(vmCID) + "/root/var/vcap/bosh/settings.json"
        guard let data = FileManager.default.contents(atPath: path) else { return }
        var settings = try AgentSettings.decode(data, source: path)
        change(&settings)
        try settings.write(to: path)
    }

    // MARK: for operators and tests

    /// The pid of the VM's init (the first process of its container, on the host).
    public func holderPID(vmCID: String) throws(CloudError) -> Int32 {
        guard let record = try loadVM(vmCID) else { throw CloudError.vmNotFound(vmCID) }
        guard let pid = record.holderPID, Host.isAlive(pid) else {
            throw CloudError.cloud("VM \(vmCID) is not running")
        }
        return pid
    }

    /// Runs `command` inside a VM (all its namespaces, as its root) and returns what it printed.
    public func run(vmCID: String, _ command: [String], input: String? = nil) async throws(CloudError) -> ProcessOutput
    {
        _ = try holderPID(vmCID: vmCID)
        let runc = ProcessRunner.find("runc", path: toolSearchPath ?? HostTools.defaultPath) ?? "/usr/sbin/runc"
        return try await ProcessRunner.run(
            runc, ["--root", layout.runtime, "exec", "--env", "PATH=" + VMContainer.path, vmCID] + command,
            input: input.map { Data($0.utf8) })
    }

    /// The VM's directory on the host: `root/` is its root filesystem (mounted while it exists), `config.json` its
    /// OCI configuration, `console.log` what its init printed.
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
                Mounts.detachAll(under: layout.vm(cid))
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
        // Containers whose VM record was lost, then anything still mounted: nothing is removed through a mount.
        let runc = runtime(tools)
        for container in Files.list(layout.runtime) {
            _ = try? await ProcessRunner.run(runc.path, runc.global + ["delete", "--force", container])
        }
        Mounts.detachAll(under: layout.root)
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
