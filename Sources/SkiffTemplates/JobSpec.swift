import Yams

/// A property declared in a job spec.
public struct PropertyDefinition: Sendable, Equatable {
    /// The dotted name, e.g. `nginx.worker_processes`.
    public var name: String
    /// The human description from the spec.
    public var description: String?
    /// The default value, or nil when the spec declares none.
    public var defaultValue: TemplateValue?
    /// The example value from the spec, if any.
    public var example: TemplateValue?
    /// The declared type, e.g. `certificate` (informational).
    public var type: String?

    /// Creates a property definition.
    public init(
        name: String, description: String? = nil, defaultValue: TemplateValue? = nil,
        example: TemplateValue? = nil, type: String? = nil
    ) {
        self.name = name
        self.description = description
        self.defaultValue = defaultValue
        self.example = example
        self.type = type
    }
}

/// A `consumes` or `provides` entry of a job spec (create-env does not resolve links).
public struct LinkDefinition: Sendable, Equatable {
    /// The link name.
    public var name: String
    /// The link type.
    public var type: String
    /// Whether the link may be absent.
    public var optional: Bool

    /// Creates a link definition.
    public init(name: String, type: String, optional: Bool = false) {
        self.name = name
        self.type = type
        self.optional = optional
    }
}

/// One `templates` entry: a source under `templates/` rendered to a destination under the job directory.
public struct TemplateMapping: Sendable, Equatable {
    /// The path under `templates/`.
    public var source: String
    /// The path under the job directory (`/var/vcap/jobs/NAME`).
    public var destination: String

    /// Creates a mapping.
    public init(source: String, destination: String) {
        self.source = source
        self.destination = destination
    }
}

/// A BOSH job `spec` (or `job.MF` in a release tarball).
public struct JobSpec: Sendable, Equatable {
    /// The job name.
    public var name: String
    /// Templates in spec order.
    public var templates: [TemplateMapping]
    /// Package names the job needs.
    public var packages: [String]
    /// Declared properties in spec order.
    public var properties: [PropertyDefinition]
    /// Links consumed (not resolved by create-env).
    public var consumes: [LinkDefinition]
    /// Links provided (not resolved by create-env).
    public var provides: [LinkDefinition]

    /// Creates a spec from parts.
    public init(
        name: String, templates: [TemplateMapping] = [], packages: [String] = [],
        properties: [PropertyDefinition] = [], consumes: [LinkDefinition] = [], provides: [LinkDefinition] = []
    ) {
        self.name = name
        self.templates = templates
        self.packages = packages
        self.properties = properties
        self.consumes = consumes
        self.provides = provides
    }

    /// Parses spec YAML; errors name `file` (default `spec`) and the field.
    public init(yaml text: String, file: String = "spec") throws(TemplateError) {
        func invalid(_ message: String, _ node: Node? = nil) -> TemplateError {
            TemplateError(code: .invalidSpec, message: message, file: file, line: node?.mark.map { $0.line })
        }
        let root: Node
        do {
            let parsed: Node?
            do {
                parsed = try Yams.compose(yaml: text)
            } catch {
                // Ruby's YAML reader accepts a tab after `key:` that libyaml refuses; real specs have them.
                let spaced = text.replacingOccurrences(of: "\t", with: " ")
                guard spaced != text, let retried = try? Yams.compose(yaml: spaced) else { throw error }
                parsed = retried
            }
            guard let node = parsed else { throw invalid("empty job spec") }
            root = node
        } catch let error as TemplateError {
            throw error
        } catch {
            let (message, line) = yamlProblem(error)
            throw TemplateError(code: .invalidSpec, message: "invalid YAML: \(message)", file: file, line: line)
        }
        guard let mapping = root.mapping else { throw invalid("job spec must be a mapping", root) }

        guard let nameNode = mapping["name"], let name = nameNode.scalar?.string, !name.isEmpty else {
            throw invalid("missing 'name'", root)
        }
        self.name = name

        var templates: [TemplateMapping] = []
        if let node = mapping["templates"], !Self.isNull(node) {
            guard let pairs = node.mapping else {
                throw invalid("'templates' must be a mapping of source to destination", node)
            }
            for (key, value) in pairs {
                guard let source = key.scalar?.string, let destination = value.scalar?.string else {
                    throw invalid("'templates' entries must be strings", key)
                }
                templates.append(TemplateMapping(source: source, destination: destination))
            }
        }
        self.templates = templates

        var packages: [String] = []
        if let node = mapping["packages"], !Self.isNull(node) {
            guard let items = node.sequence else { throw invalid("'packages' must be a list", node) }
            for item in items {
                guard let package = item.scalar?.string else { throw invalid("'packages' entries must be names", item) }
                packages.append(package)
            }
        }
        self.packages = packages

        var properties: [PropertyDefinition] = []
        if let node = mapping["properties"], !Self.isNull(node) {
            guard let pairs = node.mapping else { throw invalid("'properties' must be a mapping", node) }
            for (key, value) in pairs {
                guard let propertyName = key.scalar?.string else {
                    throw invalid("property names must be strings", key)
                }
                var definition = PropertyDefinition(name: propertyName)
                if let fields = value.mapping {
                    definition.description = fields["description"]?.scalar?.string
                    definition.defaultValue = fields["default"].map { TemplateValue(node: $0) }
                    definition.example = fields["example"].map { TemplateValue(node: $0) }
                    definition.type = fields["type"]?.scalar?.string
                } else if !Self.isNull(value) {
                    throw invalid("property '\(propertyName)' must be a mapping", value)
                }
                properties.append(definition)
            }
        }
        self.properties = properties

        self.consumes = try Self.links(mapping["consumes"], field: "consumes", invalid: invalid)
        self.provides = try Self.links(mapping["provides"], field: "provides", invalid: invalid)
    }

    private static func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return node.tag.rawValue == Tag.Name.null.rawValue }
        return false
    }

    private static func links(_ node: Node?, field: String, invalid: (String, Node?) -> TemplateError)
        throws(TemplateError) -> [LinkDefinition]
    {
        guard let node, !isNull(node) else { return [] }
        guard let items = node.sequence else { throw invalid("'\(field)' must be a list", node) }
        var links: [LinkDefinition] = []
        for item in items {
            guard let fields = item.mapping, let name = fields["name"]?.scalar?.string else {
                throw invalid("'\(field)' entries need a 'name'", item)
            }
            let type = fields["type"]?.scalar?.string ?? ""
            let optional = fields["optional"]?.bool ?? false
            links.append(LinkDefinition(name: name, type: type, optional: optional))
        }
        return links
    }
}
