import Foundation
import SkiffCloud

#if canImport(Glibc)
    import Glibc
#endif

/// Where the local cloud records what it made: one directory per network, VM, disk and stemcell.
struct StateLayout: Sendable {
    let root: String

    var lockFile: String { root + "/lock" }
    var networks: String { root + "/networks" }
    var vms: String { root + "/vms" }
    var disks: String { root + "/disks" }
    var stemcells: String { root + "/stemcells" }
    var trash: String { root + "/trash" }
    /// runc's state root for this cloud's containers.
    var runtime: String { root + "/runc" }

    func network(_ name: String) -> String { networks + "/" + name }
    func vm(_ cid: String) -> String { vms + "/" + cid }
    func disk(_ cid: String) -> String { disks + "/" + cid }
    func stemcell(_ cid: String) -> String { stemcells + "/" + cid }

    /// Creates the state directory tree (0755; files holding secrets are 0600 themselves).
    func prepare() throws(CloudError) {
        for directory in [root, networks, vms, disks, stemcells] {
            try Files.makeDirectory(directory)
        }
    }
}

/// A network: a bridge, its addresses and its DHCPv6 server.
struct NetworkRecord: Codable, Sendable, Hashable {
    var name: String
    var bridge: String
    var ipv6Subnet: String
    var ipv6Router: String
    var ipv4Subnet: String?
    var ipv4Gateway: String?
    var dnsmasqPID: Int32?
}

/// A VM: a network namespace, a veth pair, a holder process and the VM's own root directory.
struct VMRecord: Codable, Sendable, Hashable {
    var cid: String
    var agentID: String
    var stemcell: String
    var network: String
    var netns: String
    var hostVeth: String
    var mac: String
    var ipv4: String?
    var ipv6: String?
    var holderPID: Int32?
    var disks: [String]
    var networks: JSONValue
    var metadata: [String: String]
    /// `creating` until create_vm finished; prune and delete clean up either way.
    var state: String
}

/// A persistent disk: a directory bind-mounted at the VM's /var/vcap/store.
struct DiskRecord: Codable, Sendable, Hashable {
    var cid: String
    var sizeMiB: Int
    var vm: String?
    /// The id create-env chose before sending `create_disk`, to find the disk if its cid was not recorded.
    var creationID: String? = nil
}

/// An imported stemcell.
struct StemcellRecord: Codable, Sendable, Hashable {
    var cid: String
    var agentCommand: [String]
    /// Where the agent reads its settings (``LocalStemcellImage/Agent/settings``); nil: `file`.
    var settings: String? = nil
    /// Directories that get a file system of the VM's own (``LocalStemcellImage/tmpfs``).
    var tmpfs: [String]? = nil
    /// Directories that are mount points of their own (``LocalStemcellImage/ownMounts``).
    var ownMounts: [String]? = nil
    var cloudProperties: JSONValue
    /// The id create-env chose before sending `create_stemcell`, to find the stemcell if its cid was not recorded.
    var uploadID: String? = nil
}

/// File helpers whose errors are `CloudError`s naming the path.
enum Files {
    /// Creates a directory and any missing parents (mkdir -p), with plain system calls.
    static func makeDirectory(_ path: String, mode: Int = 0o755) throws(CloudError) {
        if mkdir(path, mode_t(mode)) == 0 { return }
        switch errno {
        case EEXIST:
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw CloudError.cloud("cannot create directory '\(path)': a file of that name exists")
        case ENOENT:
            let parent = (path as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != path else { break }
            try makeDirectory(parent, mode: mode)
            if mkdir(path, mode_t(mode)) == 0 || errno == EEXIST { return }
        default:
            break
        }
        throw CloudError.cloud("cannot create directory '\(path)': \(String(cString: strerror(errno)))")
    }

    /// Writes `data` atomically with `mode` (``AtomicFile``).
    static func write(_ data: Data, to path: String, mode: Int = 0o644) throws(CloudError) {
        try AtomicFile.write(data, to: path, mode: UInt32(mode))
    }

    static func write(_ text: String, to path: String, mode: Int = 0o644) throws(CloudError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// Moves `path` into `trash` at once and removes it there in a detached process: deleting a directory tree
    /// costs tens of milliseconds on a file system mounted with `discard`, which no CPI call should wait for.
    /// `skiff local prune` removes whatever is left in the trash.
    static func discard(_ path: String, trash: String) {
        guard exists(path) else { return }
        let target = trash + "/" + Naming.randomID() + "-" + ((path as NSString).lastPathComponent)
        guard (try? makeDirectory(trash)) != nil, rename(path, target) == 0, let rm = ProcessRunner.find("rm") else {
            remove(path)
            return
        }
        if !ProcessRunner.spawnDetached(rm, ["-rf", "--one-file-system", target]) {
            remove(target)
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// True if `path` exists, a symbolic link counting as existing whatever it points to.
    static func existsNoFollow(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// True if `path` is a symbolic link.
    static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Removes a file or a directory tree; never follows symbolic links. (FileManager's removeItem takes tens of
    /// milliseconds for a VM's small tree on Linux; this takes well under one.)
    static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in entries(path) { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// The names in a directory, `.` and `..` left out.
    static func entries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Copies a directory tree (directories, regular files with their modes, symbolic links).
    static func copyTree(_ source: String, to destination: String) throws(CloudError) {
        var info = stat()
        guard lstat(source, &info) == 0 else {
            throw CloudError.cloud("cannot copy '\(source)': \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            guard mkdir(destination, info.st_mode & 0o7777) == 0 || errno == EEXIST else {
                throw CloudError.cloud("cannot create '\(destination)': \(String(cString: strerror(errno)))")
            }
            for name in entries(source) { try copyTree(source + "/" + name, to: destination + "/" + name) }
        case S_IFLNK:
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: source),
                symlink(target, destination) == 0
            else {
                throw CloudError.cloud("cannot copy the link '\(source)'")
            }
        case S_IFREG:
            guard let data = FileManager.default.contents(atPath: source),
                FileManager.default.createFile(
                    atPath: destination, contents: data, attributes: [.posixPermissions: Int(info.st_mode & 0o7777)])
            else {
                throw CloudError.cloud("cannot copy '\(source)' to '\(destination)'")
            }
        default:
            return
        }
    }

    static func list(_ directory: String) -> [String] {
        entries(directory).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func save<T: Encodable>(_ value: T, to path: String, mode: Int = 0o644) throws(CloudError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw CloudError.cloud("cannot encode '\(path)': \(error)")
        }
        try write(data, to: path, mode: mode)
    }

    static func load<T: Decodable>(_ type: T.Type, from path: String) throws(CloudError) -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw CloudError.cloud("the local cloud's record '\(path)' is damaged: \(error)")
        }
    }
}
