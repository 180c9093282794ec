import Foundation
import SkiffCloud
import SkiffNet

/// The networks of a `create_vm` call, sorted into what EC2 needs: the manual IPv4 and IPv6 addresses (both on the
/// same subnet, as BOSH expresses dual stack), a dynamic network, and the `vip` network's Elastic IP.
public struct VMNetworks: Sendable, Hashable {
    /// A manual network entry.
    public struct Manual: Sendable, Hashable {
        /// The network's name in the manifest.
        public let name: String
        /// The static address, canonical text.
        public let ip: String
        /// The prefix the address is on, from its netmask, canonical text.
        public let prefix: String
        /// `cloud_properties.subnet`.
        public let subnetID: String

        /// Creates an entry from canonical texts.
        public init(name: String, ip: String, prefix: String, subnetID: String) {
            self.name = name
            self.ip = ip
            self.prefix = prefix
            self.subnetID = subnetID
        }
    }

    /// The manual IPv4 network.
    public var ipv4: Manual?
    /// The manual IPv6 network.
    public var ipv6: Manual?
    /// The subnet of a dynamic network.
    public var dynamicSubnetID: String?
    /// The `vip` network's public IPv4 address.
    public var vip: String?
    /// Security groups named in networks' cloud properties.
    public var securityGroups: [String]

    /// The one subnet every network uses.
    public var subnetID: String? { ipv4?.subnetID ?? ipv6?.subnetID ?? dynamicSubnetID }

    /// Sorts and checks the networks argument of `create_vm`; refuses what EC2 cannot do, naming the network.
    public init(_ networks: JSONValue) throws(AWSCPIError) {
        guard let entries = networks.objectValue, !entries.isEmpty else {
            throw AWSCPIError(.cloudError, "create_vm got no networks")
        }
        securityGroups = []
        for name in entries.keys.sorted() {
            guard let spec = entries[name] else { continue }
            let type = spec["type"]?.stringValue ?? "manual"
            let subnet = spec["cloud_properties"]?["subnet"]?.stringValue
            securityGroups += spec["cloud_properties"]?["security_groups"]?.stringList ?? []
            switch type {
            case "vip":
                guard let ip = spec["ip"]?.stringValue, let address = IPv4Address(ip) else {
                    throw AWSCPIError(
                        .cloudError, "network '\(name)': a vip network needs an IPv4 'ip' (an Elastic IP)")
                }
                vip = address.description
            case "dynamic":
                guard let subnet else {
                    throw AWSCPIError(.cloudError, "network '\(name)': cloud_properties.subnet is required")
                }
                dynamicSubnetID = subnet
            case "manual":
                guard let subnet else {
                    throw AWSCPIError(.cloudError, "network '\(name)': cloud_properties.subnet is required")
                }
                guard let ipText = spec["ip"]?.stringValue, let netmaskText = spec["netmask"]?.stringValue else {
                    throw AWSCPIError(.cloudError, "network '\(name)': a manual network needs 'ip' and 'netmask'")
                }
                let manual = try Self.manual(name: name, ip: ipText, netmask: netmaskText, subnet: subnet)
                if ipText.contains(":") {
                    guard ipv6 == nil else {
                        throw AWSCPIError(.cloudError, "network '\(name)': only one IPv6 manual network is supported")
                    }
                    ipv6 = manual
                } else {
                    guard ipv4 == nil else {
                        throw AWSCPIError(.cloudError, "network '\(name)': only one IPv4 manual network is supported")
                    }
                    ipv4 = manual
                }
            default:
                throw AWSCPIError(.cloudError, "network '\(name)': type '\(type)' is not supported by the AWS CPI")
            }
        }
        let subnets = Set([ipv4?.subnetID, ipv6?.subnetID, dynamicSubnetID].compactMap { $0 })
        guard subnets.count <= 1 else {
            throw AWSCPIError(
                .cloudError,
                "networks use different subnets (\(subnets.sorted().joined(separator: ", "))); an instance's IPv4 and "
                    + "IPv6 networks must name the same subnet")
        }
        guard !subnets.isEmpty else {
            throw AWSCPIError(.cloudError, "create_vm needs a manual or dynamic network with cloud_properties.subnet")
        }
    }

    static func manual(name: String, ip: String, netmask: String, subnet: String) throws(AWSCPIError) -> Manual {
        do {
            if ip.contains(":") {
                let address = try IPv6Address(parsing: ip)
                let prefix = try IPNetwork<IPv6Address>(address: address, netmask: try IPv6Address(parsing: netmask))
                return Manual(name: name, ip: address.description, prefix: prefix.description, subnetID: subnet)
            }
            let address = try IPv4Address(parsing: ip)
            let prefix = try IPNetwork<IPv4Address>(address: address, netmask: try IPv4Address(parsing: netmask))
            return Manual(name: name, ip: address.description, prefix: prefix.description, subnetID: subnet)
        } catch {
            throw AWSCPIError(.cloudError, "network '\(name)': \(error)")
        }
    }
}

/// Checks made before any mutating call, each naming what is wrong.
public enum VMPreflight {
    /// Families that have no IPv6 at all (the 2016 launch excluded M3 and G2; C1, M1, M2, T1 never had it).
    public static let familiesWithoutIPv6: Set<String> = [
        "m3", "g2", "c1", "m1", "m2", "t1", "cc2", "cr1", "hs1", "hi1",
    ]

    /// Refuses an instance type that cannot have IPv6 addresses, by family or by what `DescribeInstanceTypes` said.
    public static func checkInstanceType(_ type: String, info: EC2InstanceTypeInfo?) throws(AWSCPIError) {
        let family = type.split(separator: ".").first.map { $0.lowercased() } ?? type.lowercased()
        if familiesWithoutIPv6.contains(family) {
            throw AWSCPIError(
                .cloudError,
                "instance type \(type) has no IPv6: the \(family.uppercased()) family does not support IPv6 addresses; "
                    + "choose a current-generation type such as m5.large or t3.small")
        }
        if let info, !info.ipv6Supported {
            throw AWSCPIError(
                .cloudError,
                "instance type \(type) has no IPv6: DescribeInstanceTypes reports ipv6Supported=false; "
                    + "choose a type that supports IPv6")
        }
    }

    /// Refuses an IPv6 address that is outside the subnet's block, reserved by AWS, or on a subnet that is not a
    /// /64 (the manifest's netmask and the subnet's actual block both count).
    public static func checkIPv6(_ manual: VMNetworks.Manual, subnetBlock: String?, subnetID: String)
        throws(AWSCPIError)
    {
        do {
            let address = try IPv6Address(parsing: manual.ip)
            let declared = try IPNetwork<IPv6Address>(parsing: manual.prefix)
            do {
                try ReservationPolicy.aws.validate(subnet: declared)
            } catch {
                throw AWSCPIError(
                    .cloudError,
                    "network '\(manual.name)': IPv6 subnet \(declared) is not a /64; AWS IPv6 subnets are always /64 "
                        + "(netmask ffff:ffff:ffff:ffff::)")
            }
            guard let blockText = subnetBlock else {
                throw AWSCPIError(
                    .cloudError,
                    "network '\(manual.name)': subnet \(subnetID) has no IPv6 block; run skiff aws up or associate one")
            }
            let block = try IPNetwork<IPv6Address>(parsing: blockText)
            do {
                try ReservationPolicy.aws.validate(subnet: block)
            } catch {
                throw AWSCPIError(.cloudError, "subnet \(subnetID) has IPv6 block \(block), which is not a /64")
            }
            guard block.contains(address) else {
                throw AWSCPIError(
                    .cloudError,
                    "network '\(manual.name)': IPv6 address \(address) is outside subnet \(subnetID) (\(block))")
            }
            guard !ReservationPolicy.aws.isReserved(address, in: block) else {
                let first = ReservationPolicy.aws.firstAssignable(in: block).map { ", the first usable is \($0)" } ?? ""
                throw AWSCPIError(
                    .cloudError,
                    "network '\(manual.name)': IPv6 address \(address) is reserved by AWS in \(block) (the first four "
                        + "and the last address of every subnet are)\(first)")
            }
            guard declared == block else {
                throw AWSCPIError(
                    .cloudError,
                    "network '\(manual.name)': its IPv6 prefix \(declared) differs from subnet \(subnetID)'s "
                        + "block \(block)")
            }
        } catch let error as AWSCPIError {
            throw error
        } catch {
            throw AWSCPIError(.cloudError, "network '\(manual.name)': \(error)")
        }
    }

    /// Refuses an IPv4 address outside the subnet or reserved by AWS.
    public static func checkIPv4(_ manual: VMNetworks.Manual, subnetCIDR: IPNetwork<IPv4Address>?, subnetID: String)
        throws(AWSCPIError)
    {
        guard let subnetCIDR, let address = IPv4Address(manual.ip) else { return }
        do {
            try ReservationPolicy.aws.validate(address: address, in: subnetCIDR)
        } catch {
            throw AWSCPIError(.cloudError, "network '\(manual.name)': IPv4 address \(error.input) \(error.reason)")
        }
    }
}

/// The parameters of one `RunInstances` call: the AMI on a network interface made beforehand, with the VM's
/// cloud properties (instance profile, placement, tenancy, metadata options, root and ephemeral disks, spot).
public struct RunInstancesRequest: Sendable, Hashable {
    /// The AMI (the light stemcell's cid).
    public var imageID: String
    /// e.g. `t3.small`.
    public var instanceType: String
    /// The interface at device index 0, made by `CreateNetworkInterface` with the addresses and security groups.
    public var networkInterfaceID: String
    /// The EC2 key pair, if any.
    public var keyName: String?
    /// The agent settings JSON; base64-encoded on the wire.
    public var userData: String
    /// The idempotency token of this launch attempt.
    public var clientToken: String
    /// The availability zone.
    public var zone: String?
    /// The AMI's root device (where `root_disk` goes).
    public var rootDeviceName: String?
    /// The checked cloud properties.
    public var properties: VMCloudProperties
    /// Tags for the instance and its volumes.
    public var tags: [EC2Tag]
    /// Whether this attempt asks for a spot instance (`spot_bid_price`; cleared for an on-demand fallback).
    public var spot: Bool

    /// Creates a request.
    public init(
        imageID: String, instanceType: String, networkInterfaceID: String, keyName: String?, userData: String,
        clientToken: String, zone: String?, rootDeviceName: String?, properties: VMCloudProperties, tags: [EC2Tag]
    ) {
        self.imageID = imageID
        self.instanceType = instanceType
        self.networkInterfaceID = networkInterfaceID
        self.keyName = keyName
        self.userData = userData
        self.clientToken = clientToken
        self.zone = zone
        self.rootDeviceName = rootDeviceName
        self.properties = properties
        self.tags = tags
        self.spot = properties.spotBidPrice != nil
    }

    /// The wire parameters.
    public var parameters: EC2Parameters {
        var p = EC2Parameters()
        p.set("ImageId", imageID)
        p.set("InstanceType", instanceType)
        p.set("MinCount", 1)
        p.set("MaxCount", 1)
        p.set("NetworkInterface.1.NetworkInterfaceId", networkInterfaceID)
        p.set("NetworkInterface.1.DeviceIndex", 0)
        p.set("KeyName", keyName)
        p.set("UserData", Data(userData.utf8).base64EncodedString())
        p.set("ClientToken", clientToken)
        p.set("Placement.AvailabilityZone", zone)
        p.set("Placement.GroupName", properties.placementGroup)
        p.set("Placement.Tenancy", properties.tenancy)
        if let profile = properties.iamInstanceProfile {
            p.set(profile.hasPrefix("arn:") ? "IamInstanceProfile.Arn" : "IamInstanceProfile.Name", profile)
        }
        properties.metadataOptions.apply(to: &p)
        var device = 0
        if let root = properties.rootDisk, let rootDeviceName {
            device += 1
            p.set("BlockDeviceMapping.\(device).DeviceName", rootDeviceName)
            root.apply(to: &p, prefix: "BlockDeviceMapping.\(device).Ebs.")
            p.set("BlockDeviceMapping.\(device).Ebs.DeleteOnTermination", true)
        }
        if let ephemeral = properties.ephemeralDisk {
            device += 1
            var disk = ephemeral
            disk.sizeGiB = disk.sizeGiB ?? 10
            p.set("BlockDeviceMapping.\(device).DeviceName", "/dev/sdb")
            disk.apply(to: &p, prefix: "BlockDeviceMapping.\(device).Ebs.")
            p.set("BlockDeviceMapping.\(device).Ebs.DeleteOnTermination", true)
        }
        if spot, let price = properties.spotBidPrice {
            p.set("InstanceMarketOptions.MarketType", "spot")
            p.set("InstanceMarketOptions.SpotOptions.MaxPrice", price)
            p.set("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time")
        }
        p.tagSpecification("instance", tags)
        p.tagSpecification("volume", tags)
        return p
    }
}
