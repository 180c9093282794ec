import SkiffCore
import SkiffManifest

extension LoadedEnvironment {
    /// Refuses mbus URLs the agent would refuse, before anything changes in the cloud: `cloud_provider.mbus` (how
    /// create-env reaches the agent) and `cloud_provider.properties.agent.mbus` (where the agent listens; required
    /// by the built-in CPIs) must parse and carry a user and a password.
    public func checkMbusCredentials() throws(DeployError) {
        let provider = manifest.cloudProvider
        try checkMbus(provider.mbus, at: [.key("cloud_provider"), .key("mbus")])
        let agentPath: [FieldPathComponent] = [
            .key("cloud_provider"), .key("properties"), .key("agent"), .key("mbus"),
        ]
        if let listen = provider.properties["agent"]?["mbus"]?.stringValue {
            try checkMbus(listen, at: agentPath)
        } else if BuiltInCPI(templateName: provider.templateName, release: provider.templateRelease) != nil {
            throw DeployError(
                .manifest,
                "\(FieldPath(agentPath)): must be provided: the agent listens there and refuses to start without "
                    + "credentials; add `agent: {mbus: \"https://mbus:((mbus_bootstrap_password))@0.0.0.0:6868\"}` "
                    + "under cloud_provider.properties",
                at: location(of: [.key("cloud_provider")]))
        }
    }

    private func checkMbus(_ text: String, at path: [FieldPathComponent]) throws(DeployError) {
        let field = FieldPath(path)
        let url: MbusURL
        do {
            url = try MbusURL(parsing: text)
        } catch {
            throw DeployError(.manifest, "\(field): \(error)", at: location(of: path))
        }
        guard url.hasCredentials else {
            throw DeployError(
                .manifest,
                "\(field): the URL '\(url)' has no credentials, and the agent refuses to start without them; add a "
                    + "user and password, like https://mbus:((mbus_bootstrap_password))@\(url.host.hostPort(url.port)) "
                    + "with the variable {name: mbus_bootstrap_password, type: password}",
                at: location(of: path))
        }
    }

    private func location(of path: [FieldPathComponent]) -> SourceLocation {
        document.location(of: FieldPath(path)) ?? SourceLocation(file: manifestURL.path)
    }
}
