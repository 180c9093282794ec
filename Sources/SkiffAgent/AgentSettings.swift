import SkiffCloud
import Foundation
import SkiffNet

/// The agent settings a CPI writes for a VM (bosh-agent `settings.Settings`), with bosh's JSON field names.
public struct AgentSettings: Codable, Hashable, Sendable {
    /// The agent's identity, chosen by the CLI for each VM.
    public var agentID: String
    /// Where blobs live (`provider: local`, `options.blobstore_path`).
    public var blobstore: Blobstore?
    /// The VM's disks.
    public var disks: Disks?
    /// The resource pool env, including `bosh.mbus.cert`.
    public var env: Env?
    /// Networks by name, as the CLI sent them to the CPI.
    public var networks: [String: Network]?
    /// NTP servers.
    public var ntp: [String]?
    /// `https://mbus:PASSWORD@HOST:6868`.
    public var mbus: String
    /// The VM's name.
    public var vm: VM?

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id"
        case blobstore, disks, env, networks, ntp, mbus, vm
    }

    /// Creates settings.
    public init(
        agentID: String, mbus: String, blobstore: Blobstore? = nil, disks: Disks? = nil, env: Env? = nil,
        networks: [String: Network]? = nil, ntp: [String]? = nil, vm: VM? = nil
    ) {
        self.agentID = agentID
        self.mbus = mbus
        self.blobstore = blobstore
        self.disks = disks
        self.env = env
        self.networks = networks
        self.ntp = ntp
        self.vm = vm
    }

    /// Blobstore settings.
    public struct Blobstore: Codable, Hashable, Sendable {
        /// `local`, `dav`, `s3`, …; skiff's agent serves the `local` one over the mbus endpoint.
        public var provider: String
        /// Provider options; `blobstore_path` for `local`.
        public var options: JSONValue?

        /// Creates blobstore settings.
        public init(provider: String, options: JSONValue? = nil) {
            self.provider = provider
            self.options = options
        }
    }

    /// Disk settings: device paths or hints.
    public struct Disks: Codable, Hashable, Sendable {
        /// The root disk's device.
        public var system: String?
        /// The ephemeral disk (a device path or a hint map).
        public var ephemeral: JSONValue?
        /// Persistent disks by CID, each a device path or a hint map.
        public var persistent: [String: JSONValue]?
        /// Whether raw ephemeral disks are wanted.
        public var rawEphemeral: JSONValue?

        enum CodingKeys: String, CodingKey {
            case system, ephemeral, persistent
            case rawEphemeral = "raw_ephemeral"
        }

        /// Creates disk settings.
        public init(
            system: String? = nil, ephemeral: JSONValue? = nil, persistent: [String: JSONValue]? = nil,
            rawEphemeral: JSONValue? = nil
        ) {
            self.system = system
            self.ephemeral = ephemeral
            self.persistent = persistent
            self.rawEphemeral = rawEphemeral
        }
    }

    /// The `env` hash (resource pool env).
    public struct Env: Codable, Hashable, Sendable {
        /// `env.bosh`.
        public var bosh: BoshEnv?
        /// `env.persistent_disk_fs`.
        public var persistentDiskFS: String?

        enum CodingKeys: String, CodingKey {
            case bosh
            case persistentDiskFS = "persistent_disk_fs"
        }

        /// Creates env settings.
        public init(bosh: BoshEnv? = nil, persistentDiskFS: String? = nil) {
            self.bosh = bosh
            self.persistentDiskFS = persistentDiskFS
        }
    }

    /// `env.bosh`.
    public struct BoshEnv: Codable, Hashable, Sendable {
        /// The VCAP user's crypted password.
        public var password: String?
        /// Whether to keep the root password.
        public var keepRootPassword: Bool?
        /// Whether to remove compilers.
        public var removeDevTools: Bool?
        /// Whether to remove static libraries.
        public var removeStaticLibraries: Bool?
        /// SSH keys for the VCAP user.
        public var authorizedKeys: [String]?
        /// Swap size in MiB.
        public var swapSize: Int?
        /// `env.bosh.mbus`: the HTTPS listener's key pair.
        public var mbus: MbusEnv?
        /// IPv6 switches.
        public var ipv6: IPv6Env?
        /// Job directory options.
        public var jobDir: JSONValue?
        /// Run directory options.
        public var runDir: JSONValue?
        /// Extra blobstores.
        public var blobstores: JSONValue?
        /// NTP servers.
        public var ntp: [String]?
        /// Parallelism for agent work.
        public var parallel: Int?
        /// Tags from the manifest.
        public var tags: JSONValue?
        /// Agent-specific switches.
        public var agent: JSONValue?

        enum CodingKeys: String, CodingKey {
            case password, mbus, ipv6, blobstores, ntp, parallel, tags, agent
            case keepRootPassword = "keep_root_password"
            case removeDevTools = "remove_dev_tools"
            case removeStaticLibraries = "remove_static_libraries"
            case authorizedKeys = "authorized_keys"
            case swapSize = "swap_size"
            case jobDir = "job_dir"
            case runDir = "run_dir"
        }

        /// Creates `env.bosh` with the mbus key pair only; set other fields as needed.
        public init(mbus: MbusEnv? = nil) {
            self.mbus = mbus
        }
    }

    /// `env.bosh.mbus`.
    public struct MbusEnv: Codable, Hashable, Sendable {
        /// The key pair the agent's HTTPS listener presents.
        public var cert: CertificateKeyPair?
        /// Alternative mbus URLs.
        public var urls: [String]?

        /// Creates mbus env settings.
        public init(cert: CertificateKeyPair? = nil, urls: [String]? = nil) {
            self.cert = cert
            self.urls = urls
        }
    }

    /// A PEM certificate with its CA and private key (bosh `certificate` variable shape).
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

    /// `env.bosh.ipv6`.
    public struct IPv6Env: Codable, Hashable, Sendable {
        /// Whether IPv6 is enabled.
        public var enable: Bool?
    }

    /// `vm`.
    public struct VM: Codable, Hashable, Sendable {
        /// The VM's name (its CID on most clouds).
        public var name: String?

        /// Creates VM settings.
        public init(name: String? = nil) { self.name = name }
    }

    /// One network as the CLI sends it to the CPI and the CPI passes to the agent (§5.4).
    public struct Network: Codable, Hashable, Sendable {
        /// `manual`, `dynamic` or `vip`.
        public var type: String?
        /// The static address, as text.
        public var ip: String?
        /// The netmask, as text.
        public var netmask: String?
        /// The gateway, as text.
        public var gateway: String?
        /// DNS servers.
        public var dns: [String]?
        /// Which defaults (`dns`, `gateway`) it provides.
        public var `default`: [String]?
        /// The network's cloud properties.
        public var cloudProperties: JSONValue?
        /// The interface's MAC address.
        public var mac: String?
        /// Whether the IaaS configured it already.
        public var preconfigured: Bool?
        /// Whether DHCP resolved it.
        public var resolved: Bool?
        /// Whether to configure it with DHCP.
        public var useDHCP: Bool?
        /// An interface alias.
        public var alias: String?
        /// The prefix length.
        public var prefix: JSONValue?

        enum CodingKeys: String, CodingKey {
            case type, ip, netmask, gateway, dns, `default`, mac, preconfigured, resolved, alias, prefix
            case cloudProperties = "cloud_properties"
            case useDHCP = "use_dhcp"
        }

        /// Creates a network entry.
        public init(type: String? = nil, ip: String? = nil, netmask: String? = nil, gateway: String? = nil) {
            self.type = type
            self.ip = ip
            self.netmask = netmask
            self.gateway = gateway
        }

        /// The static IP as a value, if present and valid.
        public var address: IPAddress? { ip.flatMap { IPAddress($0) } }
    }

    /// The parsed mbus URL.
    public func mbusURL() throws(AgentError) -> MbusURL { try MbusURL(parsing: mbus) }

    /// Reads settings from a JSON file; errors name the file and the field.
    public static func load(path: String) throws(AgentError) -> AgentSettings {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AgentError(.invalidSettings, "agent settings '\(path)': no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError(.invalidSettings, "agent settings '\(path)': cannot read the file")
        }
        return try decode(data, source: path)
    }

    /// Decodes settings from JSON bytes; `source` names them in errors.
    public static func decode(_ data: Data, source: String) throws(AgentError) -> AgentSettings {
        do {
            let settings = try JSONDecoder().decode(AgentSettings.self, from: data)
            _ = try settings.mbusURL()
            return settings
        } catch let error as AgentError {
            throw AgentError(.invalidSettings, "agent settings '\(source)': \(error.message)")
        } catch let error as DecodingError {
            throw AgentError(.invalidSettings, "agent settings '\(source)': \(describe(error))")
        } catch {
            throw AgentError(.invalidSettings, "agent settings '\(source)': \(error)")
        }
    }

    /// The settings as JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// One line for a decoding error: the field path and what was wrong.
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "(top level)" : text)
    }
    switch error {
    case .keyNotFound(let key, let context):
        let parent = context.codingPath.isEmpty ? "" : path(context.codingPath) + "."
        return "missing field '\(parent)\(key.stringValue)'"
    case .typeMismatch(let type, let context):
        return "field '\(path(context.codingPath))' must be \(typeName(type))"
    case .valueNotFound(let type, let context):
        return "field '\(path(context.codingPath))' must be \(typeName(type)), not null"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "not valid JSON" }
        return "field '\(path(context.codingPath))': \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is Double.Type: "a number"
    case is Bool.Type: "true or false"
    default:
        if "\(type)".hasPrefix("Array") {
            "a list"
        } else if "\(type)".hasPrefix("Dictionary") {
            "a map"
        } else {
            "a map"
        }
    }
}
