import Foundation
import SkiffNet

/// AWS access keys. Printing them shows only the access key id; the secret and token never appear.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The access key id (`AKIA…`, `ASIA…`): not secret, but shown only as part of the credential scope.
    public let accessKeyID: String
    /// The secret access key.
    public let secretAccessKey: String
    /// The session token for temporary credentials.
    public let sessionToken: String?
    /// Where the keys came from, e.g. `environment`, `profile prod in /root/.aws/credentials`.
    public let source: String
    /// When temporary credentials (an instance role's) stop working.
    public let expiration: Date?

    /// Creates credentials.
    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "explicit",
        expiration: Date? = nil
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
        self.expiration = expiration
    }

    /// `AWS credentials AKIA… from <source>` with the secret left out.
    public var description: String { "AWS credentials \(accessKeyID) from \(source)" }

    /// Same as `description`: the secret never appears in debug output.
    public var debugDescription: String { description }
}

/// A parsed INI file as the AWS CLI writes `~/.aws/credentials` and `~/.aws/config`.
public struct AWSINIFile: Sendable, Hashable {
    /// Section name to key/value pairs; an indented block under `key =` is stored as `key.sub`.
    public var sections: [String: [String: String]]

    /// Parses INI text: `[section]`, `key = value`, `#`/`;` comments, indented sub-keys.
    public init(text: String) {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var parentKey: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                parentKey = nil
                if let current, sections[current] == nil { sections[current] = [:] }
                continue
            }
            guard let section = current, let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") ?? value.range(of: " ;") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            let indented = line.first == " " || line.first == "\t"
            if indented, let parentKey {
                sections[section, default: [:]]["\(parentKey).\(key)"] = value
            } else {
                sections[section, default: [:]][key] = value
                parentKey = value.isEmpty ? key : nil
            }
        }
        self.sections = sections
    }

    /// The value of `key` in `section`, if present and not empty.
    public func value(_ key: String, in section: String) -> String? {
        guard let value = sections[section]?[key], !value.isEmpty else { return nil }
        return value
    }
}

/// Where EC2 is: scheme, host and port, with the host kept as an address value when it is one.
public struct EC2Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host: a DNS name or an address literal.
    public enum Host: Sendable, Hashable {
        case name(String)
        case address(IPAddress)
    }

    /// `http` or `https`.
    public let scheme: String
    /// The host.
    public let host: Host
    /// The port, when not the scheme's default.
    public let port: Int?
    /// The path requests are sent to, `/` unless the URL had one.
    public let path: String

    /// Creates an endpoint.
    public init(scheme: String, host: Host, port: Int?, path: String = "/") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `https://ec2.us-east-1.amazonaws.com`, `http://127.0.0.1:5000`, `http://[::1]:5000/`.
    public init(parsing text: String) throws(AWSConfigurationError) {
        func fail(_ reason: String) -> AWSConfigurationError {
            AWSConfigurationError("invalid EC2 endpoint URL '\(text)': \(reason)")
        }
        guard let schemeEnd = text.range(of: "://") else { throw fail("expected http:// or https://") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw fail("scheme must be http or https") }
        var rest = Substring(text[schemeEnd.upperBound...])
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        if rest.contains("@") { throw fail("user information is not allowed in the endpoint") }
        var hostText: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("missing ']' after the IPv6 address") }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after ']'") }
                portText = after.dropFirst()
            }
            guard let address = IPv6Address(hostText) else { throw fail("'\(hostText)' is not an IPv6 address") }
            self.host = .address(.v6(address))
        } else {
            if let colon = rest.lastIndex(of: ":") {
                hostText = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                hostText = rest
            }
            guard !hostText.isEmpty else { throw fail("no host") }
            if let address = IPv4Address(hostText) {
                self.host = .address(.v4(address))
            } else {
                self.host = .name(hostText.lowercased())
            }
        }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw fail("bad port '\(portText)'") }
            self.port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443) ? nil : port
        } else {
            self.port = nil
        }
        self.scheme = scheme
        self.path = path
    }

    /// The AWS endpoint of a region: `https://ec2.<region>.amazonaws.com/`, or `ec2.<region>.api.aws` dual-stack.
    public static func aws(region: String, dualStack: Bool = false) -> EC2Endpoint {
        EC2Endpoint(scheme: "https", host: .name("ec2.\(region).\(dualStack ? "api.aws" : "amazonaws.com")"), port: nil)
    }

    /// The host as it goes in a URL: IPv6 literals in brackets.
    public var hostText: String {
        switch host {
        case .name(let name): name
        case .address(let address): address.hostText
        }
    }

    /// The `Host` header value: the host plus a non-default port.
    public var hostHeader: String { port.map { "\(hostText):\($0)" } ?? hostText }

    /// The URL requests are sent to.
    public var url: String { "\(scheme)://\(hostHeader)\(path)" }

    /// The URL.
    public var description: String { url }
}

/// Where the keys for signing come from.
public enum AWSCredentialSource: Sendable, CustomStringConvertible {
    /// Fixed keys: the CPI config's, the environment's or a profile's.
    case keys(AWSCredentials)
    /// The instance role, read from the metadata service when the first call is made.
    case instanceRole(InstanceMetadataCredentials)

    /// The keys' description (never the secret), or the metadata service.
    public var description: String {
        switch self {
        case .keys(let credentials): credentials.description
        case .instanceRole(let provider): "AWS credentials of the \(provider)"
        }
    }
}

/// Everything needed to talk to EC2: keys, region and endpoint, resolved the way the AWS CLI resolves them.
public struct AWSSettings: Sendable, CustomStringConvertible {
    /// Where the keys come from.
    public var source: AWSCredentialSource
    /// The region, e.g. `us-east-1`; it is part of every signature.
    public var region: String
    /// Where requests go.
    public var endpoint: EC2Endpoint

    /// Creates settings from parts.
    public init(credentials: AWSCredentials, region: String, endpoint: EC2Endpoint? = nil) {
        self.init(source: .keys(credentials), region: region, endpoint: endpoint)
    }

    /// Creates settings from a credential source.
    public init(source: AWSCredentialSource, region: String, endpoint: EC2Endpoint? = nil) {
        self.source = source
        self.region = region
        self.endpoint = endpoint ?? .aws(region: region)
    }

    /// The fixed keys, or nil when they come from the instance role.
    public var credentials: AWSCredentials? {
        if case .keys(let credentials) = source { return credentials }
        return nil
    }

    /// The keys to sign the next request with (the instance role's are fetched and refreshed as needed).
    public func currentCredentials() async throws(AWSConfigurationError) -> AWSCredentials {
        switch source {
        case .keys(let credentials): credentials
        case .instanceRole(let provider): try await provider.current()
        }
    }

    /// `region us-east-1, endpoint …, AWS credentials AKIA… from …` (never the secret).
    public var description: String { "region \(region), endpoint \(endpoint), \(source)" }

    /// Resolves settings from the environment and the shared files, in the AWS CLI's order. `skiff aws` and the
    /// AWS CPI both resolve through here, so they always talk to the same endpoint with the same keys.
    ///
    /// - Credentials: `keys` when given (a CPI config with static keys); otherwise
    ///   `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (unless a profile was named explicitly),
    ///   then the profile (`profile` argument, `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, or `default`) in
    ///   `~/.aws/credentials` and then `~/.aws/config`, then the instance role from the metadata service (IMDSv2;
    ///   off with `AWS_EC2_METADATA_DISABLED=true`).
    /// - Region: the `region` argument, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`.
    /// - Endpoint: the `endpoint` argument, then `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, the profile's
    ///   `services` section `ec2.endpoint_url`, the profile's `ec2_endpoint` or `endpoint_url`; otherwise the
    ///   region's AWS endpoint, dual-stack (`ec2.<region>.api.aws`) when `dualStack` is true, or (when nil)
    ///   `AWS_USE_DUALSTACK_ENDPOINT` or the profile's `use_dualstack_endpoint` is `true`.
    public static func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        region regionOverride: String? = nil,
        profile profileOverride: String? = nil,
        endpoint endpointOverride: String? = nil,
        dualStack dualStackOverride: Bool? = nil,
        keys: AWSCredentials? = nil
    ) throws(AWSConfigurationError) -> AWSSettings {
        func env(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        let home = env("HOME") ?? NSHomeDirectory()
        let credentialsPath = env("AWS_SHARED_CREDENTIALS_FILE") ?? "\(home)/.aws/credentials"
        let configPath = env("AWS_CONFIG_FILE") ?? "\(home)/.aws/config"
        let credentialsFile = try readINI(credentialsPath)
        let configFile = try readINI(configPath)
        let profile = profileOverride ?? env("AWS_PROFILE") ?? env("AWS_DEFAULT_PROFILE") ?? "default"
        let configSection = profile == "default" ? "default" : "profile \(profile)"
        let profileNamed = profileOverride != nil || env("AWS_PROFILE") != nil || env("AWS_DEFAULT_PROFILE") != nil

        func profileValue(_ key: String) -> String? {
            configFile?.value(key, in: configSection)
        }

        // Credentials.
        var credentials = keys
        if credentials == nil, profileOverride == nil, let key = env("AWS_ACCESS_KEY_ID") {
            guard let secret = env("AWS_SECRET_ACCESS_KEY") else {
                throw AWSConfigurationError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            credentials = AWSCredentials(
                accessKeyID: key, secretAccessKey: secret,
                sessionToken: env("AWS_SESSION_TOKEN") ?? env("AWS_SECURITY_TOKEN"), source: "environment")
        }
        if credentials == nil {
            for (file, section, path) in [
                (credentialsFile, profile, credentialsPath), (configFile, configSection, configPath),
            ] {
                guard let file, let key = file.value("aws_access_key_id", in: section) else { continue }
                guard let secret = file.value("aws_secret_access_key", in: section) else {
                    throw AWSConfigurationError(
                        "profile '\(profile)' in \(path) has aws_access_key_id but no aws_secret_access_key")
                }
                credentials = AWSCredentials(
                    accessKeyID: key, secretAccessKey: secret,
                    sessionToken: file.value("aws_session_token", in: section),
                    source: "profile '\(profile)' in \(path)")
                break
            }
        }
        let source: AWSCredentialSource
        if let credentials {
            source = .keys(credentials)
        } else {
            let unsupported = [
                "role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file",
            ]
            .first { profileValue($0) != nil }
            if let unsupported {
                throw AWSConfigurationError(
                    "profile '\(profile)' in \(configPath) uses \(unsupported), which skiff does not support; "
                        + "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
            }
            if profileNamed && credentialsFile?.sections[profile] == nil && configFile?.sections[configSection] == nil {
                throw AWSConfigurationError("AWS profile '\(profile)' is not in \(credentialsPath) or \(configPath)")
            }
            let hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with keys in \(credentialsPath)"
            guard
                let provider = try InstanceMetadataCredentials.fromEnvironment(
                    env, profileValue: profileValue, fallbackHint: hint)
            else {
                throw AWSConfigurationError("no AWS credentials: \(hint) (AWS_EC2_METADATA_DISABLED is true)")
            }
            source = .instanceRole(provider)
        }

        // Region.
        guard let region = regionOverride ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileValue("region")
        else {
            throw AWSConfigurationError(
                "no AWS region: pass --region, or set AWS_REGION, AWS_DEFAULT_REGION or region in profile '\(profile)'")
        }
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw AWSConfigurationError("invalid AWS region '\(region)'")
        }

        // Endpoint.
        let ignoreConfigured = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() == "true"
        var endpointText = endpointOverride
        if endpointText == nil && !ignoreConfigured {
            endpointText = env("AWS_ENDPOINT_URL_EC2") ?? env("AWS_ENDPOINT_URL")
            if endpointText == nil, let services = profileValue("services") {
                endpointText = configFile?.value("ec2.endpoint_url", in: "services \(services)")
            }
            endpointText = endpointText ?? profileValue("ec2_endpoint") ?? profileValue("endpoint_url")
        }
        let dualStack =
            dualStackOverride
            ?? ((env("AWS_USE_DUALSTACK_ENDPOINT") ?? profileValue("use_dualstack_endpoint"))?.lowercased() == "true")
        let endpoint = try endpointText.map { text throws(AWSConfigurationError) in try EC2Endpoint(parsing: text) }
        return AWSSettings(
            source: source, region: region, endpoint: endpoint ?? .aws(region: region, dualStack: dualStack))
    }

    private static func readINI(_ path: String) throws(AWSConfigurationError) -> AWSINIFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AWSConfigurationError("cannot read \(path)")
        }
        return AWSINIFile(text: String(decoding: data, as: UTF8.self))
    }
}
