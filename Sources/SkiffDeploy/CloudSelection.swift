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
        _ manifest: DeploymentManifest, options: EnvironmentOptions, releases: [Release], state: DeploymentState,
        stages: Stages, work: URL
    ) async throws -> (provider: any CloudProvider, name: String) {
        let spec = manifest.cloudProvider
        guard let builtIn = BuiltInCPI(templateName: spec.templateName, release: spec.templateRelease) else {
            guard let release = releases.first(where: { $0.name == spec.templateRelease }) else {
                throw DeployError(
                    .manifest, "cloud_provider.template.release '\(spec.templateRelease)' must refer to a release in releases")
            }
            let cpi = try await stages.group("installing CPI") { stages in
                try await CPIInstaller.install(
                    manifest, release: release, installationID: state.installationID, directorID: state.directorID,
                    stages: stages, work: work)
            }
            return (cpi, "release:\(release.name)/\(spec.templateName)")
        }
        switch builtIn {
        case .local:
            var config = LocalCloudConfig()
            if let directory = spec.properties["local"]?["state_dir"]?.stringValue { config.stateDirectory = directory }
            config.agentCommand = [options.skiffExecutable, "agent", "--settings", "/var/vcap/bosh/settings.json"]
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
