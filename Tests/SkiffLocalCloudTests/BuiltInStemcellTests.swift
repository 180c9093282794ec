import Foundation
import SkiffCloud
import Testing

@testable import SkiffLocalCloud

@Suite("The local stemcell's recipe")
struct BuiltInStemcellTests {
    static let repositoryStemcell = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("stemcells/local")

    @Test func matchesTheRepositoryStemcellFileForFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-builtin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try LocalStemcellSource.writeRecipe(to: directory.path)
        let lock = try String(contentsOf: directory.appendingPathComponent("packages.lock"), encoding: .utf8)
        #expect(
            lock
                == (try String(
                    contentsOf: Self.repositoryStemcell.appendingPathComponent("packages.lock"), encoding: .utf8)),
            "stemcells/local/packages.lock differs from LocalStemcellSource.packagesLock")
        for file in LocalStemcellSource.imageFiles {
            let ours = try String(contentsOf: directory.appendingPathComponent("image/" + file.path), encoding: .utf8)
            let repository = try String(
                contentsOf: Self.repositoryStemcell.appendingPathComponent("image/" + file.path), encoding: .utf8)
            #expect(ours == repository, "image/\(file.path) differs from stemcells/local")
        }
        let repositoryFiles = try FileManager.default.subpathsOfDirectory(
            atPath: Self.repositoryStemcell.appendingPathComponent("image").path
        )
        .filter { path in
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(
                atPath: Self.repositoryStemcell.appendingPathComponent("image/" + path).path, isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue
        }
        #expect(Set(repositoryFiles) == Set(LocalStemcellSource.imageFiles.map(\.path)))
        for file in LocalStemcellSource.boshAgentOwnFiles {
            let path = "bosh-agent/image/" + file.path
            let repository = try? String(
                contentsOf: Self.repositoryStemcell.appendingPathComponent(path), encoding: .utf8)
            #expect(repository == file.content, "\(path) differs from stemcells/local (or is missing)")
            let mode =
                try FileManager.default.attributesOfItem(
                    atPath: directory.appendingPathComponent(path).path)[.posixPermissions] as? Int
            #expect(mode == LocalStemcellSource.mode(of: file.path))
        }
    }

    @Test func aStemcellWithTheRealAgentHasWhatABoshStemcellGivesIt() {
        let paths = Set(LocalStemcellSource.boshAgentImageFiles.map(\.path))
        for wanted in [
            "root/var/vcap/bosh/agent.json", "root/etc/sv/agent/run", "root/etc/sv/monit/run", "root/etc/sv/monit/down",
            "root/etc/monit/monitrc", "root/var/vcap/bosh/bin/bosh-agent-rc",
            "root/var/vcap/bosh/bin/bosh-start-logging-and-auditing", "root/usr/sbin/resolvconf",
            "root/var/vcap/bosh/bin/skiff-init", "root/etc/sysctl.d/60-skiff-disable-ipv6.conf",
        ] {
            #expect(paths.contains(wanted), "\(wanted) is missing")
        }
        #expect(!paths.contains("root/var/vcap/bosh/bin/skiff-agent"))
        #expect(LocalStemcellSource.mode(of: "root/etc/monit/monitrc") == 0o600)
        #expect(LocalStemcellSource.mode(of: "root/usr/sbin/resolvconf") == 0o755)
        let agentJSON = LocalStemcellSource.boshAgentImageFiles.first { $0.path == "root/var/vcap/bosh/agent.json" }
        #expect(agentJSON?.content.contains("\"TokenPath\": \"/latest/api/token\"") == true)
        #expect(agentJSON?.content.contains("\"URI\": \"http://169.254.169.254\"") == true)
    }

    @Test func everyPinnedPackageHasOneVersion() {
        let pins = LocalStemcellSource.pins
        #expect(pins.count > 100)
        #expect(Set(pins.map { $0.split(separator: "=")[0] }).count == pins.count)
        for wanted in LocalStemcellSource.packages {
            #expect(pins.contains { $0.hasPrefix(wanted + "=") }, "\(wanted) is not in packages.lock")
        }
    }

    @Test func onlyNetworkSysctlsAreTakenFromAnImage() {
        let settings = SysctlFile.netSettings(
            """
            # comment
            net.ipv6.conf.all.disable_ipv6 = 1
            kernel.pid_max = 4000
            -net/ipv4/ip_forward=1
            ; other
            net.ipv6.conf.eth0.accept_dad=0 
            vm.swappiness = 1
            """)
        #expect(
            settings.map(\.key) == [
                "net.ipv6.conf.all.disable_ipv6", "net.ipv4.ip_forward", "net.ipv6.conf.eth0.accept_dad",
            ])
        #expect(settings.map(\.value) == ["1", "1", "0"])
    }

    @Test func lockDriftIsListedByPackage() {
        let drift = LocalStemcellBuilder.difference(locked: "# x\na 1\nb 2\n", built: "a 1\nb 3\nc 1\n")
        #expect(drift == ["b 2 → 3", "c - → 1"])
    }
}

@Suite("A VM's root user must reach the state directory")
struct ReachabilityTests {
    @Test func aStateDirectoryUnderAPrivateFolderIsRefusedWithTheFix() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-private-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        chmod(folder.path, 0o700)
        #expect(throws: CloudError.self) { try VMContainer.checkReachable(folder.path + "/state") }
        do {
            try VMContainer.checkReachable(folder.path + "/state")
        } catch {
            #expect(error.message.contains("chmod o+x '\(folder.path)'"), "\(error.message)")
        }
        chmod(folder.path, 0o755)
        try VMContainer.checkReachable(folder.path + "/state")
    }
}
