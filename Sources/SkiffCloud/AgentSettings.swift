/// The settings a CPI writes into a new VM for its BOSH agent (the agent's `settings.json`).
///
/// The CPI builds them from its own properties (the mbus URL, NTP servers, blobstore) and from `create_vm`'s
/// arguments (agent id, networks, env). `mbus` carries credentials: write the file 0600 and never log it.
public struct AgentSettings: Sendable, Hashable, Codable {
    /// The VM's name, as the agent sees it.
    public struct VM: Sendable, Hashable, Codable {
        /// The VM's name (its cid).
        public var name: String

        /// Creates the VM member.
        public init(name: String) { self.name = name }
    }

    /// Where the agent finds its disks.
    public struct Disks: Sendable, Hashable, Codable {
        /// The root disk, e.g. `/dev/sda`.
        public var system: String?
        /// The ephemeral disk, e.g. `/dev/sdb`.
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

        enum CodingKeys: String, CodingKey {
            case system, ephemeral, persistent
            case rawEphemeral = "raw_ephemeral"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            system = try container.decodeIfPresent(String.self, forKey: .system)
            ephemeral = try container.decodeIfPresent(JSONValue.self, forKey: .ephemeral)
            persistent = try container.decodeIfPresent([String: JSONValue].self, forKey: .persistent) ?? [:]
            rawEphemeral = try container.decodeIfPresent(JSONValue.self, forKey: .rawEphemeral)
        }
    }

    /// The agent's blobstore.
    public struct Blobstore: Sendable, Hashable, Codable {
        /// `local`, `dav`, `s3`…
        public var provider: String
        /// Provider options, e.g. `blobstore_path`.
        public var options: [String: JSONValue]

        /// Creates the blobstore member.
        public init(provider: String, options: [String: JSONValue] = [:]) {
            self.provider = provider
            self.options = options
        }
    }

    /// The agent's id, from `create_vm`'s first argument.
    public var agentID: String
    /// The VM's name.
    public var vm: VM
    /// The networks as `create_vm` received them.
    public var networks: [String: CPINetwork]
    /// The VM's disks.
    public var disks: Disks
    /// The agent's message bus URL, with credentials (`https://mbus:<password>@0.0.0.0:6868`).
    public var mbus: String
    /// NTP servers.
    public var ntp: [String]
    /// The blobstore.
    public var blobstore: Blobstore
    /// `create_vm`'s env argument (`bosh.mbus.cert`, `bosh.password`…).
    public var env: [String: JSONValue]

    /// Creates settings.
    public init(
        agentID: String, vm: VM, networks: [String: CPINetwork], disks: Disks = Disks(), mbus: String,
        ntp: [String] = [],
        blobstore: Blobstore = Blobstore(
            provider: "local", options: ["blobstore_path": "/var/vcap/micro_bosh/data/cache"]),
        env: [String: JSONValue] = [:]
    ) {
        self.agentID = agentID
        self.vm = vm
        self.networks = networks
        self.disks = disks
        self.mbus = mbus
        self.ntp = ntp
        self.blobstore = blobstore
        self.env = env
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id"
        case vm, networks, disks, mbus, ntp, blobstore, env
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agentID = try container.decode(String.self, forKey: .agentID)
        vm = try container.decodeIfPresent(VM.self, forKey: .vm) ?? VM(name: "")
        networks = try container.decodeIfPresent([String: CPINetwork].self, forKey: .networks) ?? [:]
        disks = try container.decodeIfPresent(Disks.self, forKey: .disks) ?? Disks()
        mbus = try container.decodeIfPresent(String.self, forKey: .mbus) ?? ""
        ntp = try container.decodeIfPresent([String].self, forKey: .ntp) ?? []
        blobstore = try container.decodeIfPresent(Blobstore.self, forKey: .blobstore) ?? Blobstore(provider: "local")
        env = try container.decodeIfPresent([String: JSONValue].self, forKey: .env) ?? [:]
    }

    /// The settings as indented JSON with sorted keys.
    public func encoded() throws(CloudError) -> JSONValue { try JSONValue(encoding: self) }
}
