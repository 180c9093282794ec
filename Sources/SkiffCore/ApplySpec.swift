import Foundation

/// The spec the CLI `apply`s to the agent (§9.4): what to install and run.
public struct ApplySpec: Codable, Hashable, Sendable {
    /// The deployment name.
    public var deployment: String?
    /// The instance group's name.
    public var name: String?
    /// The instance index (0).
    public var index: Int?
    /// The instance id.
    public var id: String?
    /// The availability zone (`unknown`).
    public var az: String?
    /// Packages to install, by name.
    public var packages: [String: BlobRef]?
    /// Networks as in the settings (§5.4).
    public var networks: JSONValue?
    /// The instance group and its release jobs.
    public var job: Job?
    /// The archive of all rendered job templates.
    public var renderedTemplatesArchive: ArchiveRef?
    /// A hash of the configuration (unused).
    public var configurationHash: String?

    enum CodingKeys: String, CodingKey {
        case deployment, name, index, id, az, packages, networks, job
        case renderedTemplatesArchive = "rendered_templates_archive"
        case configurationHash = "configuration_hash"
    }

    /// Creates a spec.
    public init(
        deployment: String? = nil, name: String? = nil, index: Int? = 0, id: String? = "0", az: String? = "unknown",
        packages: [String: BlobRef]? = [:], networks: JSONValue? = nil, job: Job? = nil,
        renderedTemplatesArchive: ArchiveRef? = nil, configurationHash: String? = "unused-configuration-hash"
    ) {
        self.deployment = deployment
        self.name = name
        self.index = index
        self.id = id
        self.az = az
        self.packages = packages
        self.networks = networks
        self.job = job
        self.renderedTemplatesArchive = renderedTemplatesArchive
        self.configurationHash = configurationHash
    }

    /// A blob in the agent's blobstore: a package or a job template.
    public struct BlobRef: Codable, Hashable, Sendable {
        /// The package, job or instance group name.
        public var name: String
        /// The fingerprint.
        public var version: String
        /// A digest: plain SHA-1 hex or a multi-digest such as `sha256:HEX`.
        public var sha1: String
        /// The blob's id in the agent blobstore.
        public var blobstoreID: String

        enum CodingKeys: String, CodingKey {
            case name, version, sha1
            case blobstoreID = "blobstore_id"
        }

        /// Creates a reference.
        public init(name: String, version: String, sha1: String, blobstoreID: String) {
            self.name = name
            self.version = version
            self.sha1 = sha1
            self.blobstoreID = blobstoreID
        }
    }

    /// The instance group and the release jobs it runs.
    public struct Job: Codable, Hashable, Sendable {
        /// The package, job or instance group name.
        public var name: String
        /// The release jobs, in order.
        public var templates: [BlobRef]

        /// Creates a job entry.
        public init(name: String, templates: [BlobRef]) {
            self.name = name
            self.templates = templates
        }
    }

    /// The rendered templates archive: its blobstore id and digest.
    public struct ArchiveRef: Codable, Hashable, Sendable {
        /// The blob's id in the agent blobstore.
        public var blobstoreID: String
        /// The archive's digest (`sha256:HEX` from the CLI).
        public var sha1: String

        enum CodingKeys: String, CodingKey {
            case sha1
            case blobstoreID = "blobstore_id"
        }

        /// Creates a reference.
        public init(blobstoreID: String, sha1: String) {
            self.blobstoreID = blobstoreID
            self.sha1 = sha1
        }
    }
}

/// One request to the agent: `{"method", "arguments", "reply_to"}`.
public struct AgentRequest: Codable, Hashable, Sendable {
    /// The agent method.
    public var method: String
    /// Its arguments.
    public var arguments: [JSONValue]
    /// Who asks (the director id).
    public var replyTo: String?
    /// The agent protocol version; absent means 0.
    public var `protocol`: Int?

    enum CodingKeys: String, CodingKey {
        case method, arguments, `protocol`
        case replyTo = "reply_to"
    }

    /// Creates a request.
    public init(method: String, arguments: [JSONValue] = [], replyTo: String? = nil) {
        self.method = method
        self.arguments = arguments
        self.replyTo = replyTo
        self.protocol = nil
    }

    /// Decodes, treating missing `arguments` as none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        method = try container.decode(String.self, forKey: .method)
        arguments = try container.decodeIfPresent([JSONValue].self, forKey: .arguments) ?? []
        replyTo = try container.decodeIfPresent(String.self, forKey: .replyTo)
        `protocol` = try container.decodeIfPresent(Int.self, forKey: .protocol)
    }
}

/// One answer from the agent: `{"value": …}` or `{"exception": {"message": …}}`.
public enum AgentResponse: Codable, Hashable, Sendable {
    case value(JSONValue)
    case exception(String)

    enum CodingKeys: String, CodingKey {
        case value, exception
    }

    struct Exception: Codable {
        var message: String
    }

    /// Decodes either shape; a body with neither is an exception.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let exception = try container.decodeIfPresent(Exception.self, forKey: .exception) {
            self = .exception(exception.message)
        } else if container.contains(.value) {
            self = .value(try container.decode(JSONValue.self, forKey: .value))
        } else {
            self = .exception("response has neither 'value' nor 'exception'")
        }
    }

    /// Encodes `{"value": …}` or `{"exception": {"message": …}}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .value(let value): try container.encode(value, forKey: .value)
        case .exception(let message): try container.encode(Exception(message: message), forKey: .exception)
        }
    }
}

/// What `compile_package` answers: the compiled package's blob and its digest.
public typealias CompiledPackage = ApplySpec.ArchiveRef
