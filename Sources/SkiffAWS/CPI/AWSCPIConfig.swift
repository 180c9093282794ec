import Foundation
import SkiffCloud

/// A CPI failure in BOSH's terms: the error class the director and CLI understand, and a message.
public struct AWSCPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// BOSH's CPI error classes.
    public enum Kind: String, Sendable, Hashable {
        case cloudError = "Bosh::Clouds::CloudError"
        case cpiError = "Bosh::Clouds::CpiError"
        case notSupported = "Bosh::Clouds::NotSupported"
        case notImplemented = "Bosh::Clouds::NotImplemented"
        case vmNotFound = "Bosh::Clouds::VMNotFound"
        case diskNotFound = "Bosh::Clouds::DiskNotFound"
        case diskNotAttached = "Bosh::Clouds::DiskNotAttached"
        case vmCreationFailed = "Bosh::Clouds::VMCreationFailed"
    }

    /// The error class.
    public let kind: Kind
    /// What went wrong, naming the value at fault.
    public let message: String
    /// Whether the caller may retry.
    public let okToRetry: Bool

    /// Creates an error.
    public init(_ kind: Kind = .cloudError, _ message: String, okToRetry: Bool = false) {
        self.kind = kind
        self.message = message
        self.okToRetry = okToRetry
    }

    /// The message.
    public var description: String { message }
}

/// The AWS CPI's settings: the `cloud_provider.properties` of a create-env manifest (`aws:` and `agent:`).
public struct AWSCPIConfig: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// `aws.access_key_id` (or the environment's keys when `credentials_source: env_or_profile`).
    public var credentials: AWSCredentials
    /// `aws.region`.
    public var region: String
    /// `aws.ec2_endpoint`, if set.
    public var endpoint: EC2Endpoint?
    /// `aws.default_key_name`.
    public var defaultKeyName: String?
    /// `aws.default_security_groups`: ids or names.
    public var defaultSecurityGroups: [String]
    /// `agent.mbus`: the agent's HTTPS endpoint with its password (a secret).
    public var mbus: String?
    /// `agent.ntp`.
    public var ntp: [String]
    /// `agent.blobstore`, passed to the agent as is.
    public var blobstore: JSONValue?

    /// Creates a config.
    public init(
        credentials: AWSCredentials, region: String, endpoint: EC2Endpoint? = nil, defaultKeyName: String? = nil,
        defaultSecurityGroups: [String] = [], mbus: String? = nil, ntp: [String] = [], blobstore: JSONValue? = nil
    ) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.defaultKeyName = defaultKeyName
        self.defaultSecurityGroups = defaultSecurityGroups
        self.mbus = mbus
        self.ntp = ntp
        self.blobstore = blobstore
    }

    /// Reads the properties object (`{"aws": {...}, "agent": {...}}`), or a config with a top-level
    /// `cloud_provider.properties` or `properties` wrapper.
    public init(properties raw: JSONValue, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(AWSCPIError)
    {
        var properties = raw
        if let inner = raw["cloud_provider"]?["properties"] { properties = inner }
        if let inner = raw["properties"], inner["aws"] != nil { properties = inner }
        guard let aws = properties["aws"]?.objectValue else {
            throw AWSCPIError(.cpiError, "the CPI config has no 'aws' block (cloud_provider.properties.aws)")
        }
        func text(_ key: String) -> String? {
            guard let value = aws[key]?.stringValue, !value.isEmpty else { return nil }
            return value
        }
        let source = text("credentials_source") ?? "static"
        if source == "env_or_profile" {
            do {
                let settings = try AWSSettings.resolve(environment: environment, region: text("region"))
                credentials = settings.credentials
            } catch {
                throw AWSCPIError(.cpiError, "aws.credentials_source is env_or_profile, but \(error)")
            }
        } else {
            guard let key = text("access_key_id") else {
                throw AWSCPIError(.cpiError, "the CPI config lacks aws.access_key_id")
            }
            guard let secret = text("secret_access_key") else {
                throw AWSCPIError(.cpiError, "the CPI config lacks aws.secret_access_key")
            }
            credentials = AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: text("session_token"), source: "CPI config")
        }
        guard let region = text("region") else { throw AWSCPIError(.cpiError, "the CPI config lacks aws.region") }
        self.region = region
        if let endpointText = text("ec2_endpoint") {
            let withScheme = endpointText.contains("://") ? endpointText : "https://\(endpointText)"
            do {
                endpoint = try EC2Endpoint(parsing: withScheme)
            } catch {
                throw AWSCPIError(.cpiError, "aws.ec2_endpoint: \(error)")
            }
        } else {
            endpoint = nil
        }
        defaultKeyName = text("default_key_name")
        defaultSecurityGroups = aws["default_security_groups"]?.stringList ?? []
        let agent = properties["agent"]
        mbus = agent?["mbus"]?.stringValue
        ntp = agent?["ntp"]?.stringList ?? []
        blobstore = agent?["blobstore"]
    }

    /// Region, endpoint and access key id; never the secret, the token or the mbus password.
    public var description: String {
        "AWS CPI config: \(settings), default security groups \(defaultSecurityGroups)"
    }

    /// Same as `description`.
    public var debugDescription: String { description }

    /// Client settings for these keys, region and endpoint.
    public var settings: AWSSettings { AWSSettings(credentials: credentials, region: region, endpoint: endpoint) }
}
