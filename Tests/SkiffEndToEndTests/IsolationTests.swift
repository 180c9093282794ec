import Foundation
import SkiffTestSupport
import Testing

/// Jobs that change users, `/etc` and sysctls — a release of the project's own and, when the shared corpus is
/// beside the repository, os-conf-release's own jobs — act inside the VM and leave the host byte-for-byte unchanged.
@Suite("Local VMs are isolated machines", .serialized, .enabled(if: Environment.canRunLocalCloud))
struct IsolationTests {
    /// os-conf-release's jobs, test data from the shared corpus (not project content).
    /// `../shared` beside the repository (or beside a worktree's parent).
    static let osConf: URL = {
        let relative = "shared/compat/erb-real/jobs/cloudfoundry+os-conf-release"
        let parent = Environment.repository.deletingLastPathComponent()
        let candidates = [
            parent.appendingPathComponent(relative),
            parent.deletingLastPathComponent().appendingPathComponent(relative),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
    }()

    /// Host files and settings no VM may change.
    static let hostFiles = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/issue.net", "/etc/hostname"]
    static let hostSysctls = [
        "net/ipv4/tcp_fin_timeout", "net/core/somaxconn", "net/ipv4/tcp_keepalive_time",
        "net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6", "net/ipv4/ip_forward",
    ]

    struct HostState: Equatable {
        var files: [String: Data]
        var sysctls: [String: String]
        var home: [String]
        var hostname: String
        var etc: [String]

        static func take() throws -> HostState {
            var files: [String: Data] = [:]
            for path in IsolationTests.hostFiles { files[path] = FileManager.default.contents(atPath: path) ?? Data() }
            var sysctls: [String: String] = [:]
            for key in IsolationTests.hostSysctls {
                sysctls[key] = (try? String(contentsOfFile: "/proc/sys/" + key, encoding: .utf8)) ?? "-"
            }
            return HostState(
                files: files, sysctls: sysctls,
                home: ((try? FileManager.default.contentsOfDirectory(atPath: "/home")) ?? []).sorted(),
                hostname: ProcessInfo.processInfo.hostName,
                etc: ((try? FileManager.default.contentsOfDirectory(atPath: "/etc")) ?? []).sorted())
        }
    }

    @Test func jobsThatChangeTheirMachineChangeOnlyTheVM() throws {
        let env = try Environment(slot: 76)
        defer { env.tearDown() }
        let hasOSConf = FileManager.default.fileExists(atPath: Self.osConf.appendingPathComponent("user_add").path)
        let releases = try makeReleases(in: env.directory, withOSConf: hasOSConf)
        var text = try String(contentsOf: env.manifest, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "releases:\n",
            with: "releases:\n" + releases.map { "- {name: \($0.name), url: file://\($0.path)}\n" }.joined())
        var jobs = "  - {name: host_effects, release: host-effects}\n"
        var properties = "    banner: isolated banner\n"
        if hasOSConf {
            jobs += """
                  - {name: user_add, release: os-conf}
                  - {name: login_banner, release: os-conf}
                  - {name: sysctl, release: os-conf}
                  - {name: pre-start-script, release: os-conf}

                """
            properties += """
                    users:
                    - {name: osconfuser, public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsk osconf"}
                    login_banner:
                      text: os-conf banner inside the VM
                    sysctl:
                    - net.ipv4.tcp_keepalive_time=321
                    script: |
                      #!/bin/bash
                      echo pre-start-script was here > /etc/os-conf-pre-start

                """
        }
        text = text.replacingOccurrences(
            of: "  - {name: nginx, release: nginx-ipv6}\n", with: "  - {name: nginx, release: nginx-ipv6}\n" + jobs)
        text = text.replacingOccurrences(of: "  properties:\n", with: "  properties:\n" + properties)
        try text.write(to: env.manifest, atomically: true, encoding: .utf8)

        let before = try HostState.take()
        let created = try env.skiff(["create-env", env.manifest.path])
        try #require(created.status == 0, "create-env failed: \(created.stdout) \(created.stderr)")
        let cid = try #require(try currentVM(env))

        // Inside the VM: every effect is there.
        func inVM(_ script: String) throws -> String {
            let result = try Environment.run(
                "/usr/sbin/runc", ["--root", env.cloudState.path + "/runc", "exec", cid, "/bin/sh", "-c", script])
            #expect(result.status == 0, "in the VM: \(script): \(result.stderr)")
            return result.stdout
        }
        #expect(try inVM("getent passwd skiffguest").hasPrefix("skiffguest:"))
        if !hasOSConf { #expect(try inVM("cat /etc/issue.net") == "isolated banner\n") }
        #expect(try inVM("cat /proc/sys/net/ipv4/tcp_fin_timeout") == "17\n")
        #expect(try inVM("cat /proc/sys/net/core/somaxconn") == "1717\n")
        #expect(try inVM("cat /etc/skiff-host-effects") == "written by host_effects\n")
        #expect(try inVM("id -u vcap") == "1000\n")
        #expect(try inVM("hostname") != ProcessInfo.processInfo.hostName + "\n")
        if hasOSConf {
            #expect(try inVM("getent passwd osconfuser").hasPrefix("osconfuser:"))
            #expect(try inVM("cat /home/osconfuser/.ssh/authorized_keys").contains("osconf"))
            // login_banner and host_effects both write /etc/issue.net; agents run pre-start scripts in parallel.
            let banner = try inVM("cat /etc/issue.net")
            #expect(["os-conf banner inside the VM\n", "isolated banner\n"].contains(banner), "\(banner)")
            #expect(try inVM("cat /proc/sys/net/ipv4/tcp_keepalive_time") == "321\n")
            #expect(try inVM("cat /etc/os-conf-pre-start") == "pre-start-script was here\n")
        }
        // IPv6 still answers after os-conf's `sysctl --system` re-applied the stemcell's files.
        let url = "http://[fd53:6b69:6666:\(env.slot)::4]/"
        let page = try Environment.run("/usr/bin/curl", ["-sg", "-6", "--max-time", "5", url])
        #expect(page.stdout.contains("Your address is fd53:6b69:6666:\(env.slot)::1"))

        // The process serving ::4 is nginx from the release's package, in namespaces of its own.
        let nginx = try #require(try nginxMaster(env: env, cid: cid))
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(nginx)/exe")
        #expect(exe.hasPrefix("/var/vcap/packages/") || exe.hasPrefix("/var/vcap/data/packages/"), "\(exe)")
        for kind in ["mnt", "pid", "uts", "ipc", "net", "user"] {
            let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(nginx)/ns/\(kind)")
            let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind)")
            #expect(theirs != ours, "nginx shares the host's \(kind) namespace")
        }
        var rootInfo = stat()
        var theirRoot = stat()
        stat("/", &rootInfo)
        stat("/proc/\(nginx)/root/", &theirRoot)
        #expect(rootInfo.st_ino != theirRoot.st_ino || rootInfo.st_dev != theirRoot.st_dev)
        let status = try String(contentsOfFile: "/proc/\(nginx)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t2000000000"), "nginx's master runs as the VM's root, not the host's")

        // The host: unchanged.
        let during = try HostState.take()
        #expect(during == before, "the host changed while the VM ran")
        let deleted = try env.skiff(["delete-env", env.manifest.path])
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(try HostState.take() == before)
        #expect(try env.leftovers().isEmpty)
    }

    /// The host-effects release (the project's own) and, when available, a dev release of os-conf's jobs.
    func makeReleases(in directory: URL, withOSConf: Bool) throws -> [(name: String, path: String)] {
        let fixture = Environment.repository.appendingPathComponent(
            "Tests/SkiffEndToEndTests/Fixtures/host-effects-release")
        var result = [(name: "host-effects", path: fixture.path)]
        guard withOSConf else { return result }
        let release = directory.appendingPathComponent("os-conf-release")
        try FileManager.default.createDirectory(
            at: release.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: release.appendingPathComponent("config"), withIntermediateDirectories: true)
        try "---\nname: os-conf\nfinal_name: os-conf\n".write(
            to: release.appendingPathComponent("config/final.yml"), atomically: true, encoding: .utf8)
        for job in ["user_add", "login_banner", "sysctl", "pre-start-script"] {
            try FileManager.default.copyItem(
                at: Self.osConf.appendingPathComponent(job), to: release.appendingPathComponent("jobs/" + job))
        }
        result.append((name: "os-conf", path: release.path))
        return result
    }

    func currentVM(_ env: Environment) throws -> String? {
        let data = try Data(contentsOf: env.stateFile)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return object?["current_vm_cid"] as? String
    }

    /// The host pid of the VM's nginx master: the nginx process whose parent is not nginx.
    func nginxMaster(env: Environment, cid: String) throws -> Int32? {
        let listing = try Environment.run(
            "/usr/sbin/runc", ["--root", env.cloudState.path + "/runc", "ps", "--format", "json", cid])
        let pids = (try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [Int]) ?? []
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let comm = stat.split(separator: "(").dropFirst().first?.split(separator: ")").first,
                comm == "nginx",
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: cmdline, as: UTF8.self).hasPrefix("nginx: master")
            else { continue }
            return Int32(pid)
        }
        return nil
    }
}
