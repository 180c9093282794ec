import Foundation
import SkiffCloud
import SkiffLocalCloud
import SkiffNet
import Testing

/// Marks a failure a test provokes on purpose, to check the cleanup.
struct Midway: Error {}

/// Real namespaces, bridges and dnsmasq; run as root. Serialized: the host checks compare global state.
@Suite("Local cloud (root, real namespaces)", .serialized, .enabled(if: isRoot, "needs root"))
struct LocalCloudTests {
    @Test("a VM boots with IPv6 off, its static IPv4, its own /var/vcap, agent settings and a running agent")
    func boot() async throws {
        try await Sandbox.with { sandbox in
            let vm = try await sandbox.createVM(sandbox.networks())
            #expect(try await sandbox.cloud.hasVM(vm))
            let root = sandbox.cloud.directory(vmCID: vm) + "/root"
            // The agent ran inside the VM's mount namespace (it wrote the VM's /var/vcap) with IPv6 already off.
            var started: String?
            for _ in 0..<200 where started == nil {
                started = try? String(contentsOfFile: root + "/var/vcap/bosh/agent-started", encoding: .utf8)
                if started == nil { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(started?.hasSuffix(" 1\n") == true, "agent-started: \(started ?? "missing")")
            let inside = try await sandbox.cloud.run(
                vmCID: vm,
                [
                    "/bin/sh", "-c",
                    "cat /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/eth0/disable_ipv6; "
                        + "ip -4 -o address show dev eth0; ip -4 route show default; "
                        + "ls /var/vcap/bosh; ls /etc/sysctl.d",
                ])
            let text = inside.stdoutText
            #expect(text.hasPrefix("1\n1\n"), "IPv6 must be off at boot: \(text)")
            #expect(text.contains("\(sandbox.address4(10))/24"))
            #expect(text.contains("default via \(sandbox.address4(1))"))
            #expect(text.contains("settings.json"))
            #expect(text.contains("60-skiff-disable-ipv6.conf"))
            #expect(!FileManager.default.fileExists(atPath: "/var/vcap"))
            let settingsPath = root + "/var/vcap/bosh/settings.json"
            let attributes = try FileManager.default.attributesOfItem(atPath: settingsPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let settings = try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: settingsPath)))
            #expect(settings["agent_id"] == "agent-1")
            #expect(settings["vm"]?["name"] == .string(vm))
            #expect(settings["mbus"] == .string("https://mbus:secret-\(sandbox.id)@0.0.0.0:6868"))
            #expect(settings["networks"]?["default-v6"]?["ip"] == .string(sandbox.address6(10).description))
            #expect(settings["networks"]?["default"]?["mac"]?.stringValue?.hasPrefix("02:") == true)
            #expect(settings["env"]?["bosh"]?["password"] == "x")
            // The IPv6 address is only reserved, by MAC, in the network's DHCPv6 server.
            let reservations = try String(contentsOfFile: sandbox.networkDirectory + "/reservations", encoding: .utf8)
            #expect(reservations.contains(",[\(sandbox.address6(10))]"))
            #expect(!text.contains("inet6"))
        }
    }

    @Test("the guest's dhclient -6 gets the reserved /128 and a default route from the router advertisement")
    func dhcpv6() async throws {
        try await Sandbox.with { sandbox in
            let vm = try await sandbox.createVM(sandbox.networks())
            let output = try await sandbox.acquireIPv6(vm)
            #expect(output.contains("inet6 \(sandbox.address6(10))/128"), "\(output)")
            #expect(output.contains("default via fe80::"), "\(output)")
            #expect(output.contains("\(sandbox.subnet6) dev eth0"), "\(output)")
            let leases = try String(
                contentsOfFile: sandbox.cloud.directory(vmCID: vm) + "/root/var/lib/dhcp/dhclient6.leases",
                encoding: .utf8)
            #expect(leases.contains(sandbox.address6(10).description))
            // The host reaches the VM at both of its addresses.
            try await sandbox.startNginx(vm, text: "vm-one")
            #expect(try await fetch("http://\(sandbox.address6(10).hostText)/") == "vm-one")
            #expect(try await fetch("http://\(sandbox.address4(10))/") == "vm-one")
        }
    }

    @Test("two VMs on one network reach each other over IPv6, and the host reaches each")
    func twoVMs() async throws {
        try await Sandbox.with { sandbox in
            let first = try await sandbox.createVM(sandbox.networks(v4: 10, v6: 10), agent: "a1")
            let second = try await sandbox.createVM(sandbox.networks(v4: 11, v6: 11), agent: "a2")
            async let one = sandbox.acquireIPv6(first)
            async let two = sandbox.acquireIPv6(second)
            _ = try await (one, two)
            try await sandbox.startNginx(first, text: "first")
            try await sandbox.startNginx(second, text: "second")
            let curl = ProcessRunner.find("curl") ?? "/usr/bin/curl"
            let fromFirst = try await sandbox.cloud.run(
                vmCID: first, [curl, "-s", "-g", "--max-time", "3", "http://\(sandbox.address6(11).hostText)/"])
            #expect(fromFirst.stdoutText == "second")
            let fromSecond = try await sandbox.cloud.run(
                vmCID: second, [curl, "-s", "-g", "--max-time", "3", "http://\(sandbox.address6(10).hostText)/"])
            #expect(fromSecond.stdoutText == "first")
            #expect(try await fetch("http://\(sandbox.address6(10).hostText)/") == "first")
            #expect(try await fetch("http://\(sandbox.address6(11).hostText)/") == "second")
            // One DHCPv6 server for the network, both reservations in it.
            let reservations = try String(contentsOfFile: sandbox.networkDirectory + "/reservations", encoding: .utf8)
            #expect(reservations.split(separator: "\n").count == 2)
            let bridge = try #require(try sandbox.cloud.bridge(network: sandbox.network))
            #expect(bridge.hasPrefix("skiffb"))
            // Deleting one VM keeps the network; deleting the last removes bridge, dnsmasq and files.
            try await sandbox.cloud.deleteVM(first)
            #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)"))
            #expect(try await fetch("http://\(sandbox.address6(11).hostText)/") == "second")
            try await sandbox.cloud.deleteVM(second)
            #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)"))
            #expect(!FileManager.default.fileExists(atPath: sandbox.networkDirectory))
            #expect(try await sandbox.cloud.hasVM(first) == false)
            await #expect(throws: CloudError.vmNotFound(first)) { try await sandbox.cloud.deleteVM(first) }
        }
    }

    @Test("single stack: an IPv6-only VM gets its address; an IPv4-only network still gets a ULA /64 from its name")
    func singleStack() async throws {
        try await Sandbox.with { sandbox in
            let v6only = try await sandbox.createVM(sandbox.networks(v4: nil, v6: 10))
            let output = try await sandbox.acquireIPv6(v6only)
            #expect(output.contains("inet6 \(sandbox.address6(10))/128"), "\(output)")
            try await sandbox.cloud.deleteVM(v6only)

            let v4only = try await sandbox.createVM(sandbox.networks(v4: 10, v6: nil))
            #expect(try await fetch("http://\(sandbox.address4(10)):9/") == nil)
            let bridge = try #require(try sandbox.cloud.bridge(network: sandbox.network))
            let first = try await sh("ip -6 -o address show dev \(bridge) scope global | awk '{print $4}'")
            try await sandbox.cloud.deleteVM(v4only)
            let again = try await sandbox.createVM(sandbox.networks(v4: 11, v6: nil))
            let second = try await sh("ip -6 -o address show dev \(bridge) scope global | awk '{print $4}'")
            #expect(first.hasPrefix("fd"), "\(first)")
            #expect(first.contains("::1/64"), "\(first)")
            #expect(first == second, "the derived prefix must not change: \(first) vs \(second)")
            #expect(try await sandbox.cloud.hasVM(again))
        }
    }

    @Test("a recreated VM gets the address of the deleted one again")
    func readdress() async throws {
        try await Sandbox.with { sandbox in
            let keeper = try await sandbox.createVM(sandbox.networks(v4: 20, v6: 20), agent: "keeper")
            let old = try await sandbox.createVM(sandbox.networks(), agent: "old")
            _ = try await sandbox.acquireIPv6(old)
            try await sandbox.cloud.deleteVM(old)
            let new = try await sandbox.createVM(sandbox.networks(), agent: "new")
            let output = try await sandbox.acquireIPv6(new)
            #expect(output.contains("inet6 \(sandbox.address6(10))/128"), "\(output)")
            #expect(try await sandbox.cloud.hasVM(keeper))
        }
    }

    @Test("bad input answers a CloudError naming the value and leaves nothing half-created")
    func errors() async throws {
        try await Sandbox.with { sandbox in
            func refuses(_ networks: [String: CPINetwork], stemcell: String? = nil, _ expected: String) async throws {
                let linksBefore = try await HostSnapshot.take()
                let vmsBefore = sandbox.vmDirectories
                let networkExisted = FileManager.default.fileExists(atPath: sandbox.networkDirectory)
                do {
                    _ = try await sandbox.cloud.createVM(
                        agentID: "bad", stemcellCID: stemcell ?? sandbox.stemcell, cloudProperties: [:],
                        networks: networks, diskCIDs: [], env: [:])
                    Issue.record("expected an error containing '\(expected)'")
                } catch let error as CloudError {
                    #expect(error.message.contains(expected), "\(error.message)")
                    #expect(error.type == .cloudError || error.type == .vmCreationFailed)
                }
                #expect(
                    try await HostSnapshot.take().same(as: linksBefore, cloud: sandbox.cloud, network: sandbox.network))
                #expect(sandbox.vmDirectories == vmsBefore)
                #expect(FileManager.default.fileExists(atPath: sandbox.networkDirectory) == networkExisted)
            }
            // Before the network exists: nothing of it may be left behind.
            try await refuses(sandbox.networks(v4: 1, v6: 10), "\(sandbox.address4(1)) is the router address")
            try await refuses(sandbox.networks(v4: 10, v6: 1), "\(sandbox.address6(1)) is the router address")
            try await refuses(sandbox.networks(v4: 10, v6: 2), "\(sandbox.address6(2)) is reserved")
            try await refuses(sandbox.networks(v4: 3, v6: 10), "\(sandbox.address4(3)) is reserved")
            try await refuses(sandbox.networks(v4: 255, v6: 10), "\(sandbox.address4(255)) is reserved")
            try await refuses(
                sandbox.networks(), stemcell: "skiff-sc-missing", "stemcell 'skiff-sc-missing' does not exist")
            var outside = sandbox.networks()
            outside["default"]?.gateway = IPAddress("192.0.2.77")
            try await refuses(outside, "gateway 192.0.2.77 is outside the subnet \(sandbox.subnet4)")
            var global = sandbox.networks()
            global["default-v6"] = CPINetwork(
                ip: IPAddress("2600:1f16:a62:5c00::10"), netmask: IPAddress("ffff:ffff:ffff:ffff::"),
                cloudProperties: ["network": .string(sandbox.network)])
            try await refuses(global, "2600:1f16:a62:5c00::/64 is not a unique local prefix")

            // A prefix overlapping a host route (made here on a veth pair of our own).
            let dummy = "skiffd\(sandbox.id)"
            try await sh(
                "ip link add \(dummy) type veth peer name skiffe\(sandbox.id) && ip link set skiffe\(sandbox.id) up "
                    + "&& ip address add \(sandbox.address6(1))/64 dev \(dummy) nodad "
                    + "&& ip link set \(dummy) up")
            do {
                try await refuses(sandbox.networks(), "overlaps the host route \(sandbox.subnet6)")
            } catch {
                _ = try? await sh("ip link del \(dummy)")
                throw error
            }
            try await sh("ip link del \(dummy)")

            // An agent the stemcell (or config) names that is not installed.
            let noAgent = LocalCloud(
                config: LocalCloudConfig(stateDirectory: sandbox.stateDirectory, agentCommand: ["skiff-no-such-agent"]))
            do {
                _ = try await noAgent.createVM(
                    agentID: "a", stemcellCID: sandbox.stemcell, cloudProperties: [:], networks: sandbox.networks(),
                    diskCIDs: [], env: [:])
                Issue.record("expected an error")
            } catch let error as CloudError {
                #expect(error.message.contains("agent command 'skiff-no-such-agent'"), "\(error.message)")
            }
            #expect(sandbox.vmDirectories.isEmpty)

            // Once the network exists: duplicates and addresses outside its subnet.
            let vm = try await sandbox.createVM(sandbox.networks())
            try await refuses(
                sandbox.networks(v4: 11, v6: 10), "IPv6 address \(sandbox.address6(10)) is already used by VM \(vm)")
            try await refuses(
                sandbox.networks(v4: 10, v6: 11), "IPv4 address \(sandbox.address4(10)) is already used by VM \(vm)")
            let other = try Sandbox()
            var elsewhere = other.networks(v6: nil)
            for key in elsewhere.keys { elsewhere[key]?.cloudProperties["network"] = .string(sandbox.network) }
            try await refuses(elsewhere, "IPv4 address \(other.address4(10)) is outside the subnet \(sandbox.subnet4)")
            elsewhere = other.networks(v4: nil)
            elsewhere["default-v6"]?.cloudProperties["network"] = .string(sandbox.network)
            try await refuses(elsewhere, "IPv6 address \(other.address6(10)) is outside the subnet \(sandbox.subnet6)")
        }
    }

    @Test("without root or without a host tool, the error says which")
    func prerequisites() async throws {
        let directory = "/tmp/skiff-test-prereq-\(Int.random(in: 0..<1_000_000))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let networks = try Sandbox().networks()
        let notRoot = LocalCloud(config: LocalCloudConfig(stateDirectory: directory), effectiveUserID: 1000)
        await #expect(
            throws: CloudError.cloud(
                "the local cloud needs root (CAP_NET_ADMIN) to create namespaces and bridges; run it as root")
        ) {
            _ = try await notRoot.createVM(
                agentID: "a", stemcellCID: "s", cloudProperties: [:], networks: networks, diskCIDs: [], env: [:])
        }
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/bin/ip", withDestinationPath: "/usr/sbin/ip")
        let noDNSMasq = LocalCloud(
            config: LocalCloudConfig(stateDirectory: directory), toolSearchPath: directory + "/bin")
        do {
            _ = try await noDNSMasq.createVM(
                agentID: "a", stemcellCID: "s", cloudProperties: [:], networks: networks, diskCIDs: [], env: [:])
            Issue.record("expected an error")
        } catch let error as CloudError {
            #expect(
                error.message == "the local cloud needs 'dnsmasq' (Debian package dnsmasq-base), which is not on PATH")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/vms"))
    }

    @Test("two create_vm at once on a new network: one DHCPv6 server, both reservations")
    func concurrentCreates() async throws {
        try await Sandbox.with { sandbox in
            let second = LocalCloud(config: sandbox.cloud.config)
            let stemcell = sandbox.stemcell
            async let one = sandbox.createVM(sandbox.networks(v4: 10, v6: 10), agent: "c1")
            async let two = second.createVM(
                agentID: "c2", stemcellCID: stemcell, cloudProperties: [:], networks: sandbox.networks(v4: 11, v6: 11),
                diskCIDs: [], env: [:])
            let (a, b) = try await (one, two)
            #expect(a != b.cid)
            let reservations = try String(contentsOfFile: sandbox.networkDirectory + "/reservations", encoding: .utf8)
            #expect(reservations.contains("[\(sandbox.address6(10))]"))
            #expect(reservations.contains("[\(sandbox.address6(11))]"))
            let servers = try await sh("for p in $(pgrep -x dnsmasq); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done")
                .split(separator: "\n").filter { $0.contains(sandbox.networkDirectory + "/") }
            #expect(servers.count == 1, "\(servers)")
        }
    }

    @Test("disks: created, attached at the VM's /var/vcap/store, listed, detached, deleted")
    func disks() async throws {
        try await Sandbox.with { sandbox in
            let vm = try await sandbox.createVM(sandbox.networks())
            let disk = try await sandbox.cloud.createDisk(sizeMiB: 1024, cloudProperties: [:], vmCID: vm)
            #expect(try await sandbox.cloud.hasDisk(disk))
            let hint = try await sandbox.cloud.attachDisk(vmCID: vm, diskCID: disk)
            #expect(hint == ["path": "/var/vcap/store"])
            #expect(try await sandbox.cloud.getDisks(vmCID: vm) == [disk])
            let write = try await sandbox.cloud.run(vmCID: vm, ["/bin/sh", "-c", "echo kept > /var/vcap/store/file"])
            #expect(write.status == 0)
            let data = sandbox.stateDirectory + "/disks/\(disk)/data/file"
            #expect(try String(contentsOfFile: data, encoding: .utf8) == "kept\n")
            let settings = try JSONValue(
                parsing: Data(
                    contentsOf: URL(
                        fileURLWithPath: sandbox.cloud.directory(vmCID: vm) + "/root/var/vcap/bosh/settings.json")))
            #expect(settings["disks"]?["persistent"]?[disk] == ["path": "/var/vcap/store"])
            await #expect(throws: CloudError.self) { try await sandbox.cloud.deleteDisk(disk) }
            try await sandbox.cloud.detachDisk(vmCID: vm, diskCID: disk)
            let after = try await sandbox.cloud.run(vmCID: vm, ["/bin/sh", "-c", "ls /var/vcap/store"])
            #expect(after.stdoutText.isEmpty)
            #expect(try await sandbox.cloud.getDisks(vmCID: vm).isEmpty)
            // Reattached after a reboot too.
            _ = try await sandbox.cloud.attachDisk(vmCID: vm, diskCID: disk)
            try await sandbox.cloud.rebootVM(vm)
            let rebooted = try await sandbox.cloud.run(vmCID: vm, ["/bin/cat", "/var/vcap/store/file"])
            #expect(rebooted.stdoutText == "kept\n")
            try await sandbox.cloud.detachDisk(vmCID: vm, diskCID: disk)
            try await sandbox.cloud.deleteDisk(disk)
            #expect(try await sandbox.cloud.hasDisk(disk) == false)
            await #expect(throws: CloudError.diskNotFound(disk)) { try await sandbox.cloud.deleteDisk(disk) }
        }
    }

    @Test("a VM whose agent cannot start is seen to stop, with its console on the host")
    func deadAgent() async throws {
        try await Sandbox.with { sandbox in
            let vm = try await sandbox.cloud.createVM(
                agentID: "dies", stemcellCID: sandbox.stemcell,
                cloudProperties: ["agent_command": ["/bin/sh", "-c", "echo agent gave up; exit 3"]],
                networks: sandbox.networks(), diskCIDs: [], env: [:]
            ).cid
            var running = sandbox.cloud.isRunning(vmCID: vm)
            for _ in 0..<200 where running == true {
                try await Task.sleep(for: .milliseconds(10))
                running = sandbox.cloud.isRunning(vmCID: vm)
            }
            #expect(running == false)
            let root = try #require(sandbox.cloud.hostRoot(vmCID: vm))
            let log = try String(contentsOfFile: root + "/var/vcap/bosh/log/agent.log", encoding: .utf8)
            #expect(log.contains("agent gave up"))
            #expect(sandbox.cloud.consoleLog(vmCID: vm).map { FileManager.default.fileExists(atPath: $0) } == true)
        }
    }

    @Test("reboot_vm restarts the VM's processes with IPv6 off again")
    func reboot() async throws {
        try await Sandbox.with { sandbox in
            let vm = try await sandbox.createVM(sandbox.networks())
            let before = try sandbox.cloud.holderPID(vmCID: vm)
            _ = try await sandbox.acquireIPv6(vm)
            try await sandbox.cloud.rebootVM(vm)
            let after = try sandbox.cloud.holderPID(vmCID: vm)
            #expect(before != after)
            let state = try await sandbox.cloud.run(
                vmCID: vm,
                ["/bin/sh", "-c", "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; pgrep -c dhclient || true"])
            #expect(state.stdoutText.hasPrefix("1\n"))
            try await sandbox.cloud.setVMMetadata(vm, metadata: ["name": "x"])
            await #expect(throws: CloudError.vmNotFound("skiff-vm-none")) {
                try await sandbox.cloud.rebootVM("skiff-vm-none")
            }
        }
    }

    @Test("a test that fails midway still leaves the host as it was")
    func failureMidway() async throws {
        await #expect(throws: Midway.self) {
            try await Sandbox.with { sandbox in
                _ = try await sandbox.createVM(sandbox.networks())
                throw Midway()
            }
        }
    }

    @Test("the CPI dispatcher answers the local cloud's errors with BOSH error types")
    func dispatcher() async throws {
        try await Sandbox.with { sandbox in
            let dispatcher = CPIDispatcher(provider: sandbox.cloud)
            let missing = await dispatcher.handle(CPIRequest(method: "delete_vm", arguments: ["skiff-vm-gone"]))
            #expect(missing.error?.type == .vmNotFound)
            let disk = await dispatcher.handle(CPIRequest(method: "delete_disk", arguments: ["skiff-disk-gone"]))
            #expect(disk.error?.type == .diskNotFound)
            let stemcell = await dispatcher.handle(CPIRequest(method: "delete_stemcell", arguments: ["skiff-sc-gone"]))
            #expect(stemcell.error?.type == .stemcellNotFound)
            let image = await dispatcher.handle(
                CPIRequest(method: "create_stemcell", arguments: ["/nonexistent/image", [:]]))
            #expect(image.error?.message == "stemcell image '/nonexistent/image' does not exist")
            let unknown = await dispatcher.handle(CPIRequest(method: "snapshot_disk", arguments: []))
            #expect(unknown.error?.type == .notImplemented)
            let info = await dispatcher.handle(CPIRequest(method: "info"))
            #expect(info.result == ["api_version": 2, "stemcell_formats": ["skiff-local"]])
        }
    }

    @Test("a stemcell tarball from `skiff stemcell build` imports, boots a VM, and deletes")
    func stemcellTarball() async throws {
        try await Sandbox.with { sandbox in
            let work = "/tmp/skiff-test-stemcell-\(sandbox.id)"
            defer { try? FileManager.default.removeItem(atPath: work) }
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let skiff = try #require(skiffExecutable)
            try await LocalStemcellBuilder(agentExecutable: skiff).build(output: work + "/stemcell.tgz")
            try await sh("tar -xzf \(work)/stemcell.tgz -C \(work)")
            let manifest = try String(contentsOfFile: work + "/stemcell.MF", encoding: .utf8)
            #expect(manifest.contains("api_version: 2"))
            let cid = try await sandbox.cloud.createStemcell(imagePath: work + "/image", cloudProperties: ["x": 1])
            let vm = try await sandbox.createVM(sandbox.networks(), agent: "from-tarball")
            #expect(try await sandbox.cloud.hasVM(vm))
            try await sandbox.cloud.deleteStemcell(cid)
            await #expect(throws: CloudError.stemcellNotFound(cid)) { try await sandbox.cloud.deleteStemcell(cid) }
            await #expect(throws: CloudError.self) {
                _ = try await sandbox.cloud.createStemcell(imagePath: work + "/stemcell.MF", cloudProperties: [:])
            }
        }
    }
}

/// The `skiff` executable next to the test bundle, if it was built (`swift build` builds it).
let skiffExecutable: String? = {
    let candidates: [String?] = [
        Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("skiff").path,
        repositoryRoot + "/.build/debug/skiff",
    ]
    return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Part of the serialized suite above: the host checks compare global state.
extension LocalCloudTests {
    @Test(
        "ExternalCPI drives `skiff cpi local` through a VM's life; `skiff local prune` cleans up",
        .enabled(if: skiffExecutable != nil, "the skiff executable is not built"))
    func lifecycle() async throws {
        let skiff = try #require(skiffExecutable)
        let sandbox = try Sandbox()
        let before = try await HostSnapshot.take()
        let config = sandbox.stateDirectory + ".yml"
        try """
        state_dir: \(sandbox.stateDirectory)
        agent_command: [sleep, infinity]
        unknown_key: ignored
        """.write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let cpi = ExternalCPI(
            executable: skiff, arguments: ["cpi", "local", "--config", config],
            context: CPIContext(directorUUID: "test", stemcellAPIVersion: 2))
        do {
            let info = try await cpi.info()
            #expect(info == CPIInfo(apiVersion: 2, stemcellFormats: ["skiff-local"]))
            let stemcell = try await cpi.createStemcell(imagePath: try await testStemcellImage(), cloudProperties: [:])
            let created = try await cpi.createVM(
                agentID: "agent-x", stemcellCID: stemcell, cloudProperties: [:], networks: sandbox.networks(),
                diskCIDs: [], env: [:])
            #expect(created.networks["default"]?.mac?.hasPrefix("02:") == true)
            #expect(try await cpi.hasVM(created.cid))
            try await cpi.setVMMetadata(created.cid, metadata: ["director": "test"])
            await #expect(throws: CloudError.vmNotFound("skiff-vm-nope")) { try await cpi.deleteVM("skiff-vm-nope") }
            try await cpi.deleteVM(created.cid)
            #expect(try await cpi.hasVM(created.cid) == false)
            // Two CPI processes at once on a network that does not exist yet: one dnsmasq, both reservations.
            async let first = cpi.createVM(
                agentID: "agent-y", stemcellCID: stemcell, cloudProperties: [:],
                networks: sandbox.networks(v4: 20, v6: 20),
                diskCIDs: [], env: [:])
            async let second = cpi.createVM(
                agentID: "agent-z", stemcellCID: stemcell, cloudProperties: [:],
                networks: sandbox.networks(v4: 21, v6: 21),
                diskCIDs: [], env: [:])
            _ = try await (first, second)
            let reservations = try String(contentsOfFile: sandbox.networkDirectory + "/reservations", encoding: .utf8)
            #expect(reservations.split(separator: "\n").count == 2)
            let servers = try await sh("for p in $(pgrep -x dnsmasq); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done")
                .split(separator: "\n").filter { $0.contains(sandbox.networkDirectory + "/") }
            #expect(servers.count == 1, "\(servers)")
        } catch {
            Issue.record("\(error)")
        }
        let pruned = try await ProcessRunner.run(skiff, ["local", "prune", "--state-dir", sandbox.stateDirectory])
        #expect(pruned.status == 0, "\(pruned.stderrText)")
        #expect(pruned.stdoutText.contains("removed VM skiff-vm-"))
        #expect(try await HostSnapshot.take().same(as: before, cloud: sandbox.cloud, network: sandbox.network))
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory))

        let broken = ExternalCPI(executable: skiff, arguments: ["cpi", "local", "--config", "/nonexistent/skiff.yml"])
        await #expect(throws: CloudError.self) { _ = try await broken.info() }
    }
}
