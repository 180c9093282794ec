import Foundation
import SkiffCloud
import SkiffNet

/// The EC2 side of the AWS CPI: stemcells, VMs with IPv4 and IPv6 addresses, Elastic IPs and EBS disks.
///
/// Every `create_vm` check that can fail (instance type without IPv6, an IPv6 address outside its /64 or reserved by
/// AWS, a subnet that is not a /64, a missing Elastic IP or security group) runs before the first mutating call.
public struct AWSCPI: Sendable {
    /// The EC2 client.
    public let client: EC2Client
    /// The CPI settings.
    public let config: AWSCPIConfig
    /// How long to wait for an instance to run or terminate, or a volume to change state.
    public var stateWait: Duration = .seconds(600)
    /// The pauses of the retries bosh-aws-cpi makes while AWS releases an address or a volume.
    public var retryTiming = CPIRetryTiming.boshAWSCPI

    /// Creates the CPI.
    public init(client: EC2Client, config: AWSCPIConfig) {
        self.client = client
        self.config = config
    }

    /// Creates the CPI with a client for the config's keys, region and endpoint.
    public init(config: AWSCPIConfig, observer: (@Sendable (EC2CallRecord) -> Void)? = nil) {
        self.init(
            client: EC2Client(settings: config.settings, retry: config.retryPolicy, observer: observer), config: config)
    }

    // MARK: info and stemcells

    /// `info`: light stemcells only; CPI API version 2.
    public func info() -> JSONValue {
        .object(["stemcell_formats": .array([.string("aws-light")]), "api_version": .int(2)])
    }

    /// `create_stemcell` for a light stemcell: the AMI for this region from `cloud_properties.ami`, checked to exist.
    public func createStemcell(imagePath: String, cloudProperties: JSONValue) async throws -> String {
        guard let amis = cloudProperties["ami"] else {
            throw AWSCPIError(
                .notSupported, "only light stemcells (cloud_properties.ami with an AMI per region) are supported")
        }
        guard let ami = amis[config.region]?.stringValue ?? amis.stringValue else {
            throw AWSCPIError(.cloudError, "the light stemcell has no AMI for region \(config.region)")
        }
        let images: [EC2Image]
        do {
            images = try await client.describeImages(ids: [ami])
        } catch let error as EC2Error where error.code.hasPrefix("InvalidAMIID") {
            throw AWSCPIError(.cloudError, "AMI \(ami) of the light stemcell does not exist in \(config.region)")
        }
        guard let image = images.first(where: { $0.id == ami }) else {
            throw AWSCPIError(.cloudError, "AMI \(ami) of the light stemcell does not exist in \(config.region)")
        }
        guard image.state.isEmpty || image.state == "available" else {
            throw AWSCPIError(.cloudError, "AMI \(ami) is \(image.state), not available")
        }
        return ami
    }

    /// `delete_stemcell`: a light stemcell's AMI belongs to its publisher, so nothing is deleted.
    public func deleteStemcell(_ cid: String) async throws {}

    // MARK: VMs

    /// `create_vm`: returns the instance id and the networks as given.
    ///
    /// Order: every cloud property and network is checked (no call); then read-only calls (subnet, instance type,
    /// AMI, Elastic IP, security groups); then the network interface is created first, so its MAC address goes into
    /// the agent settings; then `RunInstances` on that interface. A failure after the interface exists removes what
    /// was made.
    public func createVM(
        agentID: String, stemcellCID: String, cloudProperties: JSONValue, networks: JSONValue, diskCIDs: [String] = [],
        env: JSONValue = .object([:])
    ) async throws -> (String, JSONValue) {
        let sorted = try VMNetworks(networks)
        let properties = try VMCloudProperties(cloudProperties, config: config)
        let instanceType = properties.instanceType
        let countProperty = properties.ipv6AddressCount
        let wantsIPv6 = sorted.ipv6 != nil || (countProperty ?? 0) > 0
        if sorted.ipv6 != nil, let countProperty, countProperty > 0 {
            throw AWSCPIError(
                .cloudError,
                "network '\(sorted.ipv6?.name ?? "")' gives a static IPv6 address and "
                    + "cloud_properties.ipv6_address_count is set; EC2 takes one or the other")
        }
        if wantsIPv6 { try VMPreflight.checkInstanceType(instanceType, info: nil) }
        guard let subnetID = sorted.subnetID else { throw AWSCPIError(.cloudError, "no subnet in networks") }

        // Read-only pre-flight calls, concurrently.
        async let typeInfo = wantsIPv6 ? client.describeInstanceTypes([instanceType]).first : nil
        async let subnetCall = client.describeSubnets(ids: [subnetID])
        async let addressCall = lookUpElasticIP(sorted.vip)
        async let imageCall = properties.rootDisk == nil ? nil : lookUpImage(stemcellCID)
        let subnet: EC2Subnet
        do {
            guard let found = try await subnetCall.first else {
                throw AWSCPIError(.cloudError, "subnet \(subnetID) not found")
            }
            subnet = found
        } catch let error as EC2Error where error.isNotFound {
            throw AWSCPIError(.cloudError, "subnet \(subnetID) does not exist in \(config.region)")
        }
        if wantsIPv6 {
            let info: EC2InstanceTypeInfo?
            do {
                info = try await typeInfo
            } catch let error as EC2Error where error.code.hasPrefix("InvalidInstanceType") {
                throw AWSCPIError(.cloudError, "instance type \(instanceType) does not exist in \(config.region)")
            }
            try VMPreflight.checkInstanceType(instanceType, info: info)
        }
        if let ipv6 = sorted.ipv6 {
            try VMPreflight.checkIPv6(ipv6, subnetBlock: subnet.ipv6Block?.description, subnetID: subnetID)
        } else if wantsIPv6, subnet.ipv6Block == nil {
            throw AWSCPIError(.cloudError, "subnet \(subnetID) has no IPv6 block, so ipv6_address_count cannot be met")
        }
        if let ipv4 = sorted.ipv4 { try VMPreflight.checkIPv4(ipv4, subnetCIDR: subnet.cidr, subnetID: subnetID) }
        let zone = properties.availabilityZone ?? subnet.availabilityZone
        if zone != subnet.availabilityZone {
            throw AWSCPIError(
                .cloudError,
                "availability_zone \(zone) differs from subnet \(subnetID)'s zone \(subnet.availabilityZone)")
        }
        let allocation = try await addressCall
        let image = try await imageCall
        let groups =
            !properties.securityGroups.isEmpty
            ? properties.securityGroups
            : !sorted.securityGroups.isEmpty
                ? sorted.securityGroups : config.defaultSecurityGroups
        let groupIDs = try await resolveSecurityGroups(groups, vpcID: subnet.vpcID)
        let vmName = "vm-\(UUID().uuidString.lowercased())"
        var tags = [EC2Tag("Name", vmName), EC2Tag("agent_id", agentID), EC2Tag("created_by", "skiff")]
        let baseTags = tags
        tags += properties.tags.filter { tag in !baseTags.contains { $0.key == tag.key } }
        if let boshTags = env["bosh"]?["tags"]?.objectValue {
            for key in boshTags.keys.sorted() where !tags.contains(where: { $0.key == key }) {
                if let value = boshTags[key]?.stringValue { tags.append(EC2Tag(key, value)) }
            }
        }

        // The first mutating call: the network interface, with the addresses and security groups.
        let nic = try await createInterface(
            subnetID: subnetID, ipv4: sorted.ipv4?.ip, ipv6: sorted.ipv6?.ip, ipv6Count: countProperty,
            groupIDs: groupIDs, tags: tags)
        var instanceID: String?
        do {
            try await ensureIPv6(nic, wanted: sorted.ipv6?.ip, count: countProperty ?? 0)
            if !properties.sourceDestCheck {
                try await client.call(
                    "ModifyNetworkInterfaceAttribute",
                    ["NetworkInterfaceId": nic.id, "SourceDestCheck.Value": "false"])
            }
            let userData = try agentSettings(
                agentID: agentID, vmName: vmName, networks: networks, env: env,
                ephemeral: properties.ephemeralDisk != nil, mac: nic.macAddress)
            var request = RunInstancesRequest(
                imageID: stemcellCID, instanceType: instanceType, networkInterfaceID: nic.id,
                keyName: properties.keyName, userData: userData.json.description,
                clientToken: "skiff-\(agentID.prefix(24))-\(UUID().uuidString.prefix(8).lowercased())", zone: zone,
                rootDeviceName: image?.rootDeviceName, properties: properties, tags: tags)
            let id = try await launch(&request)
            instanceID = id
            let instance = try await waitForState(id, until: ["running"])
            try await keepInterfaceWithInstance(instance, interfaceID: nic.id)
            if let allocation { try await associate(allocation, instanceID: id) }
            return (id, networks)
        } catch {
            if let instanceID {
                _ = try? await client.call("TerminateInstances", ["InstanceId.1": instanceID])
                _ = try? await waitForState(instanceID, until: ["terminated"])
            }
            _ = try? await client.idempotentDelete("DeleteNetworkInterface", ["NetworkInterfaceId": nic.id])
            throw error
        }
    }

    /// `CreateNetworkInterface` with the VM's addresses; `InvalidIPAddress.InUse` (an address AWS has not yet
    /// released after a VM was deleted) is retried as bosh-aws-cpi retries it at launch: 20 tries, 30 s apart.
    func createInterface(
        subnetID: String, ipv4: String?, ipv6: String?, ipv6Count: Int?, groupIDs: [String], tags: [EC2Tag]
    ) async throws -> EC2NetworkInterface {
        var p = EC2Parameters()
        p.set("SubnetId", subnetID)
        p.set("PrivateIpAddress", ipv4)
        p.list("SecurityGroupId", groupIDs)
        if let ipv6 {
            p.list("Ipv6Addresses", [ipv6], suffix: "Ipv6Address")
        } else if let ipv6Count, ipv6Count > 0 {
            p.set("Ipv6AddressCount", ipv6Count)
        }
        p.set("Description", "skiff VM \(tags.first { $0.key == "agent_id" }?.value ?? "")")
        p.tagSpecification("network-interface", tags)
        let parameters = p
        let tree = try await retrying(
            "the IP address \(ipv4 ?? ipv6 ?? "") to be released", codes: ["InvalidIPAddress.InUse"],
            tries: retryTiming.addressInUseTries, pause: { _ in retryTiming.unit * retryTiming.addressInUsePause }
        ) {
            try await client.call("CreateNetworkInterface", parameters)
        }
        let nic = EC2NetworkInterface(decoding: tree.child("networkInterface") ?? XMLTree(name: "networkInterface"))
        guard !nic.id.isEmpty else {
            throw AWSCPIError(.vmCreationFailed, "CreateNetworkInterface answered without an interface id")
        }
        return nic
    }

    /// `RunInstances` (spot first when `spot_bid_price` is set, on demand after a failed spot request when
    /// `spot_ondemand_fallback` is); returns the instance id.
    func launch(_ request: inout RunInstancesRequest) async throws -> String {
        let run: XMLTree
        do {
            run = try await client.call("RunInstances", request.parameters)
        } catch let error as EC2Error where request.spot && Self.spotFailureCodes.contains(error.code) {
            guard request.properties.spotOnDemandFallback else {
                throw AWSCPIError(
                    .vmCreationFailed, "the spot request failed (\(error)); set spot_ondemand_fallback to fall back")
            }
            request.spot = false
            request.clientToken += "-od"
            run = try await client.call("RunInstances", request.parameters)
        }
        guard let instanceID = run.items("instancesSet").first?.string("instanceId") else {
            throw AWSCPIError(.vmCreationFailed, "RunInstances answered without an instance id", okToRetry: true)
        }
        return instanceID
    }

    /// Codes with which EC2 refuses a spot launch that an on-demand launch could meet.
    static let spotFailureCodes: Set<String> = [
        "InsufficientInstanceCapacity", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "InsufficientCapacity",
        "UnfulfillableCapacity",
    ]

    /// Marks the interface to go with the instance (`DeleteOnTermination`), so a VM terminated outside skiff leaves
    /// no interface behind; `delete_vm` deletes it too.
    func keepInterfaceWithInstance(_ instance: EC2Instance, interfaceID: String) async throws {
        let attachment = try await client.call(
            "DescribeNetworkInterfaces", ["NetworkInterfaceId.1": interfaceID]
        ).items("networkInterfaceSet").first?.string("attachment/attachmentId")
        guard let attachment else { return }
        var p = EC2Parameters()
        p.set("NetworkInterfaceId", interfaceID)
        p.set("Attachment.AttachmentId", attachment)
        p.set("Attachment.DeleteOnTermination", true)
        try await client.call("ModifyNetworkInterfaceAttribute", p)
    }

    /// The AMI, checked to exist (for its root device name).
    func lookUpImage(_ ami: String) async throws -> EC2Image {
        do {
            guard let image = try await client.describeImages(ids: [ami]).first(where: { $0.id == ami }) else {
                throw AWSCPIError(.cloudError, "AMI \(ami) does not exist in \(config.region)")
            }
            return image
        } catch let error as EC2Error where error.code.hasPrefix("InvalidAMIID") {
            throw AWSCPIError(.cloudError, "AMI \(ami) does not exist in \(config.region)")
        }
    }

    /// Runs `body` again while it fails with one of `codes`, at most `tries` times, pausing `pause(n)` after the
    /// n-th failure; `stillRetry` may stop early. The last failure becomes one line saying what was waited for.
    @discardableResult
    func retrying<T: Sendable>(
        _ what: String, codes: Set<String>, tries: Int, pause: (Int) -> Duration,
        stillRetry: (EC2Error, Int) -> Bool = { _, _ in true }, _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as EC2Error where codes.contains(error.code) {
                guard attempt < tries, stillRetry(error, attempt) else {
                    let waited = clock.now - start
                    throw AWSCPIError(
                        .cloudError, "gave up waiting for \(what) after \(attempt) tries in \(waited): \(error)")
                }
                try await Task.sleep(for: pause(attempt))
                attempt += 1
            }
        }
    }

    /// The allocation id of the Elastic IP `ip`, or an error if this account does not own it.
    func lookUpElasticIP(_ ip: String?) async throws -> String? {
        guard let ip else { return nil }
        let addresses = try await client.describeAddresses(filters: [EC2Filter("public-ip", ip)])
        guard let address = addresses.first(where: { $0.publicIP?.description == ip }) else {
            throw AWSCPIError(
                .cloudError, "vip \(ip) is not an Elastic IP of this account in \(config.region); allocate it first")
        }
        return address.allocationID
    }

    /// Security group ids for ids or names (names are looked up in the subnet's VPC).
    func resolveSecurityGroups(_ groups: [String], vpcID: String) async throws -> [String] {
        let names = groups.filter { !$0.hasPrefix("sg-") }
        guard !names.isEmpty else { return groups }
        let found = try await client.describeSecurityGroups(filters: [
            EC2Filter("vpc-id", vpcID), EC2Filter("group-name", names),
        ])
        return try groups.map { group in
            if group.hasPrefix("sg-") { return group }
            guard let match = found.first(where: { $0.name == group }) else {
                throw AWSCPIError(.cloudError, "security group '\(group)' does not exist in \(vpcID)")
            }
            return match.id
        }
    }

    /// Polls an instance until its state is one of `states` (tolerating `InvalidInstanceID.NotFound` right after
    /// the launch).
    func waitForState(_ instanceID: String, until states: Set<String>) async throws -> EC2Instance {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: stateWait)
        var pause = Duration.milliseconds(250)
        while true {
            let instances = try await client.awaitingConsistency(codes: ["InvalidInstanceID.NotFound"]) {
                try await client.describeInstances(ids: [instanceID])
            }
            if let instance = instances.first {
                if states.contains(instance.state) { return instance }
                if !states.contains("terminated"), instance.state == "terminated" || instance.state == "shutting-down" {
                    throw AWSCPIError(.vmCreationFailed, "instance \(instanceID) is \(instance.state)", okToRetry: true)
                }
            }
            guard clock.now < deadline else {
                throw AWSCPIError(
                    states.contains("terminated") ? .cloudError : .vmCreationFailed,
                    "instance \(instanceID) did not become \(states.sorted().joined(separator: " or ")) "
                        + "within \(stateWait)")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    /// Makes sure the interface has the wanted IPv6 address (or `count` addresses): `AssignIpv6Addresses` if EC2
    /// did not give them at creation.
    func ensureIPv6(_ nic: EC2NetworkInterface, wanted: String?, count: Int) async throws {
        let present = nic.ipv6Addresses
        var p = EC2Parameters()
        if let wanted {
            guard !present.contains(wanted) else { return }
            p.list("Ipv6Addresses", [wanted])
        } else if count > present.count {
            p.set("Ipv6AddressCount", count - present.count)
        } else {
            return
        }
        p.set("NetworkInterfaceId", nic.id)
        let parameters = p
        try await client.awaitingConsistency(codes: ["InvalidNetworkInterfaceID.NotFound"]) {
            try await client.call("AssignIpv6Addresses", parameters)
        }
        if let wanted {
            let after = try await client.call("DescribeNetworkInterfaces", ["NetworkInterfaceId.1": nic.id])
                .items("networkInterfaceSet").first.map(EC2NetworkInterface.init(decoding:))
            guard after?.ipv6Addresses.contains(wanted) == true else {
                throw AWSCPIError(
                    .vmCreationFailed, "IPv6 address \(wanted) is not on interface \(nic.id) after assigning it")
            }
        }
    }

    func associate(_ allocationID: String, instanceID: String) async throws {
        var p = EC2Parameters()
        p.set("AllocationId", allocationID)
        p.set("InstanceId", instanceID)
        p.set("AllowReassociation", true)
        try await client.awaitingConsistency(codes: ["InvalidInstanceID.NotFound"]) {
            try await client.call("AssociateAddress", p)
        }
    }

    /// The agent settings bosh-aws-cpi puts in user data (CPI API v2, no registry): server name, DNS, networks
    /// (manual ones with `use_dhcp: true`, as EC2 hands addresses out by DHCP and DHCPv6), and the agent's own
    /// settings (agent id, vm name, mbus, ntp, blobstore, disks, env).
    /// Every manual and dynamic network is on the one interface, so each gets its `mac`.
    public func agentSettings(
        agentID: String, vmName: String, networks: JSONValue, env: JSONValue, ephemeral: Bool, mac: String? = nil
    ) throws(CloudError) -> AgentSettings {
        var blobstore: AgentSettings.Blobstore?
        if let store = config.blobstore {
            blobstore = AgentSettings.Blobstore(
                provider: store["provider"]?.stringValue ?? "", options: store["options"]?.objectValue ?? [:])
        }
        return AgentSettings.userData(
            agentID: agentID, vmName: vmName, networks: try CPINetwork.networks(json: networks),
            env: env.objectValue ?? [:], mbus: try MbusURL(parsing: config.mbus ?? "https://0.0.0.0:6868"),
            ntp: config.ntp, blobstore: blobstore,
            disks: .init(system: "/dev/xvda", ephemeral: ephemeral ? "/dev/sdb" : .null), setup: .dhcp, mac: mac)
    }

    /// `delete_vm`: terminates the instance and waits until it is gone; an unknown instance is `VMNotFound`.
    /// The instance's network interfaces (made by `create_vm`) are deleted after it is gone.
    public func deleteVM(_ cid: String) async throws {
        let interfaces: [String]
        do {
            interfaces = try await client.describeInstances(ids: [cid]).first?.interfaceIDs ?? []
            try await client.call("TerminateInstances", ["InstanceId.1": cid])
        } catch let error as EC2Error where error.isNotFound || error.code == "InvalidInstanceID.Malformed" {
            throw AWSCPIError(.vmNotFound, "VM '\(cid)' not found")
        }
        _ = try await waitForState(cid, until: ["terminated"])
        for interface in interfaces {
            try await client.retryingDependency(limit: stateWait, codes: ["InvalidNetworkInterface.InUse"]) {
                try await client.idempotentDelete("DeleteNetworkInterface", ["NetworkInterfaceId": interface])
            }
        }
    }

    /// `has_vm`: true unless the instance is unknown, terminated or terminating.
    public func hasVM(_ cid: String) async throws -> Bool {
        do {
            let instances = try await client.describeInstances(ids: [cid])
            return instances.contains { $0.state != "terminated" && $0.state != "shutting-down" }
        } catch let error as EC2Error where error.isNotFound || error.code == "InvalidInstanceID.Malformed" {
            return false
        }
    }

    /// `reboot_vm`.
    public func rebootVM(_ cid: String) async throws {
        do {
            try await client.call("RebootInstances", ["InstanceId.1": cid])
        } catch let error as EC2Error where error.isNotFound {
            throw AWSCPIError(.vmNotFound, "VM \(cid) not found")
        }
    }

    /// `set_vm_metadata`: tags the instance; `Name` becomes `job/index` (or the `name` value) as bosh-aws-cpi does.
    public func setVMMetadata(_ cid: String, _ metadata: JSONValue) async throws {
        var tags: [EC2Tag] = []
        let members = metadata.objectValue ?? [:]
        for key in members.keys.sorted() {
            if let value = members[key]?.stringValue ?? members[key]?.intValue.map(String.init) {
                tags.append(EC2Tag(key, value))
            }
        }
        if let name = members["name"]?.stringValue {
            tags.append(EC2Tag("Name", name))
        } else if let job = members["job"]?.stringValue,
            let index = members["index"]?.stringValue ?? members["index"]?.intValue.map(String.init)
        {
            tags.append(EC2Tag("Name", "\(job)/\(index)"))
        }
        do {
            try await client.createTags([cid], tags)
        } catch let error as EC2Error where error.isNotFound {
            throw AWSCPIError(.vmNotFound, "VM \(cid) not found")
        }
    }

    // MARK: disks

    /// `create_disk`: an EBS volume in the VM's zone (or `availability_zone`), with the disk type's `type` (default
    /// gp3), `iops`, `throughput`, `encrypted` and `kms_key_arn` (other keys are refused); size rounded up to whole
    /// GiB; waits until it is available.
    public func createDisk(sizeMiB: Int, cloudProperties: JSONValue, vmCID: String?) async throws -> String {
        let properties = try DiskCloudProperties(cloudProperties, config: config)
        var zone = properties.availabilityZone
        if zone == nil, let vmCID {
            zone = try await client.describeInstances(ids: [vmCID]).first?.availabilityZone
        }
        guard let zone else { throw AWSCPIError(.cloudError, "create_disk needs a VM or an availability_zone") }
        var volume = properties.volume
        volume.sizeGiB = max(1, (sizeMiB + 1023) / 1024)
        var p = EC2Parameters()
        p.set("AvailabilityZone", zone)
        volume.apply(to: &p, prefix: "", sizeKey: "Size")
        p.tagSpecification("volume", [EC2Tag("created_by", "skiff")])
        let tree = try await client.call("CreateVolume", p)
        guard let volumeID = tree.string("volumeId") else {
            throw AWSCPIError(.cloudError, "CreateVolume answered without a volume id")
        }
        try await waitForVolume(volumeID, until: "available")
        return volumeID
    }

    /// `attach_disk`: attaches at the first free `/dev/sdf`…`/dev/sdp`; returns that device as the disk hint.
    /// As bosh-aws-cpi: `IncorrectState` is retried for 15 tries 1 s apart, `VolumeInUse` (a volume still held by a
    /// VM that was just deleted) for 40 tries, 1 s apart and then 15 s apart (about 10 minutes).
    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        guard let instance = try await client.describeInstances(ids: [vmCID]).first else {
            throw AWSCPIError(.vmNotFound, "VM \(vmCID) not found")
        }
        if let volume = try await client.describeVolumes(ids: [diskCID]).first,
            let existing = volume.attachments.first(where: { $0.instanceID == vmCID })
        {
            return .string(existing.device)
        }
        let used = Set(instance.blockDevices)
        guard let device = "fghijklmnop".map({ "/dev/sd\($0)" }).first(where: { !used.contains($0) }) else {
            throw AWSCPIError(.cloudError, "VM \(vmCID) has no free device name for another disk")
        }
        var p = EC2Parameters()
        p.set("VolumeId", diskCID)
        p.set("InstanceId", vmCID)
        p.set("Device", device)
        let parameters = p
        let timing = retryTiming
        do {
            try await retrying(
                "disk \(diskCID) to be attachable to \(vmCID)", codes: ["IncorrectState", "VolumeInUse"],
                tries: timing.attachTries,
                pause: { $0 < timing.fastTries ? timing.unit : timing.unit * timing.slowPause },
                stillRetry: { error, attempt in error.code == "VolumeInUse" || attempt < timing.fastTries }
            ) {
                try await client.call("AttachVolume", parameters)
            }
        } catch let error as EC2Error where error.code == "InvalidVolume.NotFound" {
            throw AWSCPIError(.diskNotFound, "disk \(diskCID) not found")
        }
        try await waitForVolume(diskCID, until: "in-use")
        return .string(device)
    }

    /// `detach_disk`: a disk not attached to the VM is `DiskNotAttached` (no call made); `IncorrectState` and
    /// `VolumeInUse` (an attachment still in progress) are retried for 15 tries 1 s apart; then waits until the
    /// volume is available again.
    public func detachDisk(vmCID: String, diskCID: String) async throws {
        let volumes: [EC2Volume]
        do {
            volumes = try await client.describeVolumes(ids: [diskCID])
        } catch let error as EC2Error where error.isNotFound || error.code == "InvalidVolume.Malformed" {
            throw AWSCPIError(.diskNotFound, "disk \(diskCID) not found")
        }
        guard let volume = volumes.first else { throw AWSCPIError(.diskNotFound, "disk \(diskCID) not found") }
        guard volume.attachments.contains(where: { $0.instanceID == vmCID }) else {
            throw AWSCPIError(.diskNotAttached, "disk \(diskCID) is not attached to VM \(vmCID)")
        }
        var p = EC2Parameters()
        p.set("VolumeId", diskCID)
        p.set("InstanceId", vmCID)
        let parameters = p
        let timing = retryTiming
        do {
            try await retrying(
                "disk \(diskCID) to be detachable from \(vmCID)", codes: ["IncorrectState", "VolumeInUse"],
                tries: timing.fastTries, pause: { _ in timing.unit }
            ) {
                try await client.call("DetachVolume", parameters)
            }
        } catch let error as EC2Error where error.code == "InvalidAttachment.NotFound" {
            throw AWSCPIError(.diskNotAttached, "disk \(diskCID) is not attached to VM \(vmCID)")
        } catch let error as EC2Error where error.isNotFound {
            throw AWSCPIError(.diskNotFound, "disk \(diskCID) not found")
        }
        try await waitForVolume(diskCID, until: "available")
    }

    /// `delete_disk`; an unknown volume is `DiskNotFound`. As bosh-aws-cpi: `VolumeInUse` (the volume of a VM
    /// that was just deleted) is retried for 40 tries, 1, 6, 11 and then 15 s apart (about 10 minutes).
    public func deleteDisk(_ cid: String) async throws {
        let timing = retryTiming
        do {
            try await retrying(
                "disk \(cid) to be released", codes: ["VolumeInUse"], tries: timing.deleteTries,
                pause: { timing.unit * min(1 + 5 * ($0 - 1), timing.slowPause) }
            ) {
                try await client.call("DeleteVolume", ["VolumeId": cid])
            }
        } catch let error as EC2Error where error.isNotFound || error.code == "InvalidVolume.Malformed" {
            throw AWSCPIError(.diskNotFound, "Disk '\(cid)' not found")
        }
    }

    /// `get_disks`: volumes attached to the VM at the persistent-disk devices (`/dev/sdf`…`/dev/sdp`).
    public func getDisks(vmCID: String) async throws -> [String] {
        let volumes = try await client.describeVolumes(filters: [EC2Filter("attachment.instance-id", vmCID)])
        let devices = Set("fghijklmnop".map { "/dev/sd\($0)" })
        return volumes.filter { volume in
            volume.attachments.contains { $0.instanceID == vmCID && devices.contains($0.device) }
        }.map(\.id).sorted()
    }

    /// `has_disk`.
    public func hasDisk(_ cid: String) async throws -> Bool {
        do {
            return try await client.describeVolumes(ids: [cid]).contains {
                $0.state != "deleting" && $0.state != "deleted"
            }
        } catch let error as EC2Error where error.isNotFound {
            return false
        }
    }

    func waitForVolume(_ volumeID: String, until state: String) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: stateWait)
        var pause = Duration.milliseconds(250)
        while true {
            let volumes = try await client.awaitingConsistency(codes: ["InvalidVolume.NotFound"]) {
                try await client.describeVolumes(ids: [volumeID])
            }
            if volumes.first?.state == state { return }
            if volumes.first?.state == "error" {
                throw AWSCPIError(.cloudError, "volume \(volumeID) is in state error")
            }
            guard clock.now < deadline else {
                throw AWSCPIError(.cloudError, "volume \(volumeID) did not become \(state) within \(stateWait)")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}

/// The retries bosh-aws-cpi makes while AWS releases an IP address or a volume, in units of ``unit`` (one second;
/// tests shrink it).
public struct CPIRetryTiming: Sendable, Hashable {
    /// The length of one pause unit.
    public var unit: Duration
    /// `InvalidIPAddress.InUse` at launch: tries, and the pause between them in units (20 tries, 30 s apart).
    public var addressInUseTries = 20
    /// See ``addressInUseTries``.
    public var addressInUsePause = 30
    /// `VolumeInUse` on attach and delete: tries (600 s / 15 s = 40).
    public var attachTries = 40
    /// See ``deleteTries``.
    public var deleteTries = 40
    /// Tries 1 unit apart: `IncorrectState` on attach and detach, and the first `VolumeInUse` retries of an attach.
    public var fastTries = 15
    /// The longest pause, in units (15).
    public var slowPause = 15

    /// bosh-aws-cpi's timing.
    public static let boshAWSCPI = CPIRetryTiming(unit: .seconds(1))

    /// Creates a timing with the given unit.
    public init(unit: Duration) { self.unit = unit }
}
