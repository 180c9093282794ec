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

/// Makes the cloud a manifest's `cloud_provider` names.
enum CloudSelection {
    static func make(
        _ manifest: DeploymentManifest, options: EnvironmentOptions
    ) throws -> (provider: any CloudProvider, name: String) {
        let spec = manifest.cloudProvider
        guard let builtIn = BuiltInCPI(templateName: spec.templateName, release: spec.templateRelease) else {
            throw DeployError(
                .cloud,
                "CPI job '\(spec.templateName)' of release '\(spec.templateRelease)' is not built in; skiff runs "
                    + "local_cpi (release skiff) and aws_cpi (release bosh-aws-cpi), and cannot yet install CPI releases",
                at: "cloud_provider.template")
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
