import SkiffNet

/// One entry of the `networks` argument of `create_vm` (and of the agent settings), keyed by network name.
///
/// Dual stack the BOSH way: the IPv4 and the IPv6 address of a VM are two manual entries, each with its own
/// `ip`, `netmask` and `gateway`.
public struct CPINetwork: Sendable, Hashable, Codable {
    /// `manual`, `dynamic` or `vip`.
    public var type: String?
    /// The static address (manual and vip networks).
    public var ip: IPAddress?
    /// The netmask, dotted quad for IPv4, eight hex groups (`ffff:ffff:ffff:ffff::`) for IPv6.
    public var netmask: IPAddress?
    /// The subnet's gateway.
    public var gateway: IPAddress?
    /// DNS servers.
    public var dns: [IPAddress]?
    /// What this network is the default for: `dns`, `gateway`.
    public var defaults: [String]?
    /// The subnet's (manual) or network's (dynamic, vip) cloud properties.
    public var cloudProperties: [String: JSONValue]
    /// The interface's MAC address, when the CPI knows it.
    public var mac: String?
    /// Members not modelled above, kept as sent.
    public var other: [String: JSONValue]

    /// Creates a network entry.
    public init(
        type: String? = "manual", ip: IPAddress? = nil, netmask: IPAddress? = nil, gateway: IPAddress? = nil,
        dns: [IPAddress]? = nil, defaults: [String]? = nil, cloudProperties: [String: JSONValue] = [:],
        mac: String? = nil, other: [String: JSONValue] = [:]
    ) {
        self.type = type
        self.ip = ip
        self.netmask = netmask
        self.gateway = gateway
        self.dns = dns
        self.defaults = defaults
        self.cloudProperties = cloudProperties
        self.mac = mac
        self.other = other
    }

    /// The subnet derived from `ip` and `netmask`, or nil when either is missing.
    public func subnet() throws(CloudError) -> IPPrefix? {
        guard let ip, let netmask else { return nil }
        do {
            switch (ip, netmask) {
            case (.v4(let address), .v4(let mask)): return .v4(try IPv4Network(address: address, netmask: mask))
            case (.v6(let address), .v6(let mask)):
                return .v6(try IPv6Network(address: IPv6Address(bits: address.bits), netmask: mask))
            default:
                throw CloudError.cloud("ip '\(ip)' and netmask '\(netmask)' are of different address families")
            }
        } catch let error as AddressError {
            throw CloudError.cloud("netmask '\(netmask)': \(error)")
        } catch {
            throw CloudError.cloud("\(error)")
        }
    }

    /// Reads one entry; `path` (e.g. `networks.default`) names it in errors.
    public init(json: JSONValue, path: String) throws(CloudError) {
        guard var members = json.objectValue else {
            throw CloudError.cloud("\(path) must be an object, not \(json.typeName)")
        }
        func take(_ key: String) -> JSONValue? {
            let value = members.removeValue(forKey: key)
            return value?.isNull == true ? nil : value
        }
        func string(_ key: String) throws(CloudError) -> String? {
            guard let value = take(key) else { return nil }
            guard let text = value.stringValue else {
                throw CloudError.cloud("\(path).\(key) must be a string, not \(value.typeName)")
            }
            return text
        }
        func address(_ key: String) throws(CloudError) -> IPAddress? {
            guard let text = try string(key) else { return nil }
            do {
                return try IPAddress(parsing: text)
            } catch {
                throw CloudError.cloud("\(path).\(key): \(error)")
            }
        }
        type = try string("type")
        ip = try address("ip")
        netmask = try address("netmask")
        gateway = try address("gateway")
        if let value = take("dns") {
            guard let list = value.arrayValue else {
                throw CloudError.cloud("\(path).dns must be an array, not \(value.typeName)")
            }
            var servers: [IPAddress] = []
            for (index, entry) in list.enumerated() {
                guard let text = entry.stringValue else {
                    throw CloudError.cloud("\(path).dns[\(index)] must be a string, not \(entry.typeName)")
                }
                do {
                    servers.append(try IPAddress(parsing: text))
                } catch {
                    throw CloudError.cloud("\(path).dns[\(index)]: \(error)")
                }
            }
            dns = servers
        } else {
            dns = nil
        }
        if let value = take("default") {
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw CloudError.cloud("\(path).default must be an array of strings, not \(value)")
            }
            defaults = list.compactMap(\.stringValue)
        } else {
            defaults = nil
        }
        if let value = take("cloud_properties") {
            guard let object = value.objectValue else {
                throw CloudError.cloud("\(path).cloud_properties must be an object, not \(value.typeName)")
            }
            cloudProperties = object
        } else {
            cloudProperties = [:]
        }
        mac = try string("mac")
        other = members
        if (ip == nil) != (netmask == nil), type == "manual" {
            throw CloudError.cloud("\(path) must have both 'ip' and 'netmask' or neither")
        }
        _ = try subnet()
    }

    /// The entry as JSON, addresses in canonical text.
    public var json: JSONValue {
        var members = other
        if let type { members["type"] = .string(type) }
        if let ip { members["ip"] = .string(ip.description) }
        if let netmask { members["netmask"] = .string(netmask.description) }
        if let gateway { members["gateway"] = .string(gateway.description) }
        if let dns { members["dns"] = .array(dns.map { .string($0.description) }) }
        if let defaults { members["default"] = .array(defaults.map(JSONValue.string)) }
        members["cloud_properties"] = .object(cloudProperties)
        if let mac { members["mac"] = .string(mac) }
        return .object(members)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(json: JSONValue(from: decoder), path: "network")
    }

    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }

    /// Reads the whole `networks` argument: an object keyed by network name.
    public static func networks(json: JSONValue, path: String = "networks") throws(CloudError) -> [String: CPINetwork] {
        guard let object = json.objectValue else {
            throw CloudError.cloud("\(path) must be an object keyed by network name, not \(json.typeName)")
        }
        var result: [String: CPINetwork] = [:]
        for (name, value) in object {
            result[name] = try CPINetwork(json: value, path: "\(path).\(name)")
        }
        return result
    }

    /// The `networks` object for a map of entries.
    public static func json(_ networks: [String: CPINetwork]) -> JSONValue {
        .object(networks.mapValues(\.json))
    }
}
