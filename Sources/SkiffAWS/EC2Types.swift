import SkiffNet

/// A VPC with its IPv4 block and Amazon-provided IPv6 block.
public struct EC2Vpc: Sendable, Hashable {
    /// An IPv6 block association of a VPC or subnet.
    public struct IPv6Association: Sendable, Hashable {
        /// `vpc-cidr-assoc-…` / `subnet-cidr-assoc-…`.
        public let associationID: String
        /// The block; nil while AWS is still `associating` it.
        public let cidr: IPNetwork<IPv6Address>?
        /// `associating`, `associated`, `disassociating`, `disassociated`, `failing`, `failed`.
        public let state: String
    }

    /// `vpc-…`.
    public let id: String
    /// `pending` or `available`.
    public let state: String
    /// The primary IPv4 block.
    public let cidr: IPNetwork<IPv4Address>?
    /// IPv6 block associations.
    public let ipv6: [IPv6Association]
    /// Tags.
    public let tags: [String: String]

    /// The associated IPv6 block, if one is ready.
    public var ipv6Block: IPNetwork<IPv6Address>? {
        ipv6.first { $0.state == "associated" && $0.cidr != nil }?.cidr
    }

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("vpcId") ?? ""
        state = node.string("state") ?? ""
        cidr = node.string("cidrBlock").flatMap { try? IPNetwork<IPv4Address>(parsing: $0) }
        ipv6 = node.items("ipv6CidrBlockAssociationSet").map(IPv6Association.init(decoding:))
        tags = node.tags
    }
}

extension EC2Vpc.IPv6Association {
    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        associationID = node.string("associationId") ?? ""
        cidr = node.string("ipv6CidrBlock").flatMap { try? IPNetwork<IPv6Address>(parsing: $0) }
        state = Self.state(node.at("ipv6CidrBlockState/state")?.text ?? "")
    }

    /// The state text; tolerates moto's `{'State': 'associated'}` rendering.
    static func state(_ raw: String) -> String {
        guard raw.hasPrefix("{") else { return raw }
        let quoted = raw.split(separator: "'").map(String.init)
        return quoted.count >= 4 ? quoted[3] : raw
    }
}

/// A subnet with its IPv4 /24 and IPv6 /64.
public struct EC2Subnet: Sendable, Hashable {
    /// `subnet-…`.
    public let id: String
    /// The VPC it is in.
    public let vpcID: String
    /// The availability zone.
    public let availabilityZone: String
    /// The IPv4 block.
    public let cidr: IPNetwork<IPv4Address>?
    /// IPv6 block associations.
    public let ipv6: [EC2Vpc.IPv6Association]
    /// Whether instances get an IPv6 address at launch.
    public let assignIPv6OnCreation: Bool
    /// Tags.
    public let tags: [String: String]

    /// The subnet's IPv6 /64, if associated.
    public var ipv6Block: IPNetwork<IPv6Address>? {
        ipv6.first { ($0.state == "associated" || $0.state.isEmpty) && $0.cidr != nil }?.cidr
    }

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("subnetId") ?? ""
        vpcID = node.string("vpcId") ?? ""
        availabilityZone = node.string("availabilityZone") ?? ""
        cidr = node.string("cidrBlock").flatMap { try? IPNetwork<IPv4Address>(parsing: $0) }
        ipv6 = node.items("ipv6CidrBlockAssociationSet").map(EC2Vpc.IPv6Association.init(decoding:))
        assignIPv6OnCreation = node.bool("assignIpv6AddressOnCreation") ?? false
        tags = node.tags
    }
}

/// An internet gateway and the VPCs it is attached to.
public struct EC2InternetGateway: Sendable, Hashable {
    /// `igw-…`.
    public let id: String
    /// VPC ids it is attached to.
    public let attachedVPCs: [String]
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("internetGatewayId") ?? ""
        attachedVPCs = node.items("attachmentSet").compactMap { $0.string("vpcId") }
        tags = node.tags
    }
}

/// A route table, its routes and subnet associations.
public struct EC2RouteTable: Sendable, Hashable {
    /// A route.
    public struct Route: Sendable, Hashable {
        /// `0.0.0.0/0`, `::/0` or another destination, as text.
        public let destination: String
        /// The target gateway id, if any.
        public let gatewayID: String?
    }

    /// An association with a subnet (or the main marker).
    public struct Association: Sendable, Hashable {
        /// `rtbassoc-…`.
        public let id: String
        /// The subnet, if not the main association.
        public let subnetID: String?
        /// True for the VPC's main association.
        public let main: Bool
    }

    /// `rtb-…`.
    public let id: String
    /// The VPC.
    public let vpcID: String
    /// Routes.
    public let routes: [Route]
    /// Associations.
    public let associations: [Association]
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("routeTableId") ?? ""
        vpcID = node.string("vpcId") ?? ""
        routes = node.items("routeSet").map {
            Route(
                destination: $0.string("destinationCidrBlock") ?? $0.string("destinationIpv6CidrBlock") ?? "",
                gatewayID: $0.string("gatewayId") ?? $0.string("egressOnlyInternetGatewayId"))
        }
        associations = node.items("associationSet").map {
            Association(
                id: $0.string("routeTableAssociationId") ?? "", subnetID: $0.string("subnetId"),
                main: $0.bool("main") ?? false)
        }
        tags = node.tags
    }
}

/// One ingress or egress rule set of a security group.
public struct EC2Permission: Sendable, Hashable {
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `-1` (all).
    public let ipProtocol: String
    /// The first port (or ICMP type), nil for all.
    public let fromPort: Int?
    /// The last port (or ICMP code), nil for all.
    public let toPort: Int?
    /// IPv4 sources.
    public let ipv4Ranges: [String]
    /// IPv6 sources.
    public let ipv6Ranges: [String]

    /// Creates a permission.
    public init(ipProtocol: String, fromPort: Int?, toPort: Int?, ipv4Ranges: [String], ipv6Ranges: [String]) {
        self.ipProtocol = ipProtocol
        self.fromPort = fromPort
        self.toPort = toPort
        self.ipv4Ranges = ipv4Ranges
        self.ipv6Ranges = ipv6Ranges
    }

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        ipProtocol = node.string("ipProtocol") ?? "-1"
        fromPort = node.int("fromPort")
        toPort = node.int("toPort")
        ipv4Ranges = node.items("ipRanges").compactMap { $0.string("cidrIp") }
        ipv6Ranges = node.items("ipv6Ranges").compactMap { $0.string("cidrIpv6") }
    }
}

/// A security group.
public struct EC2SecurityGroup: Sendable, Hashable {
    /// `sg-…`.
    public let id: String
    /// The group name.
    public let name: String
    /// The VPC.
    public let vpcID: String
    /// Ingress rules.
    public let ingress: [EC2Permission]
    /// Egress rules.
    public let egress: [EC2Permission]
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("groupId") ?? ""
        name = node.string("groupName") ?? ""
        vpcID = node.string("vpcId") ?? ""
        ingress = node.items("ipPermissions").map(EC2Permission.init(decoding:))
        egress = node.items("ipPermissionsEgress").map(EC2Permission.init(decoding:))
        tags = node.tags
    }
}

/// An instance, with the addresses of its primary network interface.
public struct EC2Instance: Sendable, Hashable {
    /// `i-…`.
    public let id: String
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
    public let state: String
    /// e.g. `t3.micro`.
    public let instanceType: String
    /// The AMI.
    public let imageID: String
    /// The subnet.
    public let subnetID: String?
    /// The VPC.
    public let vpcID: String?
    /// The availability zone.
    public let availabilityZone: String?
    /// The primary private IPv4 address.
    public let privateIPv4: IPv4Address?
    /// The public IPv4 address, if any.
    public let publicIPv4: IPv4Address?
    /// The device-index-0 network interface.
    public let primaryInterfaceID: String?
    /// Every attached network interface.
    public let interfaceIDs: [String]
    /// IPv6 addresses of the primary interface.
    public let ipv6Addresses: [IPv6Address]
    /// Device names of attached block devices (`/dev/xvda`, `/dev/sdf`).
    public let blockDevices: [String]
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("instanceId") ?? ""
        state = node.string("instanceState/name") ?? ""
        instanceType = node.string("instanceType") ?? ""
        imageID = node.string("imageId") ?? ""
        subnetID = node.string("subnetId")
        vpcID = node.string("vpcId")
        availabilityZone = node.string("placement/availabilityZone")
        privateIPv4 = node.string("privateIpAddress").flatMap { IPv4Address($0) }
        publicIPv4 = node.string("ipAddress").flatMap { IPv4Address($0) }
        let interfaces = node.items("networkInterfaceSet")
        let primary = interfaces.first { $0.string("attachment/deviceIndex") == "0" } ?? interfaces.first
        primaryInterfaceID = primary?.string("networkInterfaceId")
        interfaceIDs = interfaces.compactMap { $0.string("networkInterfaceId") }
        var addresses = primary?.items("ipv6AddressesSet").compactMap { $0.string("ipv6Address") } ?? []
        if let top = node.string("ipv6Address"), !addresses.contains(top) { addresses.append(top) }
        ipv6Addresses = addresses.compactMap { IPv6Address($0) }
        blockDevices = node.items("blockDeviceMapping").compactMap { $0.string("deviceName") }
        tags = node.tags
    }
}

/// An Elastic IP.
public struct EC2Address: Sendable, Hashable {
    /// `eipalloc-…`.
    public let allocationID: String
    /// `eipassoc-…` when associated.
    public let associationID: String?
    /// The address.
    public let publicIP: IPv4Address?
    /// The instance it is associated with.
    public let instanceID: String?
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        allocationID = node.string("allocationId") ?? ""
        associationID = node.string("associationId")
        publicIP = node.string("publicIp").flatMap { IPv4Address($0) }
        instanceID = node.string("instanceId")
        tags = node.tags
    }
}

/// An EBS volume.
public struct EC2Volume: Sendable, Hashable {
    /// `vol-…`.
    public let id: String
    /// `creating`, `available`, `in-use`, `deleting`, …
    public let state: String
    /// Size in GiB.
    public let sizeGiB: Int
    /// The availability zone.
    public let availabilityZone: String
    /// Attachments: instance and device.
    public let attachments: [(instanceID: String, device: String, state: String)]
    /// Tags.
    public let tags: [String: String]

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("volumeId") ?? ""
        state = node.string("status") ?? node.string("state") ?? ""
        sizeGiB = node.int("size") ?? 0
        availabilityZone = node.string("availabilityZone") ?? ""
        attachments = node.items("attachmentSet").map {
            (
                instanceID: $0.string("instanceId") ?? "", device: $0.string("device") ?? "",
                state: $0.string("status") ?? ""
            )
        }
        tags = node.tags
    }

    public static func == (lhs: EC2Volume, rhs: EC2Volume) -> Bool { lhs.id == rhs.id && lhs.state == rhs.state }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// An AMI.
public struct EC2Image: Sendable, Hashable {
    /// `ami-…`.
    public let id: String
    /// The image name.
    public let name: String
    /// `available`, `pending`, …
    public let state: String
    /// ISO 8601 creation time.
    public let creationDate: String
    /// The root volume's device name, e.g. `/dev/xvda` (where `root_disk` goes).
    public let rootDeviceName: String?

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        id = node.string("imageId") ?? ""
        name = node.string("name") ?? ""
        state = node.string("imageState") ?? ""
        creationDate = node.string("creationDate") ?? ""
        rootDeviceName = node.string("rootDeviceName")
    }
}

/// A network interface (ENI), as `CreateNetworkInterface` and `DescribeNetworkInterfaces` answer.
public struct EC2NetworkInterface: Sendable, Hashable {
    /// `eni-…`.
    public let id: String
    /// The MAC address the VM sees, e.g. `0e:12:34:56:78:9a`.
    public let macAddress: String
    /// The primary private IPv4 address.
    public let privateIPv4: String?
    /// IPv6 addresses, canonical text.
    public let ipv6Addresses: [String]
    /// `available`, `in-use`, …
    public let status: String

    /// Decodes the element EC2 answers with.
    public init(decoding node: XMLTree) {
        id = node.string("networkInterfaceId") ?? ""
        macAddress = node.string("macAddress") ?? ""
        privateIPv4 = node.string("privateIpAddress")
        ipv6Addresses = node.items("ipv6AddressesSet").compactMap { $0.string("ipv6Address") }
            .map { IPv6Address($0)?.description ?? $0 }
        status = node.string("status") ?? ""
    }
}

/// What `DescribeInstanceTypes` says about a type's networking.
public struct EC2InstanceTypeInfo: Sendable, Hashable {
    /// e.g. `m5.large`.
    public let instanceType: String
    /// Whether the type takes IPv6 addresses.
    public let ipv6Supported: Bool
    /// `nitro` or `xen`.
    public let hypervisor: String?

    /// Decodes the element EC2 answers with (an `item` of a set, or the created resource).
    public init(decoding node: XMLTree) {
        instanceType = node.string("instanceType") ?? ""
        ipv6Supported = node.bool("networkInfo/ipv6Supported") ?? false
        hypervisor = node.string("hypervisor")
    }
}
