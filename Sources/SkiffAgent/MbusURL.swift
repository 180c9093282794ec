import Foundation
import SkiffNet

/// The agent's mbus address, `https://USER:PASSWORD@HOST:PORT`, parsed into values.
///
/// The password is kept but never printed: `description` masks it.
public struct MbusURL: Hashable, Sendable, CustomStringConvertible {
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
    public init(parsing text: String) throws(AgentError) {
        func bad(_ reason: String) -> AgentError {
            AgentError(.invalidMbusURL, "invalid mbus URL '\(MbusURL.redacting(text))': \(reason)")
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

    /// `https://[host]:port` without userinfo.
    public var baseURL: String { "\(scheme)://\(host.hostPort(port))" }

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
        if password == nil { return "\(user)@" }
        return masked ? "\(user):REDACTED@" : "\(user):\(password ?? "")@"
    }

    /// Replaces anything between `://user:` and `@` in free text with `REDACTED`.
    static func redacting(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > schemeEnd.upperBound
        else { return text }
        let userinfo = text[schemeEnd.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":REDACTED" + String(text[at...])
    }
}
