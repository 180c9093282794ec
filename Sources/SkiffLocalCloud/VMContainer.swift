import Foundation
import SkiffCloud

#if canImport(Glibc)
    import Glibc
#endif

/// How a local VM runs: an OCI container of its stemcell's root filesystem, started by `runc`.
///
/// The VM has its own user, mount, PID, UTS, IPC and network namespaces. Its root user is host uid
/// ``VMContainer/hostIDBase`` (an unprivileged id no host account uses), so what root in a VM may do — set its
/// hostname, mount, configure its network, write its `/etc` — reaches nothing outside the VM. Its root filesystem is
/// an overlay: the stemcell's image, shared and read-only, under a writable layer of the VM's own, so creating a VM
/// copies nothing.
enum VMContainer {
    /// The host uid and gid that a VM's uid and gid 0 map to; VM ids 0..<``idCount`` map to the range above it.
    static let hostIDBase: UInt32 = 2_000_000_000
    /// How many ids a VM has.
    static let idCount: UInt32 = 65536

    /// The VM's first process: tini reaps orphans as an init must, and the stemcell's `skiff-init` makes `/proc/sys`
    /// read-only but for `net.*` and runs the agent command given after it.
    static let initCommand = ["/usr/bin/tini", "--", "/var/vcap/bosh/bin/skiff-init"]

    /// Where an agent that mounts disks itself (bosh-agent) finds each attached disk: `<this>/<disk cid>`, which
    /// it bind-mounts on `/var/vcap/store` (as on bosh-lite's containers).
    static let agentDisksDirectory = "/var/vcap/bosh/disks"

    /// `PATH` inside a VM.
    static let path = "/var/vcap/bosh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// True if `program` (a path, or a name looked up on ``path``) exists in the VM root filesystem at `root`.
    static func find(_ program: String, inRoot root: String) -> Bool {
        if program.hasPrefix("/") { return Files.existsNoFollow(root + program) }
        return path.split(separator: ":").contains { Files.existsNoFollow(root + $0 + "/" + program) }
    }

    /// What root in a VM may do inside its own namespaces. `CAP_SYS_ADMIN` is there because an agent sets the
    /// hostname and mounts disks; capabilities that act on the host's hardware or kernel as a whole (modules, raw
    /// I/O, the clock, `CAP_SYS_RESOURCE`, which this kind of host does not even grant) are not.
    static let capabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_SYS_NICE",
        "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
    ]

    /// The OCI runtime configuration (`config.json`) of a VM whose bundle directory holds `root/`.
    ///
    /// `store` is the host directory shown at `/var/vcap/store` with slave propagation: a persistent disk is
    /// attached by bind-mounting it on `store` on the host, and the mount appears inside the running VM.
    /// `ownMounts` lists directories of the root bound onto themselves, so they are mount points already (the BOSH
    /// agent binds `/home` onto itself and remounts it unless it is one).
    ///
    /// `tmpfs` lists directories that get a file system of the VM's own (a tmpfs, 1 GiB at most): a superblock
    /// owned by the VM's user namespace, which its root may remount with other flags (the BOSH agent remounts its
    /// log directory `nodev,nosuid,noexec`; the overlay root belongs to the host and refuses that).
    ///
    /// `storeTarget` is where `store` appears: `/var/vcap/store` itself for skiff's agent, or
    /// ``agentDisksDirectory`` for an agent that mounts each disk there itself.
    static func configuration(
        hostname: String, command: [String], store: String, cgroup: String, tmpfs: [String] = [],
        ownMounts: [String] = [], storeTarget: String = "/var/vcap/store"
    ) -> JSONValue {
        let caps = JSONValue.array(capabilities.map { .string($0) })
        func mount(_ destination: String, _ type: String, _ source: String, _ options: [String]) -> JSONValue {
            [
                "destination": .string(destination), "type": .string(type), "source": .string(source),
                "options": .array(options.map { .string($0) }),
            ]
        }
        let ids: JSONValue = [
            ["containerID": 0, "hostID": .int(Int(hostIDBase)), "size": .int(Int(idCount))]
        ]
        return [
            "ociVersion": "1.0.2",
            "process": [
                "terminal": false,
                "user": ["uid": 0, "gid": 0],
                "args": .array(command.map { .string($0) }),
                "env": [.string("PATH=" + path), "HOME=/root", "LANG=C.UTF-8"],
                "cwd": "/",
                "capabilities": ["bounding": caps, "effective": caps, "permitted": caps],
                "noNewPrivileges": false,
            ],
            "root": ["path": "root", "readonly": false],
            "hostname": .string(hostname),
            "mounts": .array(
                [
                    mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
                    mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                    mount(
                        "/dev/pts", "devpts", "devpts",
                        ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
                    mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                    mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
                    mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
                    mount("/run", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=755", "size=65536k"]),
                    mount("/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1777", "size=1048576k"]),
                    mount(storeTarget, "bind", store, ["rbind", "rslave"]),
                ] + tmpfs.map { mount($0, "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=755", "size=1048576k"]) }
                    + ownMounts.map { mount($0, "bind", "root" + $0, ["rbind"]) }),
            "linux": [
                "uidMappings": ids,
                "gidMappings": ids,
                "namespaces": [
                    ["type": "user"], ["type": "pid"], ["type": "network"], ["type": "ipc"], ["type": "uts"],
                    ["type": "mount"],
                ],
                "cgroupsPath": .string(cgroup),
                "maskedPaths": [
                    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                ],
                // /proc/sys is made read-only, all but net.*, by the stemcell's init (skiff-init): runc refuses
                // a mount inside /proc, and a read-only /proc/sys here would leave no way to keep net.* writable.
                "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"],
            ],
        ]
    }

    /// Gives a tree extracted as host root to a VM's root: every uid and gid is moved up by ``hostIDBase``;
    /// set-id bits, which `chown` clears, are put back.
    static func shiftOwnership(of root: String) throws(CloudError) {
        var failure: String?
        func visit(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            if info.st_uid < hostIDBase || info.st_gid < hostIDBase {
                let uid = info.st_uid < idCount ? info.st_uid + hostIDBase : info.st_uid
                let gid = info.st_gid < idCount ? info.st_gid + hostIDBase : info.st_gid
                if lchown(path, uid, gid) != 0 {
                    failure = failure ?? "cannot change the owner of '\(path)': \(String(cString: strerror(errno)))"
                }
                if (info.st_mode & S_IFMT) != S_IFLNK, info.st_mode & 0o6000 != 0 {
                    chmod(path, info.st_mode & 0o7777)
                }
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                for name in Files.entries(path) { visit(path + "/" + name) }
            }
        }
        visit(root)
        if let failure { throw CloudError.cloud(failure) }
    }

    /// Checks that a VM's root user can reach `path`: every existing directory on the way must let others search
    /// it, since runc mounts a VM's root filesystem as the VM's own (unprivileged) root.
    static func checkReachable(_ path: String) throws(CloudError) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else { return }
            if info.st_mode & 0o001 == 0 {
                let mode = String(info.st_mode & 0o777, radix: 8)
                throw CloudError.cloud(
                    "local VMs run as host uid \(hostIDBase), which cannot reach the state directory '\(path)': "
                        + "'\(current)' has mode 0\(mode); let others search it (chmod o+x '\(current)') "
                        + "or choose another state_dir")
            }
        }
    }

    /// Makes a file or directory the VM's root's own.
    static func giveToVMRoot(_ path: String) {
        _ = lchown(path, hostIDBase, hostIDBase)
    }
}

/// Mounts the local cloud makes on the host for its VMs.
enum Mounts {
    /// Mount points at or under `path`, deepest first, from `/proc/self/mountinfo`.
    static func under(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = unescape(String(fields[4]))
            if point == path || point.hasPrefix(path + "/") { result.append(point) }
        }
        return result.sorted { $0.count > $1.count }
    }

    /// Detaches every mount at or under `path` (lazily: busy ones go when their last user does), so that removing
    /// `path` afterwards can never reach into a disk or an image.
    static func detachAll(under path: String) {
        for point in under(path) {
            _ = umount2(point, Int32(MNT_DETACH))
        }
    }

    private static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\\", let end = text.index(index, offsetBy: 4, limitedBy: text.endIndex),
                let code = UInt8(text[text.index(after: index)..<end], radix: 8)
            {
                result.append(Character(UnicodeScalar(code)))
                index = end
            } else {
                result.append(character)
                index = text.index(after: index)
            }
        }
        return result
    }
}

/// `sysctl.d` files as `sysctl --system` reads them.
enum SysctlFile {
    /// The `net.*` settings of a file, in order: the only ones a VM may set, since they belong to its own network
    /// namespace.
    static func netSettings(_ text: String) -> [(key: String, value: String)] {
        var result: [(String, String)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            var entry = line.trimmingCharacters(in: .whitespaces)
            if entry.hasPrefix("-") { entry.removeFirst() }
            guard !entry.hasPrefix("#"), !entry.hasPrefix(";"), let equals = entry.firstIndex(of: "=") else {
                continue
            }
            let key = entry[..<equals].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "/", with: ".")
            let value = entry[entry.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard key.hasPrefix("net."), !key.contains(".."),
                key.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) })
            else { continue }
            result.append((key, value))
        }
        return result
    }
}
