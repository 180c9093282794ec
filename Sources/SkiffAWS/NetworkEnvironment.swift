import SkiffNet

/// Which inbound traffic the environment's security group lets in.
public enum IngressRules: Sendable, Hashable, CustomStringConvertible {
    /// TCP ports and port ranges, from anywhere over IPv4 and IPv6 (ICMPv6 is always allowed, for path MTU
    /// discovery and neighbour reachability).
    case tcp([ClosedRange<Int>])
    /// Everything, both families.
    case all

    /// tcp 22, 80, 443 and 6868 (the BOSH agent).
    public static let `default` = IngressRules.tcp([22...22, 80...80, 443...443, 6868...6868])

    /// Parses `all` or a comma-separated list of ports and ranges: `22,80,443,8000-8080`.
    public init(parsing text: String) throws(AWSConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "all" {
            self = .all
            return
        }
        var ranges: [ClosedRange<Int>] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = part.trimmingCharacters(in: .whitespaces)
            let ends = piece.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), let low = Int(ends[0]), let high = Int(ends.last ?? ""),
                (1...65535).contains(low), (low...65535).contains(high)
            else {
                throw AWSConfigurationError(
                    "invalid --ingress '\(text)': '\(piece)' is not a port (1-65535) or range (LOW-HIGH); "
                        + "use a list like 22,80,443 or 'all'")
            }
            if !ranges.contains(low...high) { ranges.append(low...high) }
        }
        self = .tcp(ranges)
    }

    /// `22,80,443,6868` or `all`.
    public var description: String {
        switch self {
        case .all: "all"
        case .tcp(let ranges):
            ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ",")
        }
    }

    /// The security group rules these stand for.
    public var permissions: [EC2Permission] {
        switch self {
        case .all:
            return [
                EC2Permission(
                    ipProtocol: "-1", fromPort: nil, toPort: nil, ipv4Ranges: ["0.0.0.0/0"], ipv6Ranges: ["::/0"])
            ]
        case .tcp(let ranges):
            return ranges.map {
                EC2Permission(
                    ipProtocol: "tcp", fromPort: $0.lowerBound, toPort: $0.upperBound, ipv4Ranges: ["0.0.0.0/0"],
                    ipv6Ranges: ["::/0"])
            } + [EC2Permission(ipProtocol: "icmpv6", fromPort: -1, toPort: -1, ipv4Ranges: [], ipv6Ranges: ["::/0"])]
        }
    }

    /// The rules of `wanted` not yet covered by `existing`, with only the missing source ranges.
    public static func missing(_ wanted: [EC2Permission], existing: [EC2Permission]) -> [EC2Permission] {
        wanted.compactMap { rule in
            let same = existing.filter {
                $0.ipProtocol == rule.ipProtocol && ($0.fromPort ?? -1) == (rule.fromPort ?? -1)
                    && ($0.toPort ?? -1) == (rule.toPort ?? -1)
            }
            let v4 = rule.ipv4Ranges.filter { range in !same.contains { $0.ipv4Ranges.contains(range) } }
            let v6 = rule.ipv6Ranges.filter { range in !same.contains { $0.ipv6Ranges.contains(range) } }
            guard !v4.isEmpty || !v6.isEmpty else { return nil }
            return EC2Permission(
                ipProtocol: rule.ipProtocol, fromPort: rule.fromPort, toPort: rule.toPort, ipv4Ranges: v4,
                ipv6Ranges: v6)
        }
    }
}

/// What `skiff aws up` builds: its name, zone, ingress and address plan.
public struct NetworkEnvironmentSpec: Sendable, Hashable {
    /// The environment name; every resource is tagged `skiff:env=<name>`.
    public var name: String
    /// The availability zone; nil picks the region's first available zone.
    public var zone: String?
    /// The security group's ingress.
    public var ingress: IngressRules
    /// The VPC's IPv4 block.
    public var vpcCIDR: IPNetwork<IPv4Address>
    /// The subnet's IPv4 block, inside `vpcCIDR`.
    public var subnetCIDR: IPNetwork<IPv4Address>
    /// Which /64 of the VPC's /56 the subnet gets.
    public var ipv6SubnetIndex: UInt128

    /// Creates a spec, refusing names AWS tags and group names cannot carry.
    public init(
        name: String, zone: String? = nil, ingress: IngressRules = .default,
        vpcCIDR: IPNetwork<IPv4Address>? = nil, subnetCIDR: IPNetwork<IPv4Address>? = nil, ipv6SubnetIndex: UInt128 = 0
    ) throws(AWSConfigurationError) {
        guard !name.isEmpty, name.count <= 64,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
        else {
            throw AWSConfigurationError(
                "invalid --name '\(name)': use 1 to 64 letters, digits, '-', '_' or '.'")
        }
        self.name = name
        self.zone = zone
        self.ingress = ingress
        let vpc: IPNetwork<IPv4Address>
        let subnet: IPNetwork<IPv4Address>
        do {
            vpc = try vpcCIDR ?? IPNetwork(parsing: "10.0.0.0/16")
            subnet = try subnetCIDR ?? IPNetwork(parsing: "10.0.0.0/24")
        } catch {
            throw AWSConfigurationError("\(error)")
        }
        guard vpc.contains(subnet) else {
            throw AWSConfigurationError("subnet \(subnet) is not inside the VPC block \(vpc)")
        }
        self.vpcCIDR = vpc
        self.subnetCIDR = subnet
        self.ipv6SubnetIndex = ipv6SubnetIndex
    }

    /// The tag key marking ownership.
    public static let envTag = "skiff:env"
    /// The tag key naming a resource's role.
    public static let roleTag = "skiff:role"

    /// Tags for a resource of `role`: `Name`, `skiff:env`, `skiff:role`.
    public func tags(_ role: String) -> [EC2Tag] {
        [EC2Tag("Name", "\(name)-\(role)"), EC2Tag(Self.envTag, name), EC2Tag(Self.roleTag, role)]
    }

    /// The filter that finds this environment's resources.
    public var ownerFilter: EC2Filter { .tag(Self.envTag, name) }

    /// The security group's name.
    public var securityGroupName: String { "skiff-\(name)" }
}

/// The values a BOSH manifest needs from the environment, written as a vars file (`-l`).
public struct NetworkEnvironmentVars: Sendable, Hashable {
    /// The region.
    public var region: String
    /// The availability zone.
    public var zone: String
    /// `subnet-…`.
    public var subnetID: String
    /// `sg-…`.
    public var securityGroupID: String
    /// The subnet's IPv4 block.
    public var internalCIDR: IPNetwork<IPv4Address>
    /// The IPv4 gateway: the VPC router, the subnet's first host.
    public var internalGateway: IPv4Address
    /// The first assignable IPv4 address.
    public var internalIP: IPv4Address
    /// The subnet's IPv6 /64.
    public var ipv6CIDR: IPNetwork<IPv6Address>
    /// The first assignable IPv6 address (`::4`).
    public var ipv6Address: IPv6Address
    /// The IPv6 gateway: the VPC router, `::1` of the /64.
    public var ipv6Gateway: IPv6Address

    /// Derives the addresses from the subnet's blocks, using AWS's reservation rules.
    public init(
        region: String, zone: String, subnetID: String, securityGroupID: String, internalCIDR: IPNetwork<IPv4Address>,
        ipv6CIDR: IPNetwork<IPv6Address>
    ) throws(AddressError) {
        try ReservationPolicy.aws.validate(subnet: ipv6CIDR)
        guard let gateway = internalCIDR.address(at: 1),
            let ip = ReservationPolicy.aws.firstAssignable(in: internalCIDR),
            let ip6 = ReservationPolicy.aws.firstAssignable(in: ipv6CIDR), let gateway6 = ipv6CIDR.address(at: 1)
        else {
            throw AddressError(.outOfRange, input: "\(internalCIDR)", reason: "has no assignable address")
        }
        self.region = region
        self.zone = zone
        self.subnetID = subnetID
        self.securityGroupID = securityGroupID
        self.internalCIDR = internalCIDR
        self.internalGateway = gateway
        self.internalIP = ip
        self.ipv6CIDR = ipv6CIDR
        self.ipv6Address = ip6
        self.ipv6Gateway = gateway6
    }

    /// The vars as ordered key/value pairs.
    public var pairs: [(String, String)] {
        [
            ("region", region), ("az", zone), ("subnet_id", subnetID), ("security_group", securityGroupID),
            ("internal_cidr", internalCIDR.description), ("internal_gw", internalGateway.description),
            ("internal_ip", internalIP.description), ("ipv6_cidr", ipv6CIDR.description),
            ("ipv6_address", ipv6Address.description), ("ipv6_gw", ipv6Gateway.description),
        ]
    }

    /// A YAML vars file, every value double-quoted (an IPv6 address is never mistaken for a number).
    public var yaml: String {
        pairs.map { "\($0.0): \"\($0.1)\"\n" }.joined()
    }
}
