import Foundation
import SkiffNet

/// One network of the instance as templates see it in `spec.networks.NAME`.
public struct NetworkContext: Sendable, Equatable {
    /// The network name, e.g. `default` or `private`.
    public var name: String
    /// The instance's address on this network (`""` when nil).
    public var ip: IPAddress?
    /// The netmask as an address, e.g. `255.255.255.0` or `ffff:ffff:ffff:ffff::`.
    public var netmask: IPAddress?
    /// The network's gateway.
    public var gateway: IPAddress?
    /// What this network is the default for, e.g. `["dns", "gateway"]`; omitted when empty.
    public var defaults: [String]
    /// More keys for this network's hash (e.g. `dns_record_name`).
    public var extra: TemplateHash

    /// Creates a network entry.
    public init(
        name: String, ip: IPAddress? = nil, netmask: IPAddress? = nil, gateway: IPAddress? = nil,
        defaults: [String] = [], extra: TemplateHash = [:]
    ) {
        self.name = name
        self.ip = ip
        self.netmask = netmask
        self.gateway = gateway
        self.defaults = defaults
        self.extra = extra
    }

    var templateValue: TemplateValue {
        var hash: TemplateHash = [
            "ip": .string(ip?.description ?? ""),
            "netmask": .string(netmask?.description ?? ""),
            "gateway": .string(gateway?.description ?? ""),
        ]
        if !defaults.isEmpty { hash["default"] = .array(defaults.map(TemplateValue.string)) }
        for (key, value) in extra { hash[key] = value }
        return .hash(hash)
    }
}

/// The instance facts a template reads through `spec` (bosh-cli's render context for create-env).
public struct SpecContext: Sendable, Equatable {
    /// `spec.deployment`: the manifest name.
    public var deployment: String
    /// `spec.name`: the instance group name (bosh-cli leaves it nil).
    public var name: String?
    /// `spec.job.name`; nil means the name of the job being rendered, as bosh-cli does.
    public var jobName: String?
    /// `spec.id`.
    public var id: String
    /// `spec.index` (also the `index` helper).
    public var index: Int
    /// `spec.az` (`unknown` in bosh-cli).
    public var az: String
    /// `spec.bootstrap`.
    public var bootstrap: Bool
    /// `spec.address`: the default network's address; omitted when nil.
    public var address: IPAddress?
    /// `spec.ip`; omitted when nil.
    public var ip: IPAddress?
    /// `spec.networks`, in order; empty means bosh-cli's `{default: {ip: "", netmask: "", gateway: ""}}`.
    public var networks: [NetworkContext]
    /// More top-level keys of the spec hash.
    public var extra: TemplateHash

    /// Creates a context with bosh-cli's defaults for anything not given.
    ///
    /// Unlike bosh-cli (a random UUID per render), a missing `id` is derived from deployment, name and index, so
    /// the same manifest renders the same files and an unchanged re-run can be recognised.
    public init(
        deployment: String, name: String? = nil, jobName: String? = nil,
        id: String? = nil, index: Int = 0, az: String = "unknown", bootstrap: Bool = true,
        address: IPAddress? = nil, ip: IPAddress? = nil, networks: [NetworkContext] = [], extra: TemplateHash = [:]
    ) {
        self.deployment = deployment
        self.name = name
        self.jobName = jobName
        self.id = id ?? SpecContext.stableID(deployment: deployment, name: name ?? "", index: index)
        self.index = index
        self.az = az
        self.bootstrap = bootstrap
        self.address = address
        self.ip = ip
        self.networks = networks
        self.extra = extra
    }

    /// A UUID-shaped id (version 8, RFC 9562) that depends only on deployment, instance group name and index.
    public static func stableID(deployment: String, name: String, index: Int) -> String {
        // Two FNV-1a passes with different offsets give 128 bits; this is an identifier, not a security measure.
        func fnv(_ text: String, offset: UInt64) -> UInt64 {
            var hash = offset
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            return hash
        }
        let key = "\(deployment)/\(name)/\(index)"
        var high = fnv(key, offset: 0xCBF2_9CE4_8422_2325)
        var low = fnv(key + "#", offset: 0x8422_2325_CBF2_9CE4)
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_8000  // version 8
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // RFC 9562 variant
        let hex = String(format: "%016llx%016llx", high, low)
        let characters = Array(hex)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }
        return groups.joined(separator: "-")
    }

    /// The spec hash for rendering `job`, including the resolved `properties`.
    public func templateValue(job: String, properties: TemplateValue) -> TemplateValue {
        var hash: TemplateHash = [
            "index": .int(index),
            "id": .string(id),
            "az": .string(az),
            "bootstrap": .bool(bootstrap),
            "job": ["name": .string(jobName ?? job)],
            "name": name.map(TemplateValue.string) ?? .null,
            "deployment": .string(deployment),
        ]
        if let address { hash["address"] = .string(address.description) }
        if let ip { hash["ip"] = .string(ip.description) }
        var networkHash = TemplateHash()
        if networks.isEmpty {
            networkHash["default"] = ["ip": "", "netmask": "", "gateway": ""]
        }
        for network in networks { networkHash[network.name] = network.templateValue }
        hash["networks"] = .hash(networkHash)
        hash["properties"] = properties
        for (key, value) in extra { hash[key] = value }
        return .hash(hash)
    }
}

/// bosh's property semantics: which values a job's templates see.
public enum PropertyResolver {
    /// The property source for a job: its own `properties` when given, else global deep-merged with the
    /// instance group's (instance group wins).
    public static func source(global: TemplateValue, cluster: TemplateValue, job: TemplateValue?) -> TemplateValue {
        if let job, !job.isNull { return job }
        let base: TemplateValue = global.isNull ? .hash([:]) : global
        return cluster.isNull ? base : base.deepMerged(with: cluster)
    }

    /// Keeps only the declared properties: each takes the value at its dotted path in `source`, else its default
    /// (nil when none), nested back into hashes (`a.b` becomes `{a: {b: ...}}`).
    public static func resolve(_ definitions: [PropertyDefinition], from source: TemplateValue) -> TemplateValue {
        var result = TemplateValue.hash([:])
        for definition in definitions {
            var value = source.value(atPath: definition.name) ?? .null
            if value.isNull { value = definition.defaultValue ?? .null }
            let keys = definition.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            result = setting(result, keys[...], value)
        }
        return result
    }

    private static func setting(_ base: TemplateValue, _ keys: ArraySlice<String>, _ value: TemplateValue)
        -> TemplateValue
    {
        guard let key = keys.first else { return value }
        var hash = base.asHash ?? TemplateHash()
        let inner = hash[key] ?? .hash([:])
        hash[key] = setting(keys.count == 1 ? .null : inner, keys.dropFirst(), value)
        return .hash(hash)
    }
}

/// A compiled ERB template.
public struct ERBTemplate: Sendable {
    /// The file name used in errors, e.g. `templates/nginx.conf.erb`.
    public let file: String
    let root: SyntaxNode

    /// Compiles ERB source; syntax errors carry the line.
    public init(source: String, file: String) throws(TemplateError) {
        self.file = file
        do {
            self.root = try Parser.compile(source)
        } catch {
            throw error.located(job: nil, file: file)
        }
    }

    /// Renders with already-resolved properties and the spec hash; `links` are what `link`/`if_link` find.
    public func render(
        properties: TemplateValue, spec: TemplateValue, jobName: String, index: Int,
        links: [String: LinkContext] = [:]
    ) throws(TemplateError) -> String {
        let context = TemplateContext(
            properties: RValue(properties),
            spec: RValue(spec).openStruct,
            name: .string(jobName),
            index: .int(index),
            links: links.mapValues(RValue.init(link:)))
        let root = self.root
        let result = LargeStack.run { () -> Result<String, TemplateError> in
            do throws(TemplateError) {
                return .success(try Interpreter(context: context).run(root))
            } catch {
                return .failure(error)
            }
        }
        do {
            return try result.get()
        } catch {
            throw error.located(job: nil, file: file)
        }
    }
}

/// A job's template sources: its spec, `monit` and `templates/` files.
public struct JobTemplates: Sendable, Equatable {
    /// The parsed job spec.
    public var spec: JobSpec
    /// The `monit` file text; nil when the job has none.
    public var monit: String?
    /// Template sources by their `templates` key (path under `templates/`).
    public var templates: [String: String]

    /// Creates job sources from memory (e.g. a release tarball's `job.MF`, `monit`, `templates/*`).
    public init(spec: JobSpec, monit: String?, templates: [String: String]) {
        self.spec = spec
        self.monit = monit
        self.templates = templates
    }

    /// Reads a job directory: `spec` (or `job.MF`), `monit`, and each declared file under `templates/`.
    ///
    /// With `requireTemplates` false a missing or unreadable template is left out (rendering it then fails alone).
    public init(directory: URL, requireTemplates: Bool = true) throws(TemplateError) {
        let jobName = directory.lastPathComponent
        func read(_ relative: String) -> String? {
            // Decoded by hand so that a UTF-8 byte-order mark is kept, as Ruby keeps it.
            guard let data = try? Data(contentsOf: directory.appendingPathComponent(relative)) else { return nil }
            return String(validating: data, as: UTF8.self)
        }
        let specFile =
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("spec").path)
            ? "spec" : "job.MF"
        guard let specText = read(specFile) else {
            throw TemplateError(
                code: .io, message: "no job spec ('spec' or 'job.MF') in \(directory.path)",
                job: jobName)
        }
        let spec: JobSpec
        do {
            spec = try JobSpec(yaml: specText, file: specFile)
        } catch {
            throw error.located(job: jobName, file: specFile)
        }
        var templates: [String: String] = [:]
        for mapping in spec.templates {
            try JobTemplates.checkSafe(mapping.source, job: spec.name, field: "source")
            guard let text = read("templates/" + mapping.source) else {
                if !requireTemplates { continue }
                let exists = FileManager.default.fileExists(
                    atPath: directory.appendingPathComponent("templates/" + mapping.source).path)
                throw TemplateError(
                    code: .io, message: exists ? "template file is not readable UTF-8 text" : "template file not found",
                    job: spec.name, file: "templates/\(mapping.source)")
            }
            templates[mapping.source] = text
        }
        self.init(spec: spec, monit: read("monit"), templates: templates)
    }

    /// Refuses absolute paths, `..` and empty components, as bosh does for template sources and destinations.
    static func checkSafe(_ path: String, job: String, field: String) throws(TemplateError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if path.isEmpty || path.hasPrefix("/") || parts.contains("..") || parts.contains("") {
            throw TemplateError(
                code: .invalidSpec, message: "template \(field) '\(path)' is not a safe relative path",
                job: job, file: "spec")
        }
    }
}

/// A rendered file of a job, relative to `/var/vcap/jobs/NAME`.
public struct RenderedFile: Sendable, Equatable {
    /// The template key (`monit` for the monit file).
    public var source: String
    /// The destination path relative to the job directory.
    public var destination: String
    /// The rendered text.
    public var content: String

    /// Creates a rendered file.
    public init(source: String, destination: String, content: String) {
        self.source = source
        self.destination = destination
        self.content = content
    }
}

/// The result of rendering one job.
public struct RenderedJob: Sendable, Equatable {
    /// The job name.
    public var name: String
    /// Files in spec order, then `monit` (destination `monit`) when the job has one.
    public var files: [RenderedFile]

    /// The rendered monit file, if any.
    public var monit: String? { self[destination: "monit"] }

    /// The content rendered to `destination`.
    public subscript(destination destination: String) -> String? {
        files.first { $0.destination == destination }?.content
    }
}

/// One template of a job rendered on its own: its text, or why it failed.
public struct TemplateOutcome: Sendable, Equatable {
    /// The template key (`monit` for the monit file).
    public var source: String
    /// The file inside the job directory, e.g. `templates/config.json.erb` or `monit`.
    public var file: String
    /// The destination path relative to the job directory.
    public var destination: String
    /// The rendered text, or the located error.
    public var result: Result<String, TemplateError>

    /// Creates an outcome.
    public init(source: String, file: String, destination: String, result: Result<String, TemplateError>) {
        self.source = source
        self.file = file
        self.destination = destination
        self.result = result
    }
}

/// Renders whole jobs the way bosh create-env does, without Ruby.
public enum JobRenderer {
    /// Renders every template of `job` and its monit file independently: a failing template does not stop the
    /// others. Properties come from `context.properties` (only those the spec declares, with its defaults).
    public static func renderEach(job: JobTemplates, context: RenderContext) -> [TemplateOutcome] {
        let name = job.spec.name
        let resolved = PropertyResolver.resolve(job.spec.properties, from: context.properties)
        let specValue = context.spec.templateValue(job: name, properties: resolved)
        let helperName = context.spec.name ?? name
        var entries = job.spec.templates.map {
            (key: $0.source, file: "templates/" + $0.source, destination: $0.destination)
        }
        if job.monit != nil { entries.append((key: "monit", file: "monit", destination: "monit")) }
        return entries.map { entry in
            let result: Result<String, TemplateError>
            do throws(TemplateError) {
                try JobTemplates.checkSafe(entry.destination, job: name, field: "destination")
                let text: String
                if entry.file == "monit" {
                    text = job.monit ?? ""
                } else {
                    try JobTemplates.checkSafe(entry.key, job: name, field: "source")
                    guard let source = job.templates[entry.key] else {
                        throw TemplateError(code: .io, message: "template file not found or not UTF-8 text")
                    }
                    text = source
                }
                let template = try ERBTemplate(source: text, file: entry.file)
                result = .success(
                    try template.render(
                        properties: resolved, spec: specValue, jobName: helperName, index: context.spec.index,
                        links: context.links))
            } catch {
                result = .failure(error.located(job: name, file: entry.file))
            }
            return TemplateOutcome(source: entry.key, file: entry.file, destination: entry.destination, result: result)
        }
    }

    /// Renders a job directory with `context` and writes each rendered template under `output` (at its
    /// destination; the monit file at `monit`). A template that fails writes nothing; the outcomes say which.
    public static func renderDirectory(_ directory: URL, context: RenderContext, output: URL)
        throws(TemplateError) -> [TemplateOutcome]
    {
        let job = try JobTemplates(directory: directory, requireTemplates: false)
        let outcomes = renderEach(job: job, context: context)
        for outcome in outcomes {
            guard case .success(let content) = outcome.result else { continue }
            let target = output.appendingPathComponent(outcome.destination)
            do {
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(content.utf8).write(to: target, options: .atomic)
            } catch {
                throw TemplateError(code: .io, message: "cannot write \(target.path): \(error.localizedDescription)")
            }
        }
        return outcomes
    }

    /// Renders every template of `job` and its monit file.
    ///
    /// - Parameters:
    ///   - properties: the property source (see `PropertyResolver.source`); only declared properties are visible.
    ///   - spec: the instance facts for `spec`.
    public static func render(job: JobTemplates, properties: TemplateValue, spec: SpecContext)
        throws(TemplateError) -> RenderedJob
    {
        let name = job.spec.name
        let resolved = PropertyResolver.resolve(job.spec.properties, from: properties)
        let specValue = spec.templateValue(job: name, properties: resolved)
        var files: [RenderedFile] = []
        var sources = job.spec.templates.map {
            (
                key: $0.source, file: "templates/" + $0.source, destination: $0.destination,
                isMonit: false
            )
        }
        // bosh renders the monit file as a template too.
        if job.monit != nil { sources.append((key: "monit", file: "monit", destination: "monit", isMonit: true)) }
        for (key, file, destination, isMonit) in sources {
            try JobTemplates.checkSafe(destination, job: name, field: "destination")
            let text: String
            if isMonit {
                text = job.monit ?? ""
            } else {
                try JobTemplates.checkSafe(key, job: name, field: "source")
                guard let source = job.templates[key] else {
                    throw TemplateError(code: .io, message: "template file not found", job: name, file: file)
                }
                text = source
            }
            do {
                let template = try ERBTemplate(source: text, file: file)
                let content = try template.render(
                    properties: resolved, spec: specValue, jobName: name,
                    index: spec.index)
                files.append(RenderedFile(source: key, destination: destination, content: content))
            } catch {
                throw error.located(job: name, file: file)
            }
        }
        return RenderedJob(name: name, files: files)
    }

    /// Renders every job of an instance group with bosh's property sources: each job sees its own `properties`
    /// when the manifest gives them (`jobProperties`), else the manifest's global `properties` deep-merged with the
    /// instance group's (instance group wins); only properties each job's spec declares are visible to it.
    public static func render(
        instanceGroupJobs jobs: [(job: JobTemplates, jobProperties: TemplateValue?)], globalProperties: TemplateValue,
        instanceGroupProperties: TemplateValue, spec: SpecContext
    ) throws(TemplateError) -> [RenderedJob] {
        var rendered: [RenderedJob] = []
        for entry in jobs {
            let source = PropertyResolver.source(
                global: globalProperties, cluster: instanceGroupProperties, job: entry.jobProperties)
            rendered.append(try render(job: entry.job, properties: source, spec: spec))
        }
        return rendered
    }

    /// Reads the job directory (`spec`, `monit`, `templates/`) and renders it.
    public static func render(jobDirectory: URL, properties: TemplateValue, spec: SpecContext)
        throws(TemplateError) -> RenderedJob
    {
        try render(job: JobTemplates(directory: jobDirectory), properties: properties, spec: spec)
    }
}

/// Runs the interpreter on a thread with a large stack: templates may recurse (`def` methods, nested blocks), and a
/// tree-walking interpreter needs far more stack per Ruby call than the main thread's 8 MB allow in debug builds.
enum LargeStack {
    static let size = 512 << 20

    private final class Outcome: @unchecked Sendable {
        var value: Result<String, TemplateError>?
    }

    static func run(_ body: @escaping @Sendable () -> Result<String, TemplateError>) -> Result<String, TemplateError> {
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.value = body()
            done.signal()
        }
        thread.stackSize = size
        thread.start()
        done.wait()
        return outcome.value ?? .failure(TemplateError(code: .runtime, message: "the renderer thread did not finish"))
    }
}
