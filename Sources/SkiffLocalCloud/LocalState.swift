import Foundation
import SkiffCloud

/// Where the local cloud records what it made: one directory per network, VM, disk and stemcell.
struct StateLayout: Sendable {
    let root: String

    var lockFile: String { root + "/lock" }
    var networks: String { root + "/networks" }
    var vms: String { root + "/vms" }
    var disks: String { root + "/disks" }
    var stemcells: String { root + "/stemcells" }

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
}

/// An imported stemcell.
struct StemcellRecord: Codable, Sendable, Hashable {
    var cid: String
    var agentCommand: [String]
    var cloudProperties: JSONValue
}

/// File helpers whose errors are `CloudError`s naming the path.
enum Files {
    static func makeDirectory(_ path: String, mode: Int = 0o755) throws(CloudError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw CloudError.cloud("cannot create directory '\(path)': \(error.localizedDescription)")
        }
    }

    /// Writes `data` atomically (temporary file, then rename) with `mode`.
    static func write(_ data: Data, to path: String, mode: Int = 0o644) throws(CloudError) {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode])
        else {
            throw CloudError.cloud("cannot write '\(path)'")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CloudError.cloud("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    static func write(_ text: String, to path: String, mode: Int = 0o644) throws(CloudError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func list(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
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
