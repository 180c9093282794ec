import Crypto
import Foundation
import SkiffCloud
import SkiffCore
import SkiffManifest

/// What `create-env` and `delete-env` are given: the manifest, its ops files and variables, and where state lives.
public struct EnvironmentOptions: Sendable {
    /// The manifest path as given.
    public var manifestPath: String
    /// `--state`; default `<manifest>-state.json` beside the manifest.
    public var statePath: String?
    /// `-o` ops files, in order.
    public var opsFiles: [String]
    /// The variable flags.
    public var variables: VariableFlags
    /// `--recreate`: replace the VM even when nothing changed.
    public var recreate: Bool
    /// `--recreate-persistent-disks`: migrate the persistent disk to a new one even when nothing changed.
    public var recreatePersistentDisks: Bool
    /// `--skip-drain`.
    public var skipDrain: Bool
    /// `--force` (delete-env without a state file is then not an error).
    public var force: Bool
    /// The `skiff` executable, started as the agent inside local-cloud VMs.
    public var skiffExecutable: String

    /// Options for a manifest; everything else defaults as in the BOSH CLI.
    public init(
        manifestPath: String, statePath: String? = nil, opsFiles: [String] = [],
        variables: VariableFlags = VariableFlags(),
        recreate: Bool = false, recreatePersistentDisks: Bool = false, skipDrain: Bool = false, force: Bool = false,
        skiffExecutable: String
    ) {
        self.recreatePersistentDisks = recreatePersistentDisks
        self.manifestPath = manifestPath
        self.statePath = statePath
        self.opsFiles = opsFiles
        self.variables = variables
        self.recreate = recreate
        self.skipDrain = skipDrain
        self.force = force
        self.skiffExecutable = skiffExecutable
    }

    /// The manifest as an absolute file URL (`~` expanded).
    public var manifestURL: URL {
        URL(fileURLWithPath: (manifestPath as NSString).expandingTildeInPath).standardizedFileURL
    }

    /// The state file.
    public var stateURL: URL {
        if let statePath {
            return URL(fileURLWithPath: (statePath as NSString).expandingTildeInPath).standardizedFileURL
        }
        return StateStore.defaultURL(forManifest: manifestURL)
    }

    /// The vars store: `--vars-store`, or `<manifest>-vars-store.yml` beside the manifest when the manifest
    /// generates variables and no store was named (the BOSH CLI would fail instead).
    func variableFlags(manifestText: String) -> VariableFlags {
        var flags = variables
        if flags.varsStore == nil && Self.declaresVariables(manifestText) {
            flags.varsStore = defaultVarsStorePath
        }
        return flags
    }

    /// `<manifest>-vars-store.yml` beside the manifest.
    var defaultVarsStorePath: String {
        let base = manifestURL.deletingPathExtension().lastPathComponent
        return manifestURL.deletingLastPathComponent().appendingPathComponent("\(base)-vars-store.yml").path
    }

    static func declaresVariables(_ text: String) -> Bool {
        text.hasPrefix("variables:") || text.contains("\nvariables:")
    }
}

/// A manifest read, interpolated and validated: the first stage of create-env and delete-env.
public struct LoadedEnvironment: Sendable {
    /// The manifest file.
    public let manifestURL: URL
    /// The interpolated document (with source lines and which values are secrets).
    public let document: InterpolatedDocument
    /// The validated model.
    public let manifest: DeploymentManifest
    /// SHA-512 (hex) of the interpolated manifest, the state's `current_manifest_sha`.
    public let sha512: String

    /// Reads, interpolates and validates the manifest named by `options`. Generated variables are not written to the
    /// vars store: they are in ``InterpolatedDocument/unsavedStore`` for create-env to save just before its first
    /// change, so a run that fails before changing anything (or a dry run) leaves the store as it was.
    public static func load(_ options: EnvironmentOptions) throws -> LoadedEnvironment {
        let manifestURL = options.manifestURL
        do {
            let text = try SourceText.read(manifestURL.path, what: "manifest")
            let ops = try options.opsFiles.map { try SourceText.read($0, what: "ops file") }
            let sources = try VariableSources(flags: options.variableFlags(manifestText: text.text))
            var request = InterpolationRequest(manifest: text, opsFiles: ops, variables: sources, expectAllKeys: true)
            request.savesStore = false
            let document = try Interpolator.evaluate(request)
            let manifest = try DeploymentManifestParser.parse(document)
            let digest = Hex.string(SHA512.hash(data: Data(document.output.utf8)))
            return LoadedEnvironment(manifestURL: manifestURL, document: document, manifest: manifest, sha512: digest)
        } catch let error as ManifestError {
            throw DeployError(.manifest, error.message, at: error.location)
        }
    }

    /// Resolves a release or stemcell URL: `file://rel` and bare paths relative to the manifest's folder.
    public func resolve(url: String) -> URL? {
        var path = url
        if path.hasPrefix("file://") { path = String(path.dropFirst("file://".count)) }
        guard !path.contains("://") else { return nil }
        path = (path as NSString).expandingTildeInPath
        if !path.hasPrefix("/") { path = manifestURL.deletingLastPathComponent().appendingPathComponent(path).path }
        return URL(fileURLWithPath: path).standardizedFileURL
    }

    /// A local file for a manifest URL: `file://` and paths resolved against the manifest's folder, `http(s)://`
    /// downloaded into the cache and checked against the manifest's `sha1`.
    public func localFile(for url: String, digest: String?) async throws -> URL {
        if let path = resolve(url: url) { return path }
        guard url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://") else {
            throw DeployError(.manifest, "unsupported URL scheme (use file://, http:// or https://)", at: url)
        }
        guard let digest, !digest.isEmpty else {
            throw DeployError(.manifest, "a sha1 must be provided for an http URL", at: url)
        }
        return try await Download.fetch(url, digest: digest)
    }
}
