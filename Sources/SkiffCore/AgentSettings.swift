import Foundation
import SkiffNet

/// The settings a CPI writes into a new VM for its BOSH agent (bosh-agent `settings.Settings`, the agent's
/// `settings.json` or the IaaS user data), and the agent reads back: one type for both sides, in BOSH's JSON shape.
///
/// The CPI builds them from its own properties (the mbus URL, NTP servers, blobstore) and from `create_vm`'s
/// arguments (agent id, networks, env). Members skiff does not model are kept as given, so what one side writes the
/// other reads back unchanged. `mbus` and `env` carry secrets: write the file 0600 and never log it.
public struct AgentSettings: Sendable, Hashable, Codable {
    /// The VM's name, as the agent sees it (`vm`, and `server` in AWS user data).
    public struct VM: Sendable, Hashable {
        /// The VM's name (its cid on most clouds).
        public var name: String

        /// Creates the VM member.
        public init(name: String) { self.name = name }

        var json: JSONValue { ["name": .string(name)] }
    }

    /// Where the agent finds its disks.
    public struct Disks: Sendable, Hashable {
        /// The root disk, e.g. `/dev/sda`.
        public var system: String?
        /// The ephemeral disk: a device path, a hint object, or an explicit `null`.
        public var ephemeral: JSONValue?
        /// Persistent disks by cid; each value is the disk hint from `attach_disk`.
        public var persistent: [String: JSONValue]
        /// Raw ephemeral disks, if any.
        public var rawEphemeral: JSONValue?

        /// Creates the disks member.
        public init(
            system: String? = nil, ephemeral: JSONValue? = nil, persistent: [String: JSONValue] = [:],
            rawEphemeral: JSONValue? = nil
        ) {
            self.system = system
            self.ephemeral = ephemeral
            self.persistent = persistent
            self.rawEphemeral = rawEphemeral
        }
    }

    /// The agent's blobstore.
    public struct Blobstore: Sendable, Hashable {
        /// `local`, `dav`, `s3`…; skiff's agent serves the `local` one over the mbus endpoint.
        public var provider: String
        /// Provider options, e.g. `blobstore_path`.
        public var options: [String: JSONValue]

        /// Creates the blobstore member.
        public init(provider: String, options: [String: JSONValue] = [:]) {
            self.provider = provider
            self.options = options
        }

        /// The local blobstore at bosh's usual path.
        public static let local = Blobstore(
            provider: "local", options: ["blobstore_path": "/var/vcap/micro_bosh/data/cache"])

        var json: JSONValue { ["provider": .string(provider), "options": .object(options)] }
    }

    /// A PEM certificate with its CA and private key (bosh `certificate` variable shape), as in
    /// `env.bosh.mbus.cert`.
    public struct CertificateKeyPair: Codable, Hashable, Sendable {
        /// The CA certificate(s), PEM.
        public var ca: String?
        /// The leaf certificate, PEM.
        public var certificate: String?
        /// The leaf's private key, PEM. A secret.
        public var privateKey: String?

        enum CodingKeys: String, CodingKey {
            case ca, certificate
            case privateKey = "private_key"
        }

        /// Creates a key pair.
        public init(ca: String? = nil, certificate: String? = nil, privateKey: String? = nil) {
            self.ca = ca
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// The agent's id, from `create_vm`'s first argument.
    public var agentID: String
    /// The VM's name.
    public var vm: VM?
    /// The VM's name again under `server` (bosh-aws-cpi's user data has both).
    public var server: VM?
    /// The networks as `create_vm` received them (plus what the CPI adds, such as `use_dhcp`).
    public var networks: [String: CPINetwork]
    /// Name servers for the agent to use before networking is configured (`dns.nameserver`, AWS user data).
    public var nameservers: [IPAddress]?
    /// The VM's disks.
    public var disks: Disks
    /// The agent's message bus URL, with credentials (`https://mbus:<password>@0.0.0.0:6868`).
    public var mbus: MbusURL
    /// NTP servers.
    public var ntp: [String]
    /// The blobstore; nil leaves it out.
    public var blobstore: Blobstore?
    /// `create_vm`'s env argument (`bosh.mbus.cert`, `bosh.password`…), as sent.
    public var env: [String: JSONValue]
    /// Top-level members skiff does not model, kept as given.
    public var other: [String: JSONValue]

    /// Creates settings.
    public init(
        agentID: String, vm: VM? = nil, server: VM? = nil, networks: [String: CPINetwork] = [:],
        nameservers: [IPAddress]? = nil, disks: Disks = Disks(), mbus: MbusURL, ntp: [String] = [],
        blobstore: Blobstore? = .local, env: [String: JSONValue] = [:], other: [String: JSONValue] = [:]
    ) {
        self.agentID = agentID
        self.vm = vm
        self.server = server
        self.networks = networks
        self.nameservers = nameservers
        self.disks = disks
        self.mbus = mbus
        self.ntp = ntp
        self.blobstore = blobstore
        self.env = env
        self.other = other
    }

    /// `env.bosh.mbus.cert`: the key pair the agent's HTTPS listener presents, if the CPI passed one.
    public var mbusCertificate: CertificateKeyPair? {
        guard let cert = env["bosh"]?["mbus"]?["cert"], cert.objectValue != nil else { return nil }
        return try? cert.decode(CertificateKeyPair.self)
    }

    /// `env.persistent_disk_fs`, if set.
    public var persistentDiskFS: String? { env["persistent_disk_fs"]?.stringValue }

    // MARK: user data

    /// How a new VM's agent gets its network configuration.
    public enum NetworkSetup: Sendable, Hashable {
        /// The IaaS hands addresses out by DHCP and DHCPv6 (EC2): every manual and dynamic network gets
        /// `use_dhcp: true`.
        case dhcp
        /// The cloud configured the VM's interfaces before the agent starts (skiff's local cloud): every manual and
        /// dynamic network gets `preconfigured: true`, and the agent leaves interfaces alone.
        case preconfigured
    }

    /// The settings a CPI (API v2, no registry) puts in a new VM's user data, as bosh-aws-cpi does: the server name
    /// and DNS servers beside the agent's own settings (agent id, vm name, mbus, ntp, blobstore, disks, env), the
    /// networks marked with how the VM gets its addresses and, when the CPI knows it, the interface's `mac`.
    ///
    /// The one function both clouds use: the AWS CPI sends its result as EC2 user data, and skiff's local cloud
    /// serves it from its instance metadata service, so a local deploy proves the AWS CPI's user data against the
    /// agent that reads it.
    public static func userData(
        agentID: String, vmName: String, networks: [String: CPINetwork], env: [String: JSONValue], mbus: MbusURL,
        ntp: [String], blobstore: Blobstore?, disks: Disks, setup: NetworkSetup, mac: String? = nil
    ) -> AgentSettings {
        var agentNetworks = networks
        var nameservers: [IPAddress] = []
        for name in agentNetworks.keys.sorted() {
            guard var network = agentNetworks[name] else { continue }
            if (network.type ?? "manual") != "vip" {
                switch setup {
                case .dhcp: network.other["use_dhcp"] = true
                case .preconfigured: network.other["preconfigured"] = true
                }
                if let mac, !mac.isEmpty { network.mac = mac }
            }
            if let dns = network.dns, nameservers.isEmpty { nameservers = dns }
            agentNetworks[name] = network
        }
        return AgentSettings(
            agentID: agentID, vm: .init(name: vmName), server: .init(name: vmName), networks: agentNetworks,
            nameservers: nameservers.isEmpty ? nil : nameservers, disks: disks, mbus: mbus, ntp: ntp,
            blobstore: blobstore, env: env)
    }

    // MARK: JSON

    /// Reads settings from their JSON value; `source` (a file name or `user data`) names them in errors, with the
    /// field at fault.
    public init(json: JSONValue, source: String) throws(CloudError) {
        func fail(_ field: String, _ reason: String) -> CloudError {
            CloudError.cloud(SourceLocation(file: source, field: field).prefixing(reason))
        }
        guard var members = json.objectValue else {
            throw fail("", "agent settings must be a JSON object, not \(json.typeName)")
        }
        func take(_ key: String) -> JSONValue? { members.removeValue(forKey: key) }
        func object(_ value: JSONValue?, _ field: String) throws(CloudError) -> [String: JSONValue]? {
            guard let value, !value.isNull else { return nil }
            guard let object = value.objectValue else { throw fail(field, "must be an object, not \(value.typeName)") }
            return object
        }
        func string(_ value: JSONValue?, _ field: String) throws(CloudError) -> String? {
            guard let value, !value.isNull else { return nil }
            guard let text = value.stringValue else { throw fail(field, "must be a string, not \(value.typeName)") }
            return text
        }
        func name(_ key: String) throws(CloudError) -> VM? {
            guard let members = try object(take(key), key) else { return nil }
            return VM(name: try string(members["name"], "\(key).name") ?? "")
        }

        guard let agentID = try string(take("agent_id"), "agent_id") else { throw fail("agent_id", "is missing") }
        self.agentID = agentID
        vm = try name("vm")
        server = try name("server")
        guard let mbusText = try string(take("mbus"), "mbus") else { throw fail("mbus", "is missing") }
        do {
            mbus = try MbusURL(parsing: mbusText)
        } catch {
            throw fail("mbus", error.message)
        }
        if let value = take("networks"), !value.isNull {
            do {
                networks = try CPINetwork.networks(json: value)
            } catch {
                throw CloudError.cloud(SourceLocation(file: source).prefixing(error.message))
            }
        } else {
            networks = [:]
        }
        if let dns = try object(take("dns"), "dns") {
            var servers: [IPAddress] = []
            for (index, entry) in (dns["nameserver"]?.arrayValue ?? []).enumerated() {
                guard let text = entry.stringValue, let address = IPAddress(text) else {
                    throw fail("dns.nameserver[\(index)]", "must be an IP address, not \(entry)")
                }
                servers.append(address)
            }
            nameservers = servers
        } else {
            nameservers = nil
        }
        if let disks = try object(take("disks"), "disks") {
            self.disks = Disks(
                system: try string(disks["system"], "disks.system"), ephemeral: disks["ephemeral"],
                persistent: try object(disks["persistent"], "disks.persistent") ?? [:],
                rawEphemeral: disks["raw_ephemeral"])
        } else {
            disks = Disks()
        }
        if let list = take("ntp"), !list.isNull {
            guard let entries = list.arrayValue, entries.allSatisfy({ $0.stringValue != nil }) else {
                throw fail("ntp", "must be a list of strings, not \(list.typeName)")
            }
            ntp = entries.compactMap(\.stringValue)
        } else {
            ntp = []
        }
        if let store = try object(take("blobstore"), "blobstore") {
            blobstore = Blobstore(
                provider: try string(store["provider"], "blobstore.provider") ?? "",
                options: try object(store["options"], "blobstore.options") ?? [:])
        } else {
            blobstore = nil
        }
        env = try object(take("env"), "env") ?? [:]
        other = members
    }

    /// The settings as JSON, in BOSH's member names, addresses in canonical text.
    public var json: JSONValue {
        var members = other
        members["agent_id"] = .string(agentID)
        if let vm { members["vm"] = vm.json }
        if let server { members["server"] = server.json }
        members["networks"] = CPINetwork.json(networks)
        if let nameservers { members["dns"] = ["nameserver": .array(nameservers.map { .string($0.description) })] }
        var disks: [String: JSONValue] = ["persistent": .object(self.disks.persistent)]
        if let system = self.disks.system { disks["system"] = .string(system) }
        if let ephemeral = self.disks.ephemeral { disks["ephemeral"] = ephemeral }
        if let raw = self.disks.rawEphemeral { disks["raw_ephemeral"] = raw }
        members["disks"] = .object(disks)
        members["mbus"] = .string(mbus.text)
        members["ntp"] = .array(ntp.map(JSONValue.string))
        if let blobstore { members["blobstore"] = blobstore.json }
        members["env"] = .object(env)
        return .object(members)
    }

    /// The settings as JSON (kept for callers that want the value).
    public func encoded() -> JSONValue { json }

    /// Decodes settings from JSON bytes; `source` names them in errors.
    public static func decode(_ data: Data, source: String) throws(CloudError) -> AgentSettings {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: data)
        } catch {
            throw CloudError.cloud("\(source): \(error.message)")
        }
        return try AgentSettings(json: value, source: source)
    }

    /// Reads settings from a JSON file; errors name the file and the field.
    public static func load(path: String) throws(CloudError) -> AgentSettings {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CloudError.cloud("agent settings '\(path)': no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudError.cloud("agent settings '\(path)': cannot read the file")
        }
        return try decode(data, source: path)
    }

    /// Writes the settings to `path` atomically, mode 0600 (they hold the mbus password).
    public func write(to path: String) throws(CloudError) {
        try AtomicFile.write(json.prettyEncoded(), to: path, mode: 0o600, createDirectories: true)
    }

    /// Reads settings through `Decodable` (for settings nested in other documents).
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try AgentSettings(json: value, source: "agent settings")
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    /// Writes ``json``.
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}
