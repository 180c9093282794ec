import Foundation
import SkiffCloud

/// The state file of one environment: the BOSH CLI's fields, plus what skiff needs to converge after a crash.
///
/// Field names and meanings follow the BOSH CLI's `<manifest>-state.json`, so that a state file written by
/// either tool can be read by the other.
public struct DeploymentState: Sendable, Hashable {
    /// A disk record.
    public struct Disk: Sendable, Hashable {
        public var id: String
        public var cid: String
        public var size: Int
        public var cloudProperties: [String: JSONValue]

        public init(id: String, cid: String, size: Int, cloudProperties: [String: JSONValue]) {
            self.id = id
            self.cid = cid
            self.size = size
            self.cloudProperties = cloudProperties
        }
    }

    /// A stemcell record.
    public struct Stemcell: Sendable, Hashable {
        public var id: String
        public var name: String
        public var version: String
        public var apiVersion: Int?
        public var cid: String

        public init(id: String, name: String, version: String, apiVersion: Int?, cid: String) {
            self.id = id
            self.name = name
            self.version = version
            self.apiVersion = apiVersion
            self.cid = cid
        }
    }

    /// A release record.
    public struct ReleaseRecord: Sendable, Hashable {
        public var id: String
        public var name: String
        public var version: String

        public init(id: String, name: String, version: String) {
            self.id = id
            self.name = name
            self.version = version
        }
    }

    public var directorID: String
    public var installationID: String
    public var currentVMCID: String
    public var currentStemcellID: String
    public var currentDiskID: String
    public var currentReleaseIDs: [String]
    public var currentManifestSHA: String
    public var disks: [Disk]
    public var stemcells: [Stemcell]
    public var releases: [ReleaseRecord]

    /// skiff's additions, kept under one key the BOSH CLI ignores.
    public var skiff: SkiffRecord

    /// What skiff records beyond the BOSH fields.
    public struct SkiffRecord: Sendable, Hashable {
        /// The agent id of a VM whose `create_vm` was sent but whose answer was not yet recorded.
        public var pendingAgentID: String?
        /// The agent id of the current VM.
        public var currentAgentID: String?
        /// The CPI that made the resources (`local`, `aws`, or an executable path).
        public var cpi: String?
        /// The addresses the last deploy verified, canonical text, e.g. `http://[fd53:6b69:6666:1::4]/`.
        public var urls: [String]
        /// A `create_stemcell` that was sent but whose cid was not yet recorded.
        public var pendingStemcell: PendingStemcell?
        /// A `create_disk` that was sent but whose cid was not yet recorded.
        public var pendingDisk: PendingDisk?
        /// The manifest the last deploy applied, every variable-sourced value redacted (see `RedactedManifest`).
        public var deployedManifest: JSONValue?
        /// A digest of each job's rendered files as the last deploy applied them, by job name.
        public var renderedJobs: [String: String]

        public init(
            pendingAgentID: String? = nil, currentAgentID: String? = nil, cpi: String? = nil, urls: [String] = [],
            pendingStemcell: PendingStemcell? = nil, pendingDisk: PendingDisk? = nil,
            deployedManifest: JSONValue? = nil,
            renderedJobs: [String: String] = [:]
        ) {
            self.pendingAgentID = pendingAgentID
            self.currentAgentID = currentAgentID
            self.cpi = cpi
            self.urls = urls
            self.pendingStemcell = pendingStemcell
            self.pendingDisk = pendingDisk
            self.deployedManifest = deployedManifest
            self.renderedJobs = renderedJobs
        }

        var isEmpty: Bool {
            pendingAgentID == nil && currentAgentID == nil && cpi == nil && urls.isEmpty && pendingStemcell == nil
                && pendingDisk == nil
                && deployedManifest == nil && renderedJobs.isEmpty
        }
    }

    /// A disk creation in flight: the id the cloud keeps with it, and the disk asked for.
    public struct PendingDisk: Sendable, Hashable {
        /// The id given to a cloud that can find a disk by it (``InterruptedCreationLookup``).
        public var creationID: String
        public var size: Int
        public var cloudProperties: [String: JSONValue]

        public init(creationID: String, size: Int, cloudProperties: [String: JSONValue]) {
            self.creationID = creationID
            self.size = size
            self.cloudProperties = cloudProperties
        }
    }

    /// A stemcell upload in flight: the id the cloud keeps with it, and what it is.
    public struct PendingStemcell: Sendable, Hashable {
        /// The id given to a cloud that can find a stemcell by it (``InterruptedCreationLookup``).
        public var creationID: String
        public var name: String
        public var version: String
        public var apiVersion: Int?

        public init(creationID: String, name: String, version: String, apiVersion: Int?) {
            self.creationID = creationID
            self.name = name
            self.version = version
            self.apiVersion = apiVersion
        }
    }

    /// A fresh state with new director and installation ids.
    public init() {
        directorID = UUID().uuidString.lowercased()
        installationID = UUID().uuidString.lowercased()
        currentVMCID = ""
        currentStemcellID = ""
        currentDiskID = ""
        currentReleaseIDs = []
        currentManifestSHA = ""
        disks = []
        stemcells = []
        releases = []
        skiff = SkiffRecord()
    }

    /// The current stemcell record, if any.
    public var currentStemcell: Stemcell? { stemcells.first { $0.id == currentStemcellID } }

    /// The current disk record, if any.
    public var currentDisk: Disk? { disks.first { $0.id == currentDiskID } }

    /// True when the state records no cloud resource at all.
    public var isEmpty: Bool {
        currentVMCID.isEmpty && disks.isEmpty && stemcells.isEmpty && skiff.pendingAgentID == nil
            && skiff.pendingStemcell == nil && skiff.pendingDisk == nil
    }
}

// MARK: - JSON

extension DeploymentState {
    /// Reads a state file's JSON, refusing records a later step could not act on (empty cids, dangling ids).
    public init(json data: Data, path: String) throws {
        let root: [String: JSONValue]
        do {
            guard let object = try JSONValue(parsing: data).objectValue else {
                throw DeployError(.state, "expected a JSON object", at: path)
            }
            root = object
        } catch let error as CloudError {
            throw DeployError(.state, error.message, at: path)
        }
        func string(_ key: String, _ object: [String: JSONValue], _ where: String) throws -> String {
            switch object[key] {
            case nil, .null?: return ""
            case .string(let value)?: return value
            case let other?:
                throw DeployError(.state, "\(`where`)\(key) must be a string, not \(other.typeName)", at: path)
            }
        }
        func records(_ key: String) throws -> [[String: JSONValue]] {
            switch root[key] {
            case nil, .null?: return []
            case .array(let items)?:
                return try items.enumerated().map { index, item in
                    guard let object = item.objectValue else {
                        throw DeployError(.state, "\(key)[\(index)] must be an object", at: path)
                    }
                    return object
                }
            case let other?: throw DeployError(.state, "\(key) must be an array, not \(other.typeName)", at: path)
            }
        }
        self.init()
        directorID = try string("director_id", root, "")
        installationID = try string("installation_id", root, "")
        if directorID.isEmpty { directorID = UUID().uuidString.lowercased() }
        if installationID.isEmpty { installationID = UUID().uuidString.lowercased() }
        currentVMCID = try string("current_vm_cid", root, "")
        currentStemcellID = try string("current_stemcell_id", root, "")
        currentDiskID = try string("current_disk_id", root, "")
        currentManifestSHA = try string("current_manifest_sha", root, "")
        currentReleaseIDs = (root["current_release_ids"]?.arrayValue ?? []).compactMap(\.stringValue)
        disks = try records("disks").enumerated().map { index, object in
            let at = "disks[\(index)]."
            return Disk(
                id: try string("id", object, at), cid: try string("cid", object, at),
                size: object["size"]?.intValue ?? 0,
                cloudProperties: object["cloud_properties"]?.objectValue ?? [:])
        }
        stemcells = try records("stemcells").enumerated().map { index, object in
            let at = "stemcells[\(index)]."
            return Stemcell(
                id: try string("id", object, at), name: try string("name", object, at),
                version: try string("version", object, at), apiVersion: object["api_version"]?.intValue,
                cid: try string("cid", object, at))
        }
        releases = try records("releases").enumerated().map { index, object in
            let at = "releases[\(index)]."
            return ReleaseRecord(
                id: try string("id", object, at), name: try string("name", object, at),
                version: try string("version", object, at))
        }
        if let extra = root["skiff"]?.objectValue {
            var pending: PendingStemcell?
            if let upload = extra["pending_stemcell"]?.objectValue, let id = upload["creation_id"]?.stringValue,
                !id.isEmpty
            {
                pending = PendingStemcell(
                    creationID: id, name: upload["name"]?.stringValue ?? "",
                    version: upload["version"]?.stringValue ?? "",
                    apiVersion: upload["api_version"]?.intValue)
            }
            var pendingDisk: PendingDisk?
            if let disk = extra["pending_disk"]?.objectValue, let id = disk["creation_id"]?.stringValue, !id.isEmpty {
                pendingDisk = PendingDisk(
                    creationID: id, size: disk["size"]?.intValue ?? 0,
                    cloudProperties: disk["cloud_properties"]?.objectValue ?? [:])
            }
            skiff = SkiffRecord(
                pendingAgentID: extra["pending_agent_id"]?.stringValue,
                currentAgentID: extra["current_agent_id"]?.stringValue,
                cpi: extra["cpi"]?.stringValue, urls: (extra["urls"]?.arrayValue ?? []).compactMap(\.stringValue),
                pendingStemcell: pending, pendingDisk: pendingDisk, deployedManifest: extra["deployed_manifest"],
                renderedJobs: (extra["rendered_jobs"]?.objectValue ?? [:]).compactMapValues(\.stringValue))
        }
        try validate(path: path)
    }

    /// Refuses a state that names resources it cannot reach: empty cids (bosh#2625, bosh-cli#731), dangling ids.
    func validate(path: String) throws {
        for (index, disk) in disks.enumerated() where disk.cid.isEmpty || disk.id.isEmpty {
            throw DeployError(.state, "disks[\(index)] has an empty \(disk.cid.isEmpty ? "cid" : "id")", at: path)
        }
        for (index, stemcell) in stemcells.enumerated() where stemcell.cid.isEmpty || stemcell.id.isEmpty {
            throw DeployError(
                .state, "stemcells[\(index)] has an empty \(stemcell.cid.isEmpty ? "cid" : "id")", at: path)
        }
        if !currentDiskID.isEmpty && currentDisk == nil {
            throw DeployError(.state, "current_disk_id '\(currentDiskID)' names no record in disks", at: path)
        }
        if !currentStemcellID.isEmpty && currentStemcell == nil {
            throw DeployError(
                .state, "current_stemcell_id '\(currentStemcellID)' names no record in stemcells", at: path)
        }
    }

    /// The state as the BOSH CLI writes it: four-space indents, its field order, no trailing newline.
    public func jsonData() -> Data {
        var out = JSONWriter()
        out.object { o in
            o.field("director_id") { $0.string(directorID) }
            o.field("installation_id") { $0.string(installationID) }
            o.field("current_vm_cid") { $0.string(currentVMCID) }
            o.field("current_stemcell_id") { $0.string(currentStemcellID) }
            o.field("current_disk_id") { $0.string(currentDiskID) }
            o.field("current_release_ids") { w in w.array(currentReleaseIDs) { $0.string($1) } }
            o.field("current_manifest_sha") { $0.string(currentManifestSHA) }
            o.field("disks") { w in
                w.array(disks) { w, disk in
                    w.object { d in
                        d.field("id") { $0.string(disk.id) }
                        d.field("cid") { $0.string(disk.cid) }
                        d.field("size") { $0.raw("\(disk.size)") }
                        d.field("cloud_properties") { $0.value(.object(disk.cloudProperties)) }
                    }
                }
            }
            o.field("stemcells") { w in
                w.array(stemcells) { w, stemcell in
                    w.object { s in
                        s.field("id") { $0.string(stemcell.id) }
                        s.field("name") { $0.string(stemcell.name) }
                        s.field("version") { $0.string(stemcell.version) }
                        if let api = stemcell.apiVersion, api != 0 { s.field("api_version") { $0.raw("\(api)") } }
                        s.field("cid") { $0.string(stemcell.cid) }
                    }
                }
            }
            o.field("releases") { w in
                w.array(releases) { w, release in
                    w.object { r in
                        r.field("id") { $0.string(release.id) }
                        r.field("name") { $0.string(release.name) }
                        r.field("version") { $0.string(release.version) }
                    }
                }
            }
            if !skiff.isEmpty {
                o.field("skiff") { w in
                    w.object { s in
                        if let cpi = skiff.cpi { s.field("cpi") { $0.string(cpi) } }
                        if let id = skiff.currentAgentID { s.field("current_agent_id") { $0.string(id) } }
                        if let id = skiff.pendingAgentID { s.field("pending_agent_id") { $0.string(id) } }
                        if !skiff.urls.isEmpty { s.field("urls") { w in w.array(skiff.urls) { $0.string($1) } } }
                        if let pending = skiff.pendingStemcell {
                            var upload: [String: JSONValue] = [
                                "creation_id": .string(pending.creationID), "name": .string(pending.name),
                                "version": .string(pending.version),
                            ]
                            if let api = pending.apiVersion { upload["api_version"] = .int(api) }
                            s.field("pending_stemcell") { $0.value(.object(upload)) }
                        }
                        if let disk = skiff.pendingDisk {
                            s.field("pending_disk") {
                                $0.value([
                                    "creation_id": .string(disk.creationID), "size": .int(disk.size),
                                    "cloud_properties": .object(disk.cloudProperties),
                                ])
                            }
                        }
                        if !skiff.renderedJobs.isEmpty {
                            s.field("rendered_jobs") { $0.value(.object(skiff.renderedJobs.mapValues { .string($0) })) }
                        }
                        if let manifest = skiff.deployedManifest { s.field("deployed_manifest") { $0.value(manifest) } }
                    }
                }
            }
        }
        return Data(out.text.utf8)
    }
}

/// Writes JSON with the BOSH CLI's layout: fields in the order given, four-space indents, `null` for empty arrays.
struct JSONWriter {
    private(set) var text = ""
    private var depth = 0

    /// Writes an object whose fields `body` adds.
    mutating func object(_ body: (inout ObjectWriter) -> Void) {
        var fields = ObjectWriter(depth: depth + 1)
        body(&fields)
        if fields.parts.isEmpty {
            text += "{}"
            return
        }
        text += "{\n" + fields.parts.joined(separator: ",\n") + "\n" + indent(depth) + "}"
    }

    /// Writes an array, or `null` when it is empty (as Go writes a nil slice).
    mutating func array<T>(_ items: [T], _ element: (inout JSONWriter, T) -> Void) {
        guard !items.isEmpty else {
            text += "null"
            return
        }
        let parts = items.map { item -> String in
            var writer = JSONWriter(depth: depth + 1)
            element(&writer, item)
            return indent(depth + 1) + writer.text
        }
        text += "[\n" + parts.joined(separator: ",\n") + "\n" + indent(depth) + "]"
    }

    mutating func string(_ value: String) { text += JSONWriter.quote(value) }

    mutating func raw(_ literal: String) { text += literal }

    /// Writes any JSON value, object keys sorted (as Go marshals maps).
    mutating func value(_ value: JSONValue) {
        switch value {
        case .object(let members):
            object { o in
                for key in members.keys.sorted() {
                    if let member = members[key] { o.field(key) { $0.value(member) } }
                }
            }
        case .array(let items):
            if items.isEmpty { text += "[]" } else { array(items) { $0.value($1) } }
        case .string(let string): self.string(string)
        default: text += value.description
        }
    }

    init(depth: Int = 0) { self.depth = depth }

    func indent(_ level: Int) -> String { String(repeating: "    ", count: level) }

    static func quote(_ value: String) -> String { JSONValue.string(value).description }

    /// Collects an object's fields.
    struct ObjectWriter {
        let depth: Int
        var parts: [String] = []

        mutating func field(_ key: String, _ body: (inout JSONWriter) -> Void) {
            var writer = JSONWriter(depth: depth)
            body(&writer)
            parts.append(String(repeating: "    ", count: depth) + JSONWriter.quote(key) + ": " + writer.text)
        }
    }
}
