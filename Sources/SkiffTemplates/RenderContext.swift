import Foundation
import SkiffNet

/// One instance of a consumed link, as `link('name').instances` shows it.
public struct LinkInstanceContext: Sendable, Equatable {
    /// The instance group name.
    public var name: String?
    /// The instance id.
    public var id: String?
    /// The instance index.
    public var index: Int?
    /// The availability zone.
    public var az: String?
    /// The instance's address (an IP or a DNS name, as BOSH gives it).
    public var address: String?
    /// Whether it is the bootstrap instance.
    public var bootstrap: Bool?
    /// The instance's own properties, when given.
    public var properties: TemplateValue

    /// Creates a link instance.
    public init(
        name: String? = nil, id: String? = nil, index: Int? = nil, az: String? = nil, address: String? = nil,
        bootstrap: Bool? = nil, properties: TemplateValue = .null
    ) {
        self.name = name
        self.id = id
        self.index = index
        self.az = az
        self.address = address
        self.bootstrap = bootstrap
        self.properties = properties
    }
}

/// A consumed link: its instances and the providing job's properties.
public struct LinkContext: Sendable, Equatable {
    /// The providing instances.
    public var instances: [LinkInstanceContext]
    /// The properties the providing job shares.
    public var properties: TemplateValue
    /// The address `link('name').address` answers (BOSH's manual link address), if any.
    public var address: String?

    /// Creates a link.
    public init(instances: [LinkInstanceContext], properties: TemplateValue = .hash([:]), address: String? = nil) {
        self.instances = instances
        self.properties = properties
        self.address = address
    }
}

/// What `skiff render` renders a job with: the instance facts, the manifest properties and consumed links.
///
/// The file format is JSON: `deployment`, `name`, `id`, `index`, `az`, `bootstrap`, `address`, `networks`
/// (`[{name, ip, netmask, gateway, default}]`), `manifest_properties`, and optional `links`
/// (`{NAME: {instances: [{name, id, index, az, address, bootstrap}], properties}}`).
public struct RenderContext: Sendable, Equatable {
    /// The instance facts `spec` shows.
    public var spec: SpecContext
    /// The property source (the manifest's properties for the job).
    public var properties: TemplateValue
    /// Consumed links by name.
    public var links: [String: LinkContext]

    /// Creates a context from parts.
    public init(spec: SpecContext, properties: TemplateValue = .hash([:]), links: [String: LinkContext] = [:]) {
        self.spec = spec
        self.properties = properties
        self.links = links
    }

    /// Reads a context file; errors name the file and the field.
    public init(contentsOf url: URL) throws(TemplateError) {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TemplateError(code: .io, message: "cannot read the context file", file: file)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TemplateError(code: .io, message: "the context file is not UTF-8 text", file: file)
        }
        try self.init(json: text, file: file)
    }

    /// Parses context JSON (key order is kept: it is the order templates iterate hashes in).
    public init(json text: String, file: String = "context.json") throws(TemplateError) {
        // JSON is YAML, and the YAML reader keeps mapping order; refuse what is not a JSON object first.
        guard text.drop(while: { $0.isWhitespace }).first == "{" else {
            throw TemplateError(code: .invalidYAML, message: "a render context must be a JSON object", file: file)
        }
        let root: TemplateValue
        do {
            root = try TemplateValue(yaml: text.replacingOccurrences(of: "\t", with: " "))
        } catch {
            throw TemplateError(code: .invalidYAML, message: error.message, file: file, line: error.location.line)
        }
        guard case .hash(let fields) = root else {
            throw TemplateError(code: .invalidYAML, message: "a render context must be a JSON object", file: file)
        }
        func fail(_ field: String, _ message: String) -> TemplateError {
            TemplateError(code: .invalidYAML, message: "\(field): \(message)", file: file)
        }
        func string(_ value: TemplateValue?, _ field: String) throws(TemplateError) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw fail(field, "expected a string")
            }
        }
        func address(_ value: TemplateValue?, _ field: String) throws(TemplateError) -> IPAddress? {
            guard let text = try string(value, field), !text.isEmpty else { return nil }
            do {
                return try IPAddress(parsing: text)
            } catch {
                throw fail(field, "'\(text)' is not an IP address")
            }
        }
        func integer(_ value: TemplateValue?, _ field: String) throws(TemplateError) -> Int? {
            switch value {
            case nil, .null?: return nil
            case .int(let number)?: return number
            default: throw fail(field, "expected an integer")
            }
        }
        func boolean(_ value: TemplateValue?, _ field: String) throws(TemplateError) -> Bool? {
            switch value {
            case nil, .null?: return nil
            case .bool(let flag)?: return flag
            default: throw fail(field, "expected true or false")
            }
        }

        var networks: [NetworkContext] = []
        switch fields["networks"] {
        case nil, .null?: break
        case .array(let items)?:
            for (offset, item) in items.enumerated() {
                let field = "networks[\(offset)]"
                guard case .hash(let network) = item else { throw fail(field, "expected an object") }
                guard let name = try string(network["name"], field + ".name") else {
                    throw fail(field, "missing 'name'")
                }
                var defaults: [String] = []
                if case .array(let values)? = network["default"] {
                    for value in values {
                        guard case .string(let text) = value else { throw fail(field + ".default", "expected strings") }
                        defaults.append(text)
                    }
                }
                networks.append(
                    NetworkContext(
                        name: name, ip: try address(network["ip"], field + ".ip"),
                        netmask: try address(network["netmask"], field + ".netmask"),
                        gateway: try address(network["gateway"], field + ".gateway"), defaults: defaults))
            }
        default:
            throw fail("networks", "expected a list")
        }

        guard let deployment = try string(fields["deployment"], "deployment") else {
            throw fail("deployment", "missing")
        }
        let spec = SpecContext(
            deployment: deployment, name: try string(fields["name"], "name"),
            id: try string(fields["id"], "id"), index: try integer(fields["index"], "index") ?? 0,
            az: try string(fields["az"], "az") ?? "unknown",
            bootstrap: try boolean(fields["bootstrap"], "bootstrap") ?? true,
            address: try address(fields["address"], "address"), networks: networks)

        var properties = fields["manifest_properties"] ?? .hash([:])
        if properties.isNull { properties = .hash([:]) }
        guard case .hash = properties else { throw fail("manifest_properties", "expected an object") }

        var links: [String: LinkContext] = [:]
        switch fields["links"] {
        case nil, .null?: break
        case .hash(let entries)?:
            for (name, value) in entries {
                let field = "links.\(name)"
                guard case .hash(let link) = value else { throw fail(field, "expected an object") }
                var instances: [LinkInstanceContext] = []
                switch link["instances"] {
                case nil, .null?: break
                case .array(let items)?:
                    for (offset, item) in items.enumerated() {
                        let instanceField = "\(field).instances[\(offset)]"
                        guard case .hash(let instance) = item else { throw fail(instanceField, "expected an object") }
                        instances.append(
                            LinkInstanceContext(
                                name: try string(instance["name"], instanceField + ".name"),
                                id: try string(instance["id"], instanceField + ".id"),
                                index: try integer(instance["index"], instanceField + ".index"),
                                az: try string(instance["az"], instanceField + ".az"),
                                address: try string(instance["address"], instanceField + ".address"),
                                bootstrap: try boolean(instance["bootstrap"], instanceField + ".bootstrap"),
                                properties: instance["properties"] ?? .null))
                    }
                default:
                    throw fail(field + ".instances", "expected a list")
                }
                links[name] = LinkContext(
                    instances: instances, properties: link["properties"] ?? .hash([:]),
                    address: try string(link["address"], field + ".address"))
            }
        default:
            throw fail("links", "expected an object")
        }
        self.init(spec: spec, properties: properties, links: links)
    }
}
