import Foundation
import SkiffNet

/// The agent's mbus address, `https://USER:PASSWORD@HOST:PORT`, parsed into values.
///
/// The one parser of mbus URLs: agent settings, `cloud_provider.mbus` and the agent client all use it. The password
/// is kept but never printed: `description` masks it; only ``text`` (for the settings file) holds it.
public struct MbusURL: Hashable, Sendable, CustomStringConvertible, Codable {
    /// `https` (the only scheme the HTTPS mbus speaks).
    public let scheme: String
    /// The basic-auth user, if the URL has one.
    public let user: String?
    /// The basic-auth password, if the URL has one. Never log it.
    public let password: String?
    /// The IP address to listen on or connect to.
    public let host: IPAddress
    /// The TCP port.
    public let port: Int

    /// Creates an mbus URL from parts.
    public init(scheme: String = "https", user: String?, password: String?, host: IPAddress, port: Int) {
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
    }

    /// Parses `https://user:password@[2600::4]:6868` (userinfo percent-decoded, IPv6 in brackets, port required).
    public init(parsing text: String) throws(CloudError) {
        func bad(_ reason: String) -> CloudError {
            CloudError.cloud("invalid mbus URL '\(MbusURL.redacting(text))': \(reason)")
        }
        guard let schemeEnd = text.range(of: "://") else { throw bad("expected https://USER:PASSWORD@HOST:PORT") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" else { throw bad("the scheme must be https, not '\(scheme)'") }
        var rest = text[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                user = String(userinfo[..<colon]).removingPercentEncoding ?? String(userinfo[..<colon])
                let secret = userinfo[userinfo.index(after: colon)...]
                password = String(secret).removingPercentEncoding ?? String(secret)
            } else {
                user = String(userinfo).removingPercentEncoding ?? String(userinfo)
            }
        }
        let hostText: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("an IPv6 host needs a closing ']'") }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw bad("a port is required after the host") }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw bad("a port is required after the host") }
            hostText = rest[..<colon]
            if hostText.contains(":") { throw bad("an IPv6 host must be in brackets, like [::1]") }
            portText = rest[rest.index(after: colon)...]
        }
        let host: IPAddress
        do {
            host = try IPAddress(parsing: hostText)
        } catch {
            throw bad("the host must be an IP address: \(error)")
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw bad("port '\(portText)' is not a number from 1 to 65535")
        }
        self.init(scheme: scheme, user: user, password: password, host: host, port: port)
    }

    /// The URL with the password replaced by `REDACTED`, safe for logs and errors.
    public var description: String {
        "\(scheme)://\(userinfoText(masked: true))\(host.hostPort(port))"
    }

    /// The whole URL with its password, percent-encoded as needed: what settings files carry. A secret.
    public var text: String {
        "\(scheme)://\(userinfoText(masked: false))\(host.hostPort(port))"
    }

    /// Reads the URL from a JSON or YAML string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try MbusURL(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    /// Writes ``text``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    /// `https://[host]:port` without userinfo.
    public var baseURL: String { "\(scheme)://\(host.hostPort(port))" }

    /// Whether the URL carries a non-empty user and password (the agent refuses to listen without them).
    public var hasCredentials: Bool {
        !(user ?? "").isEmpty && !(password ?? "").isEmpty
    }

    /// The `Authorization` header value for basic auth, or nil when the URL has no user.
    public var basicAuthorization: String? {
        guard let user else { return nil }
        let token = Data("\(user):\(password ?? "")".utf8).base64EncodedString()
        return "Basic \(token)"
    }

    /// The same endpoint reached at another address (an agent listening on `[::]` is reached at a real address).
    public func with(host: IPAddress) -> MbusURL {
        MbusURL(scheme: scheme, user: user, password: password, host: host, port: port)
    }

    private func userinfoText(masked: Bool) -> String {
        guard let user else { return "" }
        let name = Self.encode(user)
        guard let password else { return "\(name)@" }
        return masked ? "\(name):REDACTED@" : "\(name):\(Self.encode(password))@"
    }

    /// Percent-encodes what may not stand in URL userinfo as is.
    private static func encode(_ part: String) -> String {
        let allowed = CharacterSet(
            charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=")
        return part.addingPercentEncoding(withAllowedCharacters: allowed) ?? part
    }

    /// Replaces anything between `://user:` and `@` in free text with `REDACTED`.
    public static func redacting(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > schemeEnd.upperBound
        else { return text }
        let userinfo = text[schemeEnd.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":REDACTED" + String(text[at...])
    }
}
