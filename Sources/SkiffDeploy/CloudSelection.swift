import Foundation
import SkiffAWS
import SkiffCloud
import SkiffLocalCloud

/// The CPIs built into skiff, chosen by the manifest's `cloud_provider.template`.
public enum BuiltInCPI: String, Sendable {
    /// The local IPv6 cloud of network namespaces: `{name: local_cpi, release: skiff}`.
    case local
    /// AWS EC2: `{name: aws_cpi, release: bosh-aws-cpi}`.
    case aws

    /// The built-in CPI a template names, or nil for one that must come from a CPI release.
    public init?(templateName: String, release: String) {
        switch (templateName, release) {
        case ("local_cpi", "skiff"): self = .local
        case ("aws_cpi", "bosh-aws-cpi"): self = .aws
        default: return nil
        }
    }
}

/// Makes the cloud a manifest's `cloud_provider` names: a built-in CPI, or the CPI job of a CPI release, installed.
enum CloudSelection {
    static func make(
        _ manifest: DeploymentManifest, options: EnvironmentOptions, releases: [Release], installationID: String,
        directorID: String, stages: Stages, work: URL
    ) async throws -> (provider: any CloudProvider, name: String) {
        let spec = manifest.cloudProvider
        guard let builtIn = BuiltInCPI(templateName: spec.templateName, release: spec.templateRelease) else {
            guard let release = releases.first(where: { $0.name == spec.templateRelease }) else {
                throw DeployError(
                    .manifest,
                    "cloud_provider.template.release '\(spec.templateRelease)' must refer to a release in releases")
            }
            let cpi = try await stages.group("installing CPI") { stages in
                try await CPIInstaller.install(
                    manifest, release: release, installationID: installationID, directorID: directorID,
                    stages: stages, work: work)
            }
            return (cpi, "release:\(release.name)/\(spec.templateName)")
        }
        switch builtIn {
        case .local:
            var config = LocalCloudConfig()
            if let directory = spec.properties["local"]?["state_dir"]?.stringValue { config.stateDirectory = directory }
            config.mbus = spec.properties["agent"]?["mbus"]?.stringValue
            return (LocalCloud(config: config), "local")
        case .aws:
            do {
                return (try AWSCloudProvider(properties: spec.properties.objectValue ?? [:]), "aws")
            } catch {
                throw DeployError(.cloud, error.message, at: "cloud_provider.properties")
            }
        }
    }
}

extension CloudSelection {
    /// What the manifest's cloud can do, known without making it (no CPI is installed for this).
    static func capabilities(_ manifest: DeploymentManifest) -> CloudCapabilities {
        let spec = manifest.cloudProvider
        switch BuiltInCPI(templateName: spec.templateName, release: spec.templateRelease) {
        case .local?: return LocalCloud().capabilities
        case .aws?, nil: return .standard
        }
    }
}

/// What a cloud is made from: the manifest, the releases read, and the run's ids and scratch folder.
public struct CloudRequest: Sendable {
    /// The validated manifest.
    public var manifest: DeploymentManifest
    /// The options of the run.
    public var options: EnvironmentOptions
    /// The releases read (a CPI release among them, for an external CPI).
    public var releases: [Release]
    /// The state's installation id (where a CPI release is installed).
    public var installationID: String
    /// The state's director id.
    public var directorID: String
    /// Where progress is reported.
    public var stages: Stages
    /// The run's scratch folder.
    public var work: URL
}

/// Where create-env and delete-env get their cloud and their agent: for the binary, the manifest's CPI
/// (``CloudSelection``) and the agent's HTTPS mbus; in tests, an in-memory cloud and an in-process agent.
public struct DeployConnector: Sendable {
    /// What the manifest's cloud can do, known without making it.
    public var capabilities: @Sendable (DeploymentManifest) -> CloudCapabilities
    /// Makes the cloud; returns it and its name as the state records it (`local`, `aws`, `release:…`).
    public var cloud: @Sendable (CloudRequest) async throws -> (provider: any CloudProvider, name: String)
    /// Makes the agent client from `cloud_provider.mbus`; the director id is the reply-to.
    public var agent: @Sendable (DeploymentManifest, String) throws -> any AgentConnection

    /// A connector from its parts.
    public init(
        capabilities: @escaping @Sendable (DeploymentManifest) -> CloudCapabilities,
        cloud: @escaping @Sendable (CloudRequest) async throws -> (provider: any CloudProvider, name: String),
        agent: @escaping @Sendable (DeploymentManifest, String) throws -> any AgentConnection
    ) {
        self.capabilities = capabilities
        self.cloud = cloud
        self.agent = agent
    }

    /// The manifest's own cloud and the agent's HTTPS mbus.
    public static let standard = DeployConnector(
        capabilities: { CloudSelection.capabilities($0) },
        cloud: { request in
            try await CloudSelection.make(
                request.manifest, options: request.options, releases: request.releases,
                installationID: request.installationID, directorID: request.directorID, stages: request.stages,
                work: request.work)
        },
        agent: { manifest, directorID in try manifest.agentClient(directorID: directorID) })
}
