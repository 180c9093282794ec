import Foundation
import SkiffCore
import SkiffManifest
import SkiffTemplates

/// Something in a manifest that is probably a mistake but does not stop the run: a key no schema level knows
/// (`static_ip:` for `static_ips:`), a job property the job's spec does not declare.
public struct ManifestWarning: Sendable, Hashable, CustomStringConvertible {
    /// Where: the file and line the key was read from, when known, and its field path, like
    /// `instance_groups[0].networks[0].static_ip`.
    public var location: SourceLocation
    /// What is wrong, with a suggestion when one is close.
    public var message: String

    /// Creates a warning.
    public init(at location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `Warning: file:line: field: message`.
    public var description: String { "Warning: " + location.prefixing(message) }
}

/// The keys create-env (and the BOSH manifest schema around it) knows at each level of a deployment manifest,
/// and the checks that find keys and job properties nobody reads.
public enum ManifestSchema {
    /// One level of the schema: its known keys and the levels below some of them.
    struct Level {
        var keys: Set<String>
        /// Keys whose value is a list of maps of the given level.
        var lists: [String: Level] = [:]
        /// Keys whose value is a map of the given level.
        var maps: [String: Level] = [:]
    }

    /// The deployment manifest as create-env reads it, plus the keys of director manifests bosh accepts silently
    /// (`stemcells`, `addons`, `features`, ...), so that a manifest shared with a director does not warn.
    static let root: Level = {
        let template = Level(keys: ["name", "release"])
        let cloudProvider = Level(
            keys: ["template", "templates", "mbus", "cert", "properties", "ssh_tunnel"],
            lists: ["templates": template],
            maps: [
                "template": template, "cert": Level(keys: ["ca", "certificate", "private_key"]),
                "ssh_tunnel": Level(keys: ["host", "port", "user", "password", "private_key"]),
            ])
        let subnet = Level(
            keys: ["range", "gateway", "dns", "static", "reserved", "cloud_properties", "azs", "az", "name"])
        let network = Level(
            keys: ["name", "type", "subnets", "dns", "cloud_properties", "ip", "netmask", "gateway"],
            lists: ["subnets": subnet])
        let stemcellRef = Level(keys: ["url", "sha1", "name", "version", "os", "alias"])
        let resourcePool = Level(
            keys: ["name", "network", "cloud_properties", "env", "stemcell", "size"], maps: ["stemcell": stemcellRef])
        let diskPool = Level(keys: ["name", "disk_size", "cloud_properties"])
        let job = Level(keys: ["name", "release", "properties", "consumes", "provides", "custom_provider_definitions"])
        let instanceNetwork = Level(keys: ["name", "static_ips", "default"])
        let healthCheck = Level(keys: ["scheme", "port", "path", "timeout"])
        let update = Level(
            keys: [
                "update_watch_time", "canaries", "max_in_flight", "canary_watch_time", "serial", "vm_strategy",
                "initial_deploy_az_update_strategy",
            ])
        let instanceGroup = Level(
            keys: [
                "name", "instances", "lifecycle", "jobs", "templates", "networks", "resource_pool", "persistent_disk",
                "persistent_disk_pool", "persistent_disk_type", "properties", "azs", "vm_type", "vm_resources",
                "vm_extensions", "stemcell", "update", "env", "migrated_from", "health_check",
            ],
            lists: ["jobs": job, "templates": job, "networks": instanceNetwork],
            maps: ["health_check": healthCheck, "update": update])
        let release = Level(keys: ["name", "version", "url", "sha1", "stemcell", "exported_from"])
        let variable = Level(keys: ["name", "type", "options", "consumes", "update_mode"])
        return Level(
            keys: [
                "name", "director_uuid", "releases", "stemcells", "networks", "resource_pools", "disk_pools",
                "instance_groups", "jobs", "cloud_provider", "variables", "update", "tags", "properties", "features",
                "addons", "compilation",
            ],
            lists: [
                "releases": release, "networks": network, "resource_pools": resourcePool, "disk_pools": diskPool,
                "instance_groups": instanceGroup, "jobs": instanceGroup, "variables": variable,
            ],
            maps: ["cloud_provider": cloudProvider, "update": update])
    }()

    /// Warnings for every key of `document` that no schema level knows, in document order.
    public static func unknownKeyWarnings(_ document: InterpolatedDocument) -> [ManifestWarning] {
        var warnings: [ManifestWarning] = []
        check(document.value, level: root, path: [], document: document, into: &warnings)
        return warnings
    }

    private static func check(
        _ value: ManifestValue, level: Level, path: [FieldPathComponent], document: InterpolatedDocument,
        into warnings: inout [ManifestWarning]
    ) {
        guard case .map(let map) = value else { return }
        for entry in map.entries {
            guard case .string(let key) = entry.key else { continue }
            let here = path + [.key(key)]
            if !level.keys.contains(key) {
                var message = "unknown key '\(key)' is ignored"
                if let suggestion = closest(to: key, among: level.keys) {
                    message += " (did you mean '\(suggestion)'?)"
                }
                warnings.append(warning(here, message, document))
                continue
            }
            if let below = level.maps[key] {
                check(entry.value, level: below, path: here, document: document, into: &warnings)
            } else if let below = level.lists[key], case .list(let items) = entry.value {
                for (index, item) in items.enumerated() {
                    check(item, level: below, path: here + [.index(index)], document: document, into: &warnings)
                }
            }
        }
    }

    /// Warnings for properties in `properties` (at `path` in `document`) that none of `declared` (the dotted
    /// property names of the job specs that read them) declares. A declared name covers everything under it;
    /// a map on the way to a declared name is looked into.
    public static func undeclaredPropertyWarnings(
        _ properties: ManifestValue, at path: [FieldPathComponent], declared: [String], jobs: String,
        document: InterpolatedDocument
    ) -> [ManifestWarning] {
        let names = Set(declared)
        var prefixes: Set<String> = []
        for name in declared {
            var parts = name.split(separator: ".").map(String.init)
            while parts.count > 1 {
                parts.removeLast()
                prefixes.insert(parts.joined(separator: "."))
            }
        }
        var warnings: [ManifestWarning] = []
        func walk(_ value: ManifestValue, _ dotted: String, _ fieldPath: [FieldPathComponent]) {
            guard case .map(let map) = value else { return }
            for entry in map.entries {
                let key = DeploymentManifestParser.scalarText(entry.key)
                let name = dotted.isEmpty ? key : dotted + "." + key
                let here = fieldPath + [.key(key)]
                if names.contains(name) { continue }
                if prefixes.contains(name) {
                    walk(entry.value, name, here)
                    continue
                }
                var message = "property '\(name)' is not declared by the spec of \(jobs)"
                if let suggestion = closest(to: name, among: names) { message += " (did you mean '\(suggestion)'?)" }
                warnings.append(warning(here, message, document))
            }
        }
        walk(properties, "", path)
        return warnings
    }

    /// Warnings for the properties of the (first) instance group's jobs that their specs do not declare: a job's
    /// own `properties` against its spec; the group's and the global `properties` (which BOSH hands to the jobs
    /// without their own) against the union of those jobs' specs. `declared(job, release)` gives a spec's
    /// property names, or nil when the job is unknown (it is then not checked).
    public static func jobPropertyWarnings(
        _ document: InterpolatedDocument, declared: (_ job: String, _ release: String) -> [String]?
    ) -> [ManifestWarning] {
        let root = document.value
        let groupsKey = root["instance_groups"] != nil ? "instance_groups" : "jobs"
        guard case .list(let groups)? = root[groupsKey], let group = groups.first else { return [] }
        let jobsKey = group["jobs"] != nil ? "jobs" : "templates"
        let groupPath: [FieldPathComponent] = [.key(groupsKey), .index(0)]
        var warnings: [ManifestWarning] = []
        var shared: [String] = []
        var sharedJobs: [String] = []
        var everyJobKnown = true
        for (index, job) in (group[jobsKey]?.listValue ?? []).enumerated() {
            guard case .string(let name)? = job["name"], case .string(let release)? = job["release"],
                let names = declared(name, release)
            else {
                everyJobKnown = false
                continue
            }
            if let own = job["properties"], own != .null {
                warnings += undeclaredPropertyWarnings(
                    own, at: groupPath + [.key(jobsKey), .index(index), .key("properties")], declared: names,
                    jobs: "job '\(name)'", document: document)
            } else {
                shared += names
                sharedJobs.append("'\(name)'")
            }
        }
        guard everyJobKnown, !sharedJobs.isEmpty else { return warnings }
        let jobs = (sharedJobs.count == 1 ? "job " : "jobs ") + sharedJobs.joined(separator: ", ")
        for (value, path) in [
            (group["properties"], groupPath + [.key("properties")]), (root["properties"], [.key("properties")]),
        ] {
            guard let value, value != .null else { continue }
            warnings += undeclaredPropertyWarnings(value, at: path, declared: shared, jobs: jobs, document: document)
        }
        return warnings
    }

    /// The dotted property names a job spec file declares, or nil when it cannot be read.
    public static func declaredProperties(specFile: URL) -> [String]? {
        guard let text = try? String(contentsOf: specFile, encoding: .utf8),
            let spec = try? JobSpec(yaml: text, file: specFile.lastPathComponent)
        else { return nil }
        return spec.properties.map(\.name)
    }

    private static func warning(
        _ path: [FieldPathComponent], _ message: String, _ document: InterpolatedDocument
    ) -> ManifestWarning {
        let location = document.location(of: FieldPath(path)) ?? SourceLocation()
        return ManifestWarning(at: location.appending(field: FieldPath(path).description), message: message)
    }

    /// The candidate closest to `word` when it is close enough to be a likely typo: an edit distance of at most 2
    /// (at most 1 for words of up to 4 characters); ties go to the first in sorted order.
    static func closest(to word: String, among candidates: Set<String>) -> String? {
        let limit = word.count <= 4 ? 1 : 2
        var best: String?
        var bestDistance = limit + 1
        for candidate in candidates.sorted() {
            let distance = editDistance(word, candidate, limit: limit)
            if distance < bestDistance {
                best = candidate
                bestDistance = distance
            }
        }
        return best
    }

    /// Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let x = Array(a.unicodeScalars)
        let y = Array(b.unicodeScalars)
        if abs(x.count - y.count) > limit { return limit + 1 }
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            var rowMinimum = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > limit { return limit + 1 }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}

/// Writes warnings to standard error, each at most once per process (a manifest is read more than once).
public final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private let write: @Sendable (String) -> Void

    /// A log writing each new line with `write`.
    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// The process's log on standard error.
    public static let standardError = WarningLog { text in FileHandle.standardError.write(Data(text.utf8)) }

    /// Writes the warnings not written before, one line each.
    public func report(_ warnings: [ManifestWarning]) {
        for warning in warnings {
            let line = warning.description
            lock.lock()
            let isNew = seen.insert(line).inserted
            lock.unlock()
            if isNew { write(line + "\n") }
        }
    }
}
