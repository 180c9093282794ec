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
///
/// Endpoint, region, keys and dual-stack are resolved by
/// ``AWSSettings/resolve(environment:region:profile:endpoint:dualStack:keys:)``, the same code `skiff aws up`
/// uses: `aws.ec2_endpoint` when set, else `AWS_ENDPOINT_URL_EC2` and the rest of the AWS CLI's chain; with
/// `credentials_source: env_or_profile`, the environment's keys, the profile's, or the instance role (IMDSv2).
public struct AWSCPIConfig: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Keys, region and endpoint, resolved once.
    public var settings: AWSSettings
    /// `aws.default_key_name`.
    public var defaultKeyName: String?
    /// `aws.default_security_groups`: ids or names.
    public var defaultSecurityGroups: [String]
    /// `aws.default_iam_instance_profile`: the instance profile of VMs whose cloud properties name none.
    public var defaultIAMInstanceProfile: String?
    /// `aws.encrypted`: encrypt EBS disks unless their cloud properties say otherwise.
    public var encrypted: Bool
    /// `aws.kms_key_arn`: the KMS key of encrypted disks unless their cloud properties name one.
    public var kmsKeyARN: String?
    /// `aws.metadata_options`: defaults for every VM's `metadata_options`.
    public var metadataOptions: JSONValue?
    /// `agent.mbus`: the agent's HTTPS endpoint with its password (a secret).
    public var mbus: String?
    /// `agent.ntp`.
    public var ntp: [String]
    /// `agent.blobstore`, passed to the agent as is.
    public var blobstore: JSONValue?

    /// The keys of the `aws:` block this CPI reads.
    public static let awsKeys: Set<String> = [
        "access_key_id", "secret_access_key", "session_token", "credentials_source", "region", "ec2_endpoint",
        "dualstack", "default_key_name", "default_security_groups", "default_iam_instance_profile", "encrypted",
        "kms_key_arn", "metadata_options", "max_retries",
    ]

    /// Keys bosh-aws-cpi reads in the `aws:` block that skiff refuses, with the reason.
    public static let refusedAWSKeys: [String: String] = [
        "role_arn":
            "assuming a role is not supported; export the role's keys or use credentials_source: env_or_profile",
        "elb_endpoint": "skiff manages no load balancers",
        "stemcell": "only light stemcells are supported, so stemcell import settings do not apply",
        "sts_endpoint": "assuming a role is not supported",
        "s3_endpoint": "skiff uploads no stemcells to S3",
    ]

    /// The region.
    public var region: String { settings.region }
    /// The endpoint requests go to.
    public var endpoint: EC2Endpoint { settings.endpoint }
    /// The fixed keys, or nil for an instance role.
    public var credentials: AWSCredentials? { settings.credentials }

    /// Creates a config from resolved settings.
    public init(
        settings: AWSSettings, defaultKeyName: String? = nil, defaultSecurityGroups: [String] = [],
        mbus: String? = nil, ntp: [String] = [], blobstore: JSONValue? = nil
    ) {
        self.settings = settings
        self.defaultKeyName = defaultKeyName
        self.defaultSecurityGroups = defaultSecurityGroups
        self.defaultIAMInstanceProfile = nil
        self.encrypted = false
        self.kmsKeyARN = nil
        self.metadataOptions = nil
        self.mbus = mbus
        self.ntp = ntp
        self.blobstore = blobstore
    }

    /// Creates a config from keys, region and an optional endpoint (the region's AWS endpoint otherwise).
    public init(
        credentials: AWSCredentials, region: String, endpoint: EC2Endpoint? = nil, defaultKeyName: String? = nil,
        defaultSecurityGroups: [String] = [], mbus: String? = nil, ntp: [String] = [], blobstore: JSONValue? = nil
    ) {
        self.init(
            settings: AWSSettings(credentials: credentials, region: region, endpoint: endpoint),
            defaultKeyName: defaultKeyName, defaultSecurityGroups: defaultSecurityGroups, mbus: mbus, ntp: ntp,
            blobstore: blobstore)
    }

    /// Reads the properties object (`{"aws": {...}, "agent": {...}}`), or a config with a top-level
    /// `cloud_provider.properties` or `properties` wrapper. Every key of the `aws:` block is either read or
    /// refused with one line naming it.
    public init(properties raw: JSONValue, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(AWSCPIError)
    {
        var properties = raw
        if let inner = raw["cloud_provider"]?["properties"] { properties = inner }
        if let inner = raw["properties"], inner["aws"] != nil { properties = inner }
        guard let aws = properties["aws"]?.objectValue else {
            throw AWSCPIError(.cpiError, "the CPI config has no 'aws' block (cloud_provider.properties.aws)")
        }
        for key in aws.keys.sorted() {
            if let reason = Self.refusedAWSKeys[key] {
                throw AWSCPIError(.cpiError, "cloud_provider.properties.aws.\(key) is not supported: \(reason)")
            }
            guard Self.awsKeys.contains(key) else {
                throw AWSCPIError(
                    .cpiError,
                    "cloud_provider.properties.aws.\(key) is not a key the AWS CPI knows; remove it (known: "
                        + Self.awsKeys.sorted().joined(separator: ", ") + ")")
            }
        }
        func text(_ key: String) -> String? {
            guard let value = aws[key]?.stringValue, !value.isEmpty else { return nil }
            return value
        }
        func flag(_ key: String) throws(AWSCPIError) -> Bool? {
            guard let value = aws[key], !value.isNull else { return nil }
            guard let bool = value.boolValue else {
                throw AWSCPIError(.cpiError, "cloud_provider.properties.aws.\(key) must be true or false, not \(value)")
            }
            return bool
        }
        guard let region = text("region") else { throw AWSCPIError(.cpiError, "the CPI config lacks aws.region") }
        let source = text("credentials_source") ?? "static"
        var keys: AWSCredentials?
        switch source {
        case "env_or_profile":
            for key in ["access_key_id", "secret_access_key", "session_token"] where text(key) != nil {
                throw AWSCPIError(
                    .cpiError, "aws.\(key) is set but aws.credentials_source is env_or_profile; remove one of them")
            }
        case "static":
            guard let key = text("access_key_id") else {
                throw AWSCPIError(.cpiError, "the CPI config lacks aws.access_key_id")
            }
            guard let secret = text("secret_access_key") else {
                throw AWSCPIError(.cpiError, "the CPI config lacks aws.secret_access_key")
            }
            keys = AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: text("session_token"), source: "CPI config")
        default:
            throw AWSCPIError(
                .cpiError, "aws.credentials_source is '\(source)'; it must be static or env_or_profile")
        }
        let endpointText = text("ec2_endpoint").map { $0.contains("://") ? $0 : "https://\($0)" }
        let dualStack = try flag("dualstack")
        do {
            settings = try AWSSettings.resolve(
                environment: environment, region: region, endpoint: endpointText, dualStack: dualStack, keys: keys)
        } catch {
            let prefix = source == "env_or_profile" ? "aws.credentials_source is env_or_profile, but " : ""
            throw AWSCPIError(.cpiError, prefix + error.message)
        }
        defaultKeyName = text("default_key_name")
        defaultSecurityGroups = aws["default_security_groups"]?.stringList ?? []
        defaultIAMInstanceProfile = text("default_iam_instance_profile")
        encrypted = try flag("encrypted") ?? false
        kmsKeyARN = text("kms_key_arn")
        metadataOptions = aws["metadata_options"]
        if let options = metadataOptions {
            _ = try MetadataOptions(options, path: "cloud_provider.properties.aws.metadata_options", defaults: nil)
        }
        if let retries = aws["max_retries"], !retries.isNull, retries.intValue == nil {
            throw AWSCPIError(.cpiError, "cloud_provider.properties.aws.max_retries must be a number, not \(retries)")
        }
        maxRetries = aws["max_retries"]?.intValue
        let agent = properties["agent"]
        mbus = agent?["mbus"]?.stringValue
        ntp = agent?["ntp"]?.stringList ?? []
        blobstore = agent?["blobstore"]
    }

    /// `aws.max_retries`: attempts after the first for throttled or failed calls.
    public var maxRetries: Int? = nil

    /// Region, endpoint and access key id; never the secret, the token or the mbus password.
    public var description: String {
        "AWS CPI config: \(settings), default security groups \(defaultSecurityGroups)"
    }

    /// Same as `description`.
    public var debugDescription: String { description }

    /// The retry policy for EC2 calls: the standard one, with `aws.max_retries` retries when set.
    public var retryPolicy: RetryPolicy {
        guard let maxRetries else { return .standard }
        return RetryPolicy(maxAttempts: maxRetries + 1)
    }
}
