import SkiffCloud

/// An EBS volume's settings from cloud properties (`ephemeral_disk`, `root_disk`, a disk type).
public struct EBSDiskProperties: Sendable, Hashable {
    /// Size in GiB (cloud properties give MiB; rounded up), when given.
    public var sizeGiB: Int?
    /// `gp3`, `gp2`, `io1`, `io2`, `st1`, `sc1`, `standard`.
    public var type: String?
    /// Provisioned IOPS (io1, io2, gp3).
    public var iops: Int?
    /// Throughput in MiB/s (gp3).
    public var throughput: Int?
    /// Whether the volume is encrypted.
    public var encrypted: Bool?
    /// The KMS key of an encrypted volume.
    public var kmsKeyARN: String?

    static let volumeTypes: Set<String> = ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"]

    /// Reads and checks the keys in `allowed`; any other key is refused with its path.
    init(
        _ value: JSONValue, path: String, allowed: Set<String>, refused: [String: String] = [:],
        defaultEncrypted: Bool = false, defaultKMS: String? = nil, sizeRequired: Bool = false
    ) throws(AWSCPIError) {
        guard let members = value.objectValue else {
            throw AWSCPIError(.cloudError, "\(path) must be a map, not \(value)")
        }
        try CloudPropertyReader.refuseUnknown(members, path: path, allowed: allowed, refused: refused)
        let reader = CloudPropertyReader(members: members, path: path)
        if let mib = try reader.int("size") {
            guard mib > 0 else { throw AWSCPIError(.cloudError, "\(path).size must be positive, not \(mib)") }
            sizeGiB = (mib + 1023) / 1024
        } else if sizeRequired {
            throw AWSCPIError(.cloudError, "\(path).size is required")
        }
        type = try reader.string("type")
        if let type, !Self.volumeTypes.contains(type) {
            throw AWSCPIError(
                .cloudError,
                "\(path).type '\(type)' is not an EBS volume type ("
                    + Self.volumeTypes.sorted().joined(separator: ", ") + ")")
        }
        iops = try reader.int("iops")
        throughput = try reader.int("throughput")
        encrypted = try reader.bool("encrypted") ?? (allowed.contains("encrypted") ? defaultEncrypted : nil)
        kmsKeyARN = try reader.string("kms_key_arn") ?? (allowed.contains("kms_key_arn") ? defaultKMS : nil)
        let effectiveType = type ?? "gp3"
        if iops != nil, !["io1", "io2", "gp3"].contains(effectiveType) {
            throw AWSCPIError(.cloudError, "\(path).iops needs type io1, io2 or gp3, not \(effectiveType)")
        }
        if ["io1", "io2"].contains(effectiveType), iops == nil {
            throw AWSCPIError(.cloudError, "\(path).iops is required for type \(effectiveType)")
        }
        if throughput != nil, effectiveType != "gp3" {
            throw AWSCPIError(.cloudError, "\(path).throughput needs type gp3, not \(effectiveType)")
        }
        if kmsKeyARN != nil {
            if members["encrypted"]?.boolValue == false {
                throw AWSCPIError(.cloudError, "\(path).kms_key_arn is set but \(path).encrypted is false")
            }
            encrypted = true
        }
    }

    /// Sets the `Ebs.*` members of a block device mapping (or, with an empty prefix, `CreateVolume`'s).
    func apply(to p: inout EC2Parameters, prefix: String, sizeKey: String = "VolumeSize", defaultType: String = "gp3") {
        p.set("\(prefix)\(sizeKey)", sizeGiB)
        p.set("\(prefix)VolumeType", type ?? defaultType)
        p.set("\(prefix)Iops", iops)
        p.set("\(prefix)Throughput", throughput)
        if encrypted == true { p.set("\(prefix)Encrypted", true) }
        p.set("\(prefix)KmsKeyId", kmsKeyARN)
    }
}

/// IMDS settings of a VM (`metadata_options`): IMDSv2 only (`http_tokens: required`) unless said otherwise.
public struct MetadataOptions: Sendable, Hashable {
    /// `required` or `optional`.
    public var httpTokens: String = "required"
    /// `enabled` or `disabled`.
    public var httpEndpoint: String?
    /// 1 to 64.
    public var hopLimit: Int?
    /// `enabled` or `disabled`: the IMDS IPv6 endpoint `fd00:ec2::254` (Nitro instances).
    public var httpProtocolIPv6: String?
    /// `enabled` or `disabled`: instance tags in the metadata.
    public var instanceMetadataTags: String?

    static let keys: Set<String> = [
        "http_tokens", "http_endpoint", "http_put_response_hop_limit", "http_protocol_ipv6", "instance_metadata_tags",
    ]

    /// Reads `value` over `defaults` (the `aws.metadata_options` of the CPI config).
    init(_ value: JSONValue?, path: String, defaults: JSONValue?) throws(AWSCPIError) {
        var merged: [String: JSONValue] = [:]
        for source in [defaults, value] {
            guard let source, !source.isNull else { continue }
            guard let members = source.objectValue else {
                throw AWSCPIError(.cloudError, "\(path) must be a map, not \(source)")
            }
            try CloudPropertyReader.refuseUnknown(members, path: path, allowed: Self.keys)
            merged.merge(members) { $1 }
        }
        let reader = CloudPropertyReader(members: merged, path: path)
        func choice(_ key: String, _ options: [String]) throws(AWSCPIError) -> String? {
            guard let value = try reader.string(key) else { return nil }
            guard options.contains(value) else {
                throw AWSCPIError(
                    .cloudError, "\(path).\(key) is '\(value)'; it must be \(options.joined(separator: " or "))")
            }
            return value
        }
        httpTokens = try choice("http_tokens", ["required", "optional"]) ?? "required"
        httpEndpoint = try choice("http_endpoint", ["enabled", "disabled"])
        httpProtocolIPv6 = try choice("http_protocol_ipv6", ["enabled", "disabled"])
        instanceMetadataTags = try choice("instance_metadata_tags", ["enabled", "disabled"])
        hopLimit = try reader.int("http_put_response_hop_limit")
        if let hopLimit, !(1...64).contains(hopLimit) {
            throw AWSCPIError(.cloudError, "\(path).http_put_response_hop_limit must be 1 to 64, not \(hopLimit)")
        }
    }

    /// `MetadataOptions.*` of `RunInstances`.
    func apply(to p: inout EC2Parameters) {
        p.set("MetadataOptions.HttpTokens", httpTokens)
        p.set("MetadataOptions.HttpEndpoint", httpEndpoint)
        p.set("MetadataOptions.HttpPutResponseHopLimit", hopLimit)
        p.set("MetadataOptions.HttpProtocolIpv6", httpProtocolIPv6)
        p.set("MetadataOptions.InstanceMetadataTags", instanceMetadataTags)
    }
}

/// A VM's `cloud_properties` (vm_type / resource pool, merged with vm_extensions), checked before any EC2 call:
/// every key bosh-aws-cpi supports is either used or refused with one line naming it; unknown keys are refused too.
public struct VMCloudProperties: Sendable, Hashable {
    /// `instance_type` (required).
    public var instanceType: String
    /// `availability_zone`.
    public var availabilityZone: String?
    /// `security_groups`: ids or names.
    public var securityGroups: [String]
    /// `key_name`, or the config's `default_key_name`.
    public var keyName: String?
    /// `iam_instance_profile` (a name or an ARN), or the config's `default_iam_instance_profile`.
    public var iamInstanceProfile: String?
    /// `placement_group`.
    public var placementGroup: String?
    /// `tenancy`: `default` or `dedicated`.
    public var tenancy: String?
    /// `source_dest_check` (true unless set false: a NAT or router VM turns it off).
    public var sourceDestCheck: Bool
    /// `ephemeral_disk`: size, type, iops, throughput, encrypted, kms_key_arn.
    public var ephemeralDisk: EBSDiskProperties?
    /// `root_disk`: size, type, iops, throughput.
    public var rootDisk: EBSDiskProperties?
    /// `metadata_options`, IMDSv2 required by default.
    public var metadataOptions: MetadataOptions
    /// `tags`: extra tags for the instance and its volumes.
    public var tags: [EC2Tag]
    /// `spot_bid_price`: launch as a spot instance with this maximum price (USD per hour).
    public var spotBidPrice: String?
    /// `spot_ondemand_fallback`: launch on demand when the spot request cannot be met.
    public var spotOnDemandFallback: Bool
    /// `ipv6_address_count` (skiff's): how many IPv6 addresses EC2 picks when no network gives one.
    public var ipv6AddressCount: Int?

    /// Keys this CPI implements.
    public static let supported: Set<String> = [
        "instance_type", "availability_zone", "security_groups", "key_name", "iam_instance_profile", "placement_group",
        "tenancy", "source_dest_check", "ephemeral_disk", "root_disk", "metadata_options", "tags", "spot_bid_price",
        "spot_ondemand_fallback", "ipv6_address_count", "auto_assign_public_ip", "raw_instance_storage",
    ]

    /// bosh-aws-cpi keys skiff refuses, with the reason given to the user.
    public static let refused: [String: String] = [
        "elbs": "skiff manages no classic load balancers; register the VM with the load balancer yourself",
        "lb_target_groups": "skiff manages no load balancer target groups; register the VM yourself",
        "advertised_routes": "skiff does not edit route tables for VMs",
        "ipv6_prefix": "IPv6 prefix delegation is not supported; give the VM an address on a /64 network",
        "ipv4_prefix": "IPv4 prefix delegation is not supported",
        "nic_group": "multiple network interfaces are not supported; all networks share one subnet and interface",
        "instance_storage": "instance storage is not supported; use ephemeral_disk (EBS)",
    ]

    /// Reads `value`; `config` gives the defaults (`default_key_name`, `default_iam_instance_profile`,
    /// `encrypted`, `kms_key_arn`, `metadata_options`).
    public init(_ value: JSONValue, config: AWSCPIConfig) throws(AWSCPIError) {
        let path = "cloud_properties"
        guard let members = value.objectValue else {
            throw AWSCPIError(.cloudError, "\(path) must be a map, not \(value)")
        }
        try CloudPropertyReader.refuseUnknown(members, path: path, allowed: Self.supported, refused: Self.refused)
        let reader = CloudPropertyReader(members: members, path: path)
        guard let instanceType = try reader.string("instance_type") else {
            throw AWSCPIError(.cloudError, "cloud_properties.instance_type is required")
        }
        self.instanceType = instanceType
        availabilityZone = try reader.string("availability_zone")
        securityGroups = try reader.stringList("security_groups")
        keyName = try reader.string("key_name") ?? config.defaultKeyName
        iamInstanceProfile = try reader.string("iam_instance_profile") ?? config.defaultIAMInstanceProfile
        placementGroup = try reader.string("placement_group")
        tenancy = try reader.string("tenancy")
        if let tenancy, !["default", "dedicated"].contains(tenancy) {
            throw AWSCPIError(.cloudError, "cloud_properties.tenancy is '\(tenancy)'; it must be default or dedicated")
        }
        sourceDestCheck = try reader.bool("source_dest_check") ?? true
        if try reader.bool("auto_assign_public_ip") == true {
            throw AWSCPIError(
                .cloudError,
                "cloud_properties.auto_assign_public_ip is not supported: skiff creates the network interface first; "
                    + "use a vip network with an Elastic IP, or IPv6")
        }
        if try reader.bool("raw_instance_storage") == true {
            throw AWSCPIError(
                .cloudError, "cloud_properties.raw_instance_storage is not supported: skiff uses EBS disks only")
        }
        if let disk = members["ephemeral_disk"], !disk.isNull {
            ephemeralDisk = try EBSDiskProperties(
                disk, path: "cloud_properties.ephemeral_disk",
                allowed: [
                    "size", "type", "iops", "throughput", "encrypted", "kms_key_arn", "use_instance_storage",
                    "use_root_disk",
                ],
                defaultEncrypted: config.encrypted, defaultKMS: config.kmsKeyARN)
            for key in ["use_instance_storage", "use_root_disk"] where disk[key]?.boolValue == true {
                throw AWSCPIError(
                    .cloudError,
                    "cloud_properties.ephemeral_disk.\(key) is not supported: skiff gives the VM an EBS ephemeral disk")
            }
        }
        if let disk = members["root_disk"], !disk.isNull {
            rootDisk = try EBSDiskProperties(
                disk, path: "cloud_properties.root_disk", allowed: ["size", "type", "iops", "throughput"],
                sizeRequired: true)
        }
        metadataOptions = try MetadataOptions(
            members["metadata_options"], path: "cloud_properties.metadata_options", defaults: config.metadataOptions)
        tags = []
        if let tagValue = members["tags"], !tagValue.isNull {
            guard let object = tagValue.objectValue else {
                throw AWSCPIError(
                    .cloudError, "cloud_properties.tags must be a map of names to values, not \(tagValue)")
            }
            for key in object.keys.sorted() {
                guard let text = object[key].flatMap(CloudPropertyReader.scalarText) else {
                    throw AWSCPIError(.cloudError, "cloud_properties.tags.\(key) must be a string or number")
                }
                tags.append(EC2Tag(key, text))
            }
        }
        if let price = members["spot_bid_price"], !price.isNull {
            guard let text = CloudPropertyReader.scalarText(price), let number = Double(text), number > 0 else {
                throw AWSCPIError(
                    .cloudError, "cloud_properties.spot_bid_price must be a positive number, not \(price)")
            }
            spotBidPrice = text
        }
        spotOnDemandFallback = try reader.bool("spot_ondemand_fallback") ?? false
        if spotOnDemandFallback, spotBidPrice == nil {
            throw AWSCPIError(.cloudError, "cloud_properties.spot_ondemand_fallback is set without spot_bid_price")
        }
        ipv6AddressCount = try reader.int("ipv6_address_count")
    }
}

/// A disk type's `cloud_properties` for `create_disk`: type, iops, throughput, encrypted, kms_key_arn.
public struct DiskCloudProperties: Sendable, Hashable {
    /// The volume settings.
    public var volume: EBSDiskProperties
    /// `availability_zone` (skiff's), for a disk made without a VM.
    public var availabilityZone: String?

    /// Reads `value`; unknown keys are refused.
    public init(_ value: JSONValue, config: AWSCPIConfig) throws(AWSCPIError) {
        let members = value.objectValue ?? [:]
        guard value.objectValue != nil || value.isNull else {
            throw AWSCPIError(.cloudError, "disk cloud_properties must be a map, not \(value)")
        }
        var volumeMembers = members
        availabilityZone = members["availability_zone"]?.stringValue
        volumeMembers["availability_zone"] = nil
        volume = try EBSDiskProperties(
            .object(volumeMembers), path: "disk cloud_properties",
            allowed: ["type", "iops", "throughput", "encrypted", "kms_key_arn"], defaultEncrypted: config.encrypted,
            defaultKMS: config.kmsKeyARN)
    }
}

/// Typed reads of cloud property members; a wrong type is one error line naming the path and the value.
struct CloudPropertyReader {
    let members: [String: JSONValue]
    let path: String

    static func refuseUnknown(
        _ members: [String: JSONValue], path: String, allowed: Set<String>, refused: [String: String] = [:]
    ) throws(AWSCPIError) {
        for key in members.keys.sorted() {
            if let reason = refused[key] {
                throw AWSCPIError(.cloudError, "\(path).\(key) is not supported: \(reason)")
            }
            guard allowed.contains(key) else {
                throw AWSCPIError(
                    .cloudError,
                    "\(path).\(key) is not a property the AWS CPI knows; remove it (known: "
                        + allowed.sorted().joined(separator: ", ") + ")")
            }
        }
    }

    static func scalarText(_ value: JSONValue) -> String? {
        if let text = value.stringValue { return text }
        if let int = value.intValue { return String(int) }
        if case .double(let double) = value { return String(double) }
        if let bool = value.boolValue { return String(bool) }
        return nil
    }

    func string(_ key: String) throws(AWSCPIError) -> String? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            throw AWSCPIError(.cloudError, "\(path).\(key) must be a non-empty string, not \(value)")
        }
        return text
    }

    func int(_ key: String) throws(AWSCPIError) -> Int? {
        guard let value = members[key], !value.isNull else { return nil }
        if let int = value.intValue { return int }
        if let text = value.stringValue, let int = Int(text.replacingOccurrences(of: "_", with: "")) { return int }
        throw AWSCPIError(.cloudError, "\(path).\(key) must be a whole number, not \(value)")
    }

    func bool(_ key: String) throws(AWSCPIError) -> Bool? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let bool = value.boolValue else {
            throw AWSCPIError(.cloudError, "\(path).\(key) must be true or false, not \(value)")
        }
        return bool
    }

    func stringList(_ key: String) throws(AWSCPIError) -> [String] {
        guard let value = members[key], !value.isNull else { return [] }
        if let text = value.stringValue { return [text] }
        guard let array = value.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
            throw AWSCPIError(.cloudError, "\(path).\(key) must be a list of strings, not \(value)")
        }
        return array.compactMap(\.stringValue)
    }
}
