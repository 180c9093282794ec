extension IPv6Address {
    /// The address as a URL host or the host of `host:port`: in brackets, `[2600::4]`.
    public var hostText: String { "[\(self)]" }
}

extension IPv4Address {
    /// The address as a URL host: dotted decimal.
    public var hostText: String { description }
}

extension ZonedIPv6Address {
    /// The address as a URL host per RFC 6874: `[fe80::1%25eth0]`, the `%` of the zone escaped.
    public var hostText: String { zone.map { "[\(address)%25\($0)]" } ?? address.hostText }
}

extension IPAddress {
    /// The address as a URL host: IPv6 in brackets, IPv4 as is.
    public var hostText: String {
        switch self {
        case .v4(let address): address.hostText
        case .v6(let address): address.hostText
        }
    }

    /// `host:port`, with an IPv6 address in brackets: `[2600::4]:6868`.
    public func hostPort(_ port: Int) -> String { "\(hostText):\(port)" }

    /// A URL for this address: `http://[2600::4]/`, `https://10.0.0.7:6868/`; the port is left out when nil.
    public func url(scheme: String = "http", port: Int? = nil, path: String = "/") -> String {
        let portText = port.map { ":\($0)" } ?? ""
        let pathText = path.hasPrefix("/") ? path : "/" + path
        return "\(scheme)://\(hostText)\(portText)\(pathText)"
    }
}
