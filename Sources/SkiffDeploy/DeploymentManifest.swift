import Foundation
import SkiffAgentClient
import SkiffCloud
import SkiffCore
import SkiffManifest
import SkiffNet

/// A create-env manifest after interpolation and validation: one instance group, one VM, its disk and networks.
public struct DeploymentManifest: Sendable {
    /// A `releases` entry.
    public struct ReleaseRef: Sendable, Hashable {
        public var name: String
        public var url: String
        public var sha1: String?
    }

    /// The `cloud_provider` section.
    public struct CloudProviderSpec: Sendable {
        public var templateName: String
        public var templateRelease: String
        /// The agent's mbus URL, with credentials (a secret: never print it whole).
        public var mbus: String
        /// The CA that signs the agent's certificate (`cert.ca`), PEM; nil skips verification, as bosh does.
        public var caPEM: String?
        public var properties: JSONValue
    }

    /// A network as the manifest declares it.
    public struct Network: Sendable {
        public enum Kind: String, Sendable { case manual, dynamic, vip }
        public var name: String
        public var type: Kind
        public var subnet: Subnet?
        public var dns: [IPAddress]
        public var cloudProperties: [String: JSONValue]
    }

    /// The one subnet of a manual network.
    public struct Subnet: Sendable {
        public var range: IPPrefix
        public var gateway: IPAddress
        public var dns: [IPAddress]
        public var cloudProperties: [String: JSONValue]
    }

    /// A network of the instance group.
    public struct InstanceNetwork: Sendable {
        public var name: String
        public var staticIPs: [IPAddress]
        public var defaults: [String]
    }

    /// A job of the instance group.
    public struct JobRef: Sendable {
        public var name: String
        public var release: String
        /// The job's own `properties`, if the manifest gives them (they then replace all other properties).
        public var properties: ManifestValue?
    }

    public var name: String
    public var releases: [ReleaseRef]
    public var cloudProvider: CloudProviderSpec
    public var networks: [Network]
    public var instanceGroup: String
    public var jobs: [JobRef]
    public var instanceNetworks: [InstanceNetwork]
    public var stemcellURL: String
    public var stemcellSHA1: String?
    public var vmCloudProperties: [String: JSONValue]
    public var vmEnv: [String: JSONValue]
    /// Persistent disk size in MiB, 0 for none.
    public var diskSize: Int
    public var diskCloudProperties: [String: JSONValue]
    public var globalProperties: ManifestValue
    public var groupProperties: ManifestValue
    public var tags: [String: String]
    /// `update.update_watch_time` in milliseconds.
    public var watchTime: ClosedRange<Int>
    /// The instance group's `health_check` (a skiff extension), if any.
    public var healthCheck: HealthCheckSpec?

    /// The networks as the CPI and the agent receive them (BOSH's network interface map).
    public var cpiNetworks: [String: CPINetwork] {
        var result: [String: CPINetwork] = [:]
        for instanceNetwork in instanceNetworks {
            guard let network = networks.first(where: { $0.name == instanceNetwork.name }) else { continue }
            var entry = CPINetwork(type: network.type.rawValue)
            entry.ip = instanceNetwork.staticIPs.first
            switch network.type {
            case .manual:
                if let subnet = network.subnet {
                    entry.gateway = subnet.gateway
                    entry.netmask = subnet.range.netmask
                    if !subnet.dns.isEmpty { entry.dns = subnet.dns }
                    entry.cloudProperties = subnet.cloudProperties
                }
            case .dynamic:
                entry.cloudProperties = network.cloudProperties
                if !network.dns.isEmpty { entry.dns = network.dns }
            case .vip:
                entry.cloudProperties = network.cloudProperties
            }
            if instanceNetworks.count == 1 {
                entry.defaults = ["dns", "gateway"]
            } else if !instanceNetwork.defaults.isEmpty {
                entry.defaults = instanceNetwork.defaults
            }
            result[instanceNetwork.name] = entry
        }
        return result
    }

    /// The instance's addresses, IPv4 first, each family's default network first.
    public var staticAddresses: [IPAddress] {
        instanceNetworks.flatMap(\.staticIPs).sorted()
    }
}

/// Reads and validates the deployment part of an interpolated create-env manifest.
///
/// Every problem is reported with the file and line it came from and the field path as the user wrote it.
public struct DeploymentManifestParser {
    let document: InterpolatedDocument
    private var problems: [String] = []

    /// A parser over an interpolated document.
    public init(document: InterpolatedDocument) {
        self.document = document
    }

    /// Parses and validates; throws one ``DeployError`` listing every problem, one per line.
    public static func parse(_ document: InterpolatedDocument) throws -> DeploymentManifest {
        WarningLog.standardError.report(ManifestSchema.unknownKeyWarnings(document))
        var parser = DeploymentManifestParser(document: document)
        let manifest = parser.read()
        guard parser.problems.isEmpty, let manifest else {
            throw DeployError(.manifest, parser.problems.joined(separator: "\n"))
        }
        return manifest
    }

    // MARK: - Reading

    private mutating func read() -> DeploymentManifest? {
        let root = document.value
        guard root.mapValue != nil else {
            problem([], "the manifest must be a map")
            return nil
        }
        let name = requiredString(root, [.key("name")]) ?? ""
        let releases = readReleases(root)
        let networks = readNetworks(root)
        let cloudProvider = readCloudProvider(root, releases: releases)

        // resource_pools (the create-env schema), one pool.
        let poolPath: [FieldPathComponent] = [.key("resource_pools")]
        let pools = list(root["resource_pools"], poolPath, required: true)
        var poolNames: [String] = []
        for (index, pool) in pools.enumerated() {
            let path = poolPath + [.index(index)]
            poolNames.append(requiredString(pool, path + [.key("name")]) ?? "")
            if let network = requiredString(pool, path + [.key("network")]),
                !networks.contains(where: { $0.name == network })
            {
                problem(path + [.key("network")], "'\(network)' must be the name of a network")
            }
            let stemcell = pool["stemcell"] ?? .null
            if let url = requiredString(stemcell, path + [.key("stemcell"), .key("url")]) {
                checkURL(url, path + [.key("stemcell"), .key("url")], sha1: stemcell["sha1"]?.stringValue)
            }
        }

        // disk_pools
        let diskPoolsPath: [FieldPathComponent] = [.key("disk_pools")]
        let diskPools = list(root["disk_pools"], diskPoolsPath, required: false)
        for (index, pool) in diskPools.enumerated() {
            let path = diskPoolsPath + [.index(index)]
            _ = requiredString(pool, path + [.key("name")])
            if let size = integer(pool["disk_size"], path + [.key("disk_size")]), size <= 0 {
                problem(path + [.key("disk_size")], "must be > 0")
            }
        }

        // instance_groups, or the older jobs form.
        let groupsKey = root["instance_groups"] != nil ? "instance_groups" : "jobs"
        if root["instance_groups"] != nil && root["jobs"] != nil {
            problem([.key("jobs")], "the manifest has both jobs and instance_groups; only one is allowed")
        }
        let groupsPath: [FieldPathComponent] = [.key(groupsKey)]
        let groups = list(root[groupsKey], groupsPath, required: true)
        if groups.count > 1 {
            problem(groupsPath, "create-env deploys exactly one instance group, found \(groups.count)")
        }
        guard let group = groups.first else { return nil }
        let groupPath = groupsPath + [.index(0)]
        let groupName = requiredString(group, groupPath + [.key("name")]) ?? ""
        if let instances = integer(group["instances"], groupPath + [.key("instances")]), instances != 1 {
            problem(groupPath + [.key("instances")], "must be 1 (create-env deploys one instance), not \(instances)")
        }
        if let lifecycle = group["lifecycle"]?.stringValue, lifecycle != "service" {
            problem(groupPath + [.key("lifecycle")], "must be 'service' ('\(lifecycle)' not supported)")
        }
        let jobs = readJobs(group, groupPath, releases: releases)
        let instanceNetworks = readInstanceNetworks(group, groupPath, networks: networks)

        let poolName = requiredString(group, groupPath + [.key("resource_pool")])
        var pool: ManifestValue = .null
        if let poolName {
            if let index = poolNames.firstIndex(of: poolName) {
                pool = pools[index]
            } else {
                problem(groupPath + [.key("resource_pool")], "'\(poolName)' must be the name of a resource pool")
            }
        }
        var diskSize = 0
        var diskProperties: [String: JSONValue] = [:]
        if let diskPoolName = group["persistent_disk_pool"]?.stringValue {
            if let diskPool = diskPools.first(where: { $0["name"]?.stringValue == diskPoolName }) {
                diskSize = diskPool["disk_size"].flatMap(Self.intValue) ?? 0
                diskProperties = object(diskPool["cloud_properties"], [])
            } else {
                problem(groupPath + [.key("persistent_disk_pool")], "'\(diskPoolName)' must be the name of a disk pool")
            }
        } else if let size = integer(group["persistent_disk"], groupPath + [.key("persistent_disk")]) {
            if size < 0 { problem(groupPath + [.key("persistent_disk")], "must be >= 0") }
            diskSize = max(0, size)
        }

        var tags: [String: String] = [:]
        for entry in root["tags"]?.mapValue?.entries ?? [] {
            tags[Self.scalarText(entry.key)] = Self.scalarText(entry.value)
        }
        let watchTime = readWatchTime(root)
        let healthCheck = readHealthCheck(group, groupPath + [.key("health_check")])

        guard let cloudProvider else { return nil }
        return DeploymentManifest(
            name: name, releases: releases, cloudProvider: cloudProvider, networks: networks, instanceGroup: groupName,
            jobs: jobs, instanceNetworks: instanceNetworks,
            stemcellURL: pool["stemcell"]?["url"]?.stringValue ?? "",
            stemcellSHA1: pool["stemcell"]?["sha1"]?.stringValue,
            vmCloudProperties: object(pool["cloud_properties"], []), vmEnv: object(pool["env"], []),
            diskSize: diskSize, diskCloudProperties: diskProperties,
            globalProperties: root["properties"] ?? .null, groupProperties: group["properties"] ?? .null,
            tags: tags, watchTime: watchTime, healthCheck: healthCheck)
    }

    private mutating func readReleases(_ root: ManifestValue) -> [DeploymentManifest.ReleaseRef] {
        let path: [FieldPathComponent] = [.key("releases")]
        var result: [DeploymentManifest.ReleaseRef] = []
        for (index, release) in list(root["releases"], path, required: false).enumerated() {
            let at = path + [.index(index)]
            guard let name = requiredString(release, at + [.key("name")]) else { continue }
            if result.contains(where: { $0.name == name }) { problem(at + [.key("name")], "'\(name)' must be unique") }
            guard let url = requiredString(release, at + [.key("url")]) else { continue }
            checkURL(url, at + [.key("url")], sha1: release["sha1"]?.stringValue)
            result.append(.init(name: name, url: url, sha1: release["sha1"]?.stringValue))
        }
        return result
    }

    private mutating func readCloudProvider(
        _ root: ManifestValue, releases: [DeploymentManifest.ReleaseRef]
    ) -> DeploymentManifest.CloudProviderSpec? {
        let path: [FieldPathComponent] = [.key("cloud_provider")]
        guard let provider = root["cloud_provider"], provider.mapValue != nil else {
            problem(path, "must be provided")
            return nil
        }
        let template = provider["template"] ?? .null
        let name = requiredString(template, path + [.key("template"), .key("name")]) ?? ""
        let release = requiredString(template, path + [.key("template"), .key("release")]) ?? ""
        let builtIn = BuiltInCPI(templateName: name, release: release) != nil
        if !builtIn && !release.isEmpty && !releases.contains(where: { $0.name == release }) {
            problem(path + [.key("template"), .key("release")], "'\(release)' must refer to a release in releases")
        }
        let mbus = requiredString(provider, path + [.key("mbus")]) ?? ""
        if !mbus.isEmpty {
            do {
                _ = try MbusURL(parsing: mbus)
            } catch {
                problem(
                    path + [.key("mbus")],
                    "must be an https:// URL with credentials, like https://mbus:PASSWORD@10.0.0.7:6868 (IPv6 hosts in "
                        + "brackets): \(error.message)")
            }
        }
        var caPEM: String?
        if let cert = provider["cert"] {
            caPEM = cert["ca"]?.stringValue
            if let ca = caPEM, !ca.isEmpty, !ca.contains("-----BEGIN CERTIFICATE-----") {
                problem(path + [.key("cert"), .key("ca")], "must be a PEM certificate")
            }
        }
        return .init(
            templateName: name, templateRelease: release, mbus: mbus, caPEM: caPEM?.isEmpty == true ? nil : caPEM,
            properties: JSONValue(converting: provider["properties"] ?? .map(ManifestMap())))
    }

    private mutating func readNetworks(_ root: ManifestValue) -> [DeploymentManifest.Network] {
        let path: [FieldPathComponent] = [.key("networks")]
        var result: [DeploymentManifest.Network] = []
        for (index, network) in list(root["networks"], path, required: true).enumerated() {
            let at = path + [.index(index)]
            let name = requiredString(network, at + [.key("name")]) ?? ""
            let typeText = network["type"]?.stringValue ?? ""
            guard let type = DeploymentManifest.Network.Kind(rawValue: typeText) else {
                problem(at + [.key("type")], "must be 'manual', 'dynamic', or 'vip'")
                continue
            }
            var subnet: DeploymentManifest.Subnet?
            if type == .manual {
                let subnets = list(network["subnets"], at + [.key("subnets")], required: true)
                if subnets.count != 1 {
                    problem(at + [.key("subnets")], "must have exactly one subnet, found \(subnets.count)")
                }
                if let first = subnets.first {
                    subnet = readSubnet(first, at + [.key("subnets"), .index(0)])
                }
            }
            let dns = addresses(network["dns"], at + [.key("dns")])
            result.append(
                .init(
                    name: name, type: type, subnet: subnet, dns: dns,
                    cloudProperties: object(network["cloud_properties"], [])))
        }
        return result
    }

    private mutating func readSubnet(_ value: ManifestValue, _ path: [FieldPathComponent]) -> DeploymentManifest.Subnet?
    {
        guard let rangeText = requiredString(value, path + [.key("range")]) else { return nil }
        let range: IPPrefix
        do {
            range = try IPPrefix(parsing: rangeText)
        } catch {
            problem(path + [.key("range")], "must be an IP range: \(error)")
            return nil
        }
        guard let gatewayText = requiredString(value, path + [.key("gateway")]) else { return nil }
        let gateway: IPAddress
        do {
            gateway = try IPAddress(parsing: gatewayText)
        } catch {
            problem(path + [.key("gateway")], "must be an IP: \(error)")
            return nil
        }
        if !range.contains(gateway) {
            problem(path + [.key("gateway")], "gateway '\(gateway)' must be within the range '\(range)'")
        } else if gateway == range.first {
            problem(path + [.key("gateway")], "gateway can't be the network address '\(gateway)'")
        } else if case .v4 = range, gateway == range.last {
            problem(path + [.key("gateway")], "gateway can't be the broadcast address '\(gateway)'")
        }
        return .init(
            range: range, gateway: gateway, dns: addresses(value["dns"], path + [.key("dns")]),
            cloudProperties: object(value["cloud_properties"], []))
    }

    private mutating func readJobs(
        _ group: ManifestValue, _ groupPath: [FieldPathComponent], releases: [DeploymentManifest.ReleaseRef]
    ) -> [DeploymentManifest.JobRef] {
        let key = group["jobs"] != nil ? "jobs" : "templates"
        if group["jobs"] != nil && group["templates"] != nil {
            problem(
                groupPath + [.key("templates")], "the instance group has both templates and jobs; only one is allowed")
        }
        let path = groupPath + [.key(key)]
        var result: [DeploymentManifest.JobRef] = []
        for (index, job) in list(group[key], path, required: true).enumerated() {
            let at = path + [.index(index)]
            guard let name = requiredString(job, at + [.key("name")]) else { continue }
            if result.contains(where: { $0.name == name }) { problem(at + [.key("name")], "'\(name)' must be unique") }
            guard let release = requiredString(job, at + [.key("release")]) else { continue }
            if !releases.contains(where: { $0.name == release }) {
                problem(at + [.key("release")], "'\(release)' must refer to a release in releases")
            }
            result.append(.init(name: name, release: release, properties: job["properties"]))
        }
        return result
    }

    private mutating func readInstanceNetworks(
        _ group: ManifestValue, _ groupPath: [FieldPathComponent], networks: [DeploymentManifest.Network]
    ) -> [DeploymentManifest.InstanceNetwork] {
        let path = groupPath + [.key("networks")]
        let items = list(group["networks"], path, required: true)
        if items.isEmpty { problem(path, "must be a non-empty array") }
        var result: [DeploymentManifest.InstanceNetwork] = []
        var seenAddresses: [IPAddress: [FieldPathComponent]] = [:]
        for (index, item) in items.enumerated() {
            let at = path + [.index(index)]
            guard let name = requiredString(item, at + [.key("name")]) else { continue }
            let network = networks.first { $0.name == name }
            if network == nil { problem(at + [.key("name")], "'\(name)' not found in networks") }
            var staticIPs: [IPAddress] = []
            for (ipIndex, ipValue) in (item["static_ips"]?.listValue ?? []).enumerated() {
                let ipPath = at + [.key("static_ips"), .index(ipIndex)]
                let text = Self.scalarText(ipValue)
                guard let ip = parseAddress(text, ipPath) else { continue }
                if let earlier = seenAddresses[ip] {
                    problem(ipPath, "address '\(ip)' is already used at \(FieldPath(earlier))")
                }
                seenAddresses[ip] = ipPath
                if let subnet = network?.subnet {
                    if !subnet.range.contains(ip) {
                        problem(ipPath, "static ip '\(ip)' must be within the subnet range '\(subnet.range)'")
                    } else if ip == subnet.gateway {
                        problem(ipPath, "static ip '\(ip)' is the subnet's gateway")
                    }
                }
                staticIPs.append(ip)
            }
            var defaults: [String] = []
            for (defaultIndex, value) in (item["default"]?.listValue ?? []).enumerated() {
                let text = Self.scalarText(value)
                if text != "dns" && text != "gateway" {
                    problem(at + [.key("default"), .index(defaultIndex)], "must be 'dns' or 'gateway'")
                }
                defaults.append(text)
            }
            result.append(.init(name: name, staticIPs: staticIPs, defaults: defaults))
        }
        if result.count > 1 {
            for kind in ["dns", "gateway"] {
                let count = result.filter { $0.defaults.contains(kind) }.count
                if count == 0 { problem(path, "with multiple networks, a default for '\(kind)' must be specified") }
                if count > 1 { problem(path, "only one network can be the default for '\(kind)'") }
            }
        }
        return result
    }

    private mutating func readWatchTime(_ root: ManifestValue) -> ClosedRange<Int> {
        let path: [FieldPathComponent] = [.key("update"), .key("update_watch_time")]
        guard let value = root["update"]?["update_watch_time"] else { return 0...300_000 }
        let text = Self.scalarText(value)
        let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 0, high >= low else {
            problem(path, "invalid watch time range '\(text)' (expected MIN-MAX in milliseconds, MAX >= MIN)")
            return 0...300_000
        }
        return low...high
    }

    private mutating func readHealthCheck(_ group: ManifestValue, _ path: [FieldPathComponent]) -> HealthCheckSpec? {
        guard let value = group["health_check"], value != .null else { return nil }
        guard value.mapValue != nil else {
            problem(path, "must be a map like {port: 80, path: /}")
            return nil
        }
        var spec = HealthCheckSpec()
        if let scheme = value["scheme"]?.stringValue {
            guard scheme == "http" || scheme == "https" else {
                problem(path + [.key("scheme")], "must be 'http' or 'https', not '\(scheme)'")
                return nil
            }
            spec.scheme = scheme
            spec.port = scheme == "https" ? 443 : 80
        }
        if let port = integer(value["port"], path + [.key("port")]) {
            guard (1...65535).contains(port) else {
                problem(path + [.key("port")], "must be a port number from 1 to 65535, not \(port)")
                return nil
            }
            spec.port = port
        }
        if let requestPath = value["path"]?.stringValue {
            spec.path = requestPath.hasPrefix("/") ? requestPath : "/" + requestPath
        }
        if let seconds = integer(value["timeout"], path + [.key("timeout")]) {
            spec.timeout = .seconds(max(1, seconds))
        }
        return spec
    }

    // MARK: - Helpers

    private mutating func problem(_ path: [FieldPathComponent], _ message: String) {
        let fieldPath = FieldPath(path)
        let location = document.location(of: fieldPath) ?? SourceLocation(file: document.files.first)
        problems.append(location.appending(field: fieldPath.description).prefixing(message))
    }

    private mutating func requiredString(_ value: ManifestValue, _ path: [FieldPathComponent]) -> String? {
        guard case .key(let key) = path.last else { return nil }
        switch value[key] {
        case nil, .null?:
            problem(path, "must be provided")
            return nil
        case .string(let text)?:
            if text.isEmpty { problem(path, "must be provided") }
            return text.isEmpty ? nil : text
        case let other?:
            if let text = Self.scalarIfSimple(other) { return text }
            problem(path, "must be a string, not \(other.goTypeName)")
            return nil
        }
    }

    private mutating func list(_ value: ManifestValue?, _ path: [FieldPathComponent], required: Bool) -> [ManifestValue]
    {
        switch value {
        case nil, .null?:
            if required { problem(path, "must be provided") }
            return []
        case .list(let items)?:
            return items
        case let other?:
            problem(path, "must be a list, not \(other.goTypeName)")
            return []
        }
    }

    private mutating func integer(_ value: ManifestValue?, _ path: [FieldPathComponent]) -> Int? {
        guard let value, value != .null else { return nil }
        if let number = Self.intValue(value) { return number }
        problem(path, "must be a whole number, not '\(Self.scalarText(value))'")
        return nil
    }

    private mutating func addresses(_ value: ManifestValue?, _ path: [FieldPathComponent]) -> [IPAddress] {
        (value?.listValue ?? []).enumerated().compactMap { index, item in
            parseAddress(Self.scalarText(item), path + [.index(index)])
        }
    }

    private mutating func parseAddress(_ text: String, _ path: [FieldPathComponent]) -> IPAddress? {
        do {
            return try IPAddress(parsing: text)
        } catch {
            problem(path, "must be a valid IP: \(error)")
            return nil
        }
    }

    private func object(_ value: ManifestValue?, _ path: [FieldPathComponent]) -> [String: JSONValue] {
        guard let value, case .object(let members) = JSONValue(converting: value) else { return [:] }
        return members
    }

    private mutating func checkURL(_ url: String, _ path: [FieldPathComponent], sha1: String?) {
        let lower = url.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            if sha1 == nil { problem(path, "a sha1 must be provided for an http URL") }
        } else if !(lower.hasPrefix("file://") || lower.hasPrefix("skiff://") || lower.hasPrefix("/")
            || lower.hasPrefix("~"))
        {
            problem(path, "must be a valid URL (file://, http(s):// or skiff://), not '\(url)'")
        }
    }

    static func intValue(_ value: ManifestValue) -> Int? {
        switch value {
        case .int(let number): number
        case .float(let number) where number.rounded() == number: Int(number)
        case .string(let text): Int(text.replacingOccurrences(of: "_", with: ""))
        default: nil
        }
    }

    static func scalarIfSimple(_ value: ManifestValue) -> String? {
        switch value {
        case .int(let number): "\(number)"
        case .float(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        case .string(let text): text
        default: nil
        }
    }

    static func scalarText(_ value: ManifestValue) -> String { value.keyText }
}

extension DeploymentManifest {
    /// A client for the instance's agent, at `cloud_provider.mbus`, trusting `cloud_provider.cert.ca`.
    func agentClient(directorID: String) throws -> AgentClient {
        do {
            let mbus = try MbusURL(parsing: cloudProvider.mbus)
            return try AgentClient(
                configuration: .init(
                    mbus: mbus, caPEM: cloudProvider.caPEM, replyTo: directorID, pollInterval: .milliseconds(50)))
        } catch {
            throw DeployError(.manifest, "\(error)", at: "cloud_provider.mbus")
        }
    }
}
