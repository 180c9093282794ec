import SkiffNet

/// Typed EC2 actions. Each builds the wire parameters of the EC2 Query API (2016-11-15) and decodes the answer.
extension EC2Client {
    // MARK: Describe

    /// `DescribeVpcs` by ids and filters.
    public func describeVpcs(ids: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2Vpc] {
        var p = EC2Parameters()
        p.list("VpcId", ids)
        p.filters(filters)
        return try await call("DescribeVpcs", p).items("vpcSet").map(EC2Vpc.init(decoding:))
    }

    /// `DescribeSubnets` by ids and filters.
    public func describeSubnets(ids: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2Subnet] {
        var p = EC2Parameters()
        p.list("SubnetId", ids)
        p.filters(filters)
        return try await call("DescribeSubnets", p).items("subnetSet").map(EC2Subnet.init(decoding:))
    }

    /// `DescribeInternetGateways` by filters.
    public func describeInternetGateways(filters: [EC2Filter]) async throws -> [EC2InternetGateway] {
        var p = EC2Parameters()
        p.filters(filters)
        return try await call("DescribeInternetGateways", p).items("internetGatewaySet").map(
            EC2InternetGateway.init(decoding:))
    }

    /// `DescribeRouteTables` by filters.
    public func describeRouteTables(filters: [EC2Filter]) async throws -> [EC2RouteTable] {
        var p = EC2Parameters()
        p.filters(filters)
        return try await call("DescribeRouteTables", p).items("routeTableSet").map(EC2RouteTable.init(decoding:))
    }

    /// `DescribeSecurityGroups` by ids and filters.
    public func describeSecurityGroups(ids: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2SecurityGroup]
    {
        var p = EC2Parameters()
        p.list("GroupId", ids)
        p.filters(filters)
        return try await call("DescribeSecurityGroups", p).items("securityGroupInfo").map(
            EC2SecurityGroup.init(decoding:))
    }

    /// `DescribeInstances` by ids and filters, flattening reservations.
    public func describeInstances(ids: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2Instance] {
        var p = EC2Parameters()
        p.list("InstanceId", ids)
        p.filters(filters)
        let tree = try await call("DescribeInstances", p)
        return tree.items("reservationSet").flatMap { $0.items("instancesSet").map(EC2Instance.init(decoding:)) }
    }

    /// `DescribeAddresses` by filters.
    public func describeAddresses(allocationIDs: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2Address]
    {
        var p = EC2Parameters()
        p.list("AllocationId", allocationIDs)
        p.filters(filters)
        return try await call("DescribeAddresses", p).items("addressesSet").map(EC2Address.init(decoding:))
    }

    /// `DescribeVolumes` by ids.
    public func describeVolumes(ids: [String] = [], filters: [EC2Filter] = []) async throws -> [EC2Volume] {
        var p = EC2Parameters()
        p.list("VolumeId", ids)
        p.filters(filters)
        return try await call("DescribeVolumes", p).items("volumeSet").map(EC2Volume.init(decoding:))
    }

    /// `DescribeImages` by ids, owners and filters.
    public func describeImages(ids: [String] = [], owners: [String] = [], filters: [EC2Filter] = []) async throws
        -> [EC2Image]
    {
        var p = EC2Parameters()
        p.list("ImageId", ids)
        p.list("Owner", owners)
        p.filters(filters)
        return try await call("DescribeImages", p).items("imagesSet").map(EC2Image.init(decoding:))
    }

    /// `DescribeInstanceTypes` for the given types.
    public func describeInstanceTypes(_ types: [String]) async throws -> [EC2InstanceTypeInfo] {
        var p = EC2Parameters()
        p.list("InstanceType", types)
        return try await call("DescribeInstanceTypes", p).items("instanceTypeSet").map(
            EC2InstanceTypeInfo.init(decoding:))
    }

    /// `DescribeAvailabilityZones`: the names of the region's available zones (not Local or Wavelength Zones), sorted.
    public func availabilityZones() async throws -> [String] {
        var p = EC2Parameters()
        p.filters([EC2Filter("state", "available")])
        let tree = try await call("DescribeAvailabilityZones", p)
        // Local Zones and Wavelength Zones (opted into) sort before the region's own zones; leave them out.
        return tree.items("availabilityZoneInfo")
            .filter { ($0.string("zoneType") ?? "availability-zone") == "availability-zone" }
            .compactMap { $0.string("zoneName") }.sorted()
    }

    // MARK: Network

    /// `CreateVpc` with an IPv4 block and an Amazon-provided IPv6 /56, tagged at creation.
    public func createVpc(cidr: IPNetwork<IPv4Address>, tags: [EC2Tag]) async throws -> EC2Vpc {
        var p = EC2Parameters()
        p.set("CidrBlock", cidr.description)
        p.set("AmazonProvidedIpv6CidrBlock", true)
        p.tagSpecification("vpc", tags)
        return EC2Vpc(decoding: try await call("CreateVpc", p).child("vpc") ?? XMLTree(name: "vpc"))
    }

    /// `AssociateVpcCidrBlock` asking for an Amazon-provided IPv6 /56.
    public func associateAmazonIPv6(vpcID: String) async throws {
        var p = EC2Parameters()
        p.set("VpcId", vpcID)
        p.set("AmazonProvidedIpv6CidrBlock", true)
        try await call("AssociateVpcCidrBlock", p)
    }

    /// `CreateSubnet` with an IPv4 and an IPv6 block in one zone.
    ///
    /// The IPv6 block is passed as canonical text: values holding `UInt128` are kept out of async call frames,
    /// which a Swift 6.3 debug build on Linux miscompiles (see the report in the package notes).
    public func createSubnet(
        vpcID: String, cidr: IPNetwork<IPv4Address>, ipv6: String, zone: String, tags: [EC2Tag]
    ) async throws -> EC2Subnet {
        var p = EC2Parameters()
        p.set("VpcId", vpcID)
        p.set("CidrBlock", cidr.description)
        p.set("Ipv6CidrBlock", ipv6)
        p.set("AvailabilityZone", zone)
        p.tagSpecification("subnet", tags)
        return EC2Subnet(decoding: try await call("CreateSubnet", p).child("subnet") ?? XMLTree(name: "subnet"))
    }

    /// `ModifySubnetAttribute AssignIpv6AddressOnCreation.Value=…` (one attribute per call, as AWS requires).
    public func setAssignIPv6OnCreation(subnetID: String, _ value: Bool) async throws {
        var p = EC2Parameters()
        p.set("SubnetId", subnetID)
        p.set("AssignIpv6AddressOnCreation.Value", value)
        try await call("ModifySubnetAttribute", p)
    }

    /// `CreateInternetGateway`, tagged.
    public func createInternetGateway(tags: [EC2Tag]) async throws -> EC2InternetGateway {
        var p = EC2Parameters()
        p.tagSpecification("internet-gateway", tags)
        let tree = try await call("CreateInternetGateway", p)
        return EC2InternetGateway(decoding: tree.child("internetGateway") ?? XMLTree(name: "internetGateway"))
    }

    /// `AttachInternetGateway`; an already attached gateway counts as done.
    public func attachInternetGateway(_ gatewayID: String, vpcID: String) async throws {
        var p = EC2Parameters()
        p.set("InternetGatewayId", gatewayID)
        p.set("VpcId", vpcID)
        do {
            try await call("AttachInternetGateway", p)
        } catch let error as EC2Error where error.code == "Resource.AlreadyAssociated" {
            return
        }
    }

    /// `CreateRouteTable` in a VPC, tagged, with an idempotency token.
    public func createRouteTable(vpcID: String, clientToken: String?, tags: [EC2Tag]) async throws -> EC2RouteTable {
        var p = EC2Parameters()
        p.set("VpcId", vpcID)
        p.set("ClientToken", clientToken)
        p.tagSpecification("route-table", tags)
        return EC2RouteTable(
            decoding: try await call("CreateRouteTable", p).child("routeTable") ?? XMLTree(name: "routeTable"))
    }

    /// `CreateRoute` to a gateway for an IPv4 or IPv6 destination; an existing route counts as done.
    /// The destination is canonical prefix text (`0.0.0.0/0`, `::/0`); see ``createSubnet(vpcID:cidr:ipv6:zone:tags:)``
    /// for why it is text.
    public func createRoute(routeTableID: String, destination: String, gatewayID: String) async throws {
        var p = EC2Parameters()
        p.set("RouteTableId", routeTableID)
        p.set(destination.contains(":") ? "DestinationIpv6CidrBlock" : "DestinationCidrBlock", destination)
        p.set("GatewayId", gatewayID)
        do {
            try await call("CreateRoute", p)
        } catch let error as EC2Error where error.code == "RouteAlreadyExists" {
            return
        }
    }

    /// `AssociateRouteTable` with a subnet; returns the association id.
    @discardableResult
    public func associateRouteTable(_ routeTableID: String, subnetID: String) async throws -> String {
        var p = EC2Parameters()
        p.set("RouteTableId", routeTableID)
        p.set("SubnetId", subnetID)
        return try await call("AssociateRouteTable", p).string("associationId") ?? ""
    }

    /// `CreateSecurityGroup` in a VPC, tagged; returns the group id.
    public func createSecurityGroup(name: String, description: String, vpcID: String, tags: [EC2Tag]) async throws
        -> String
    {
        var p = EC2Parameters()
        p.set("GroupName", name)
        p.set("GroupDescription", description)
        p.set("VpcId", vpcID)
        p.tagSpecification("security-group", tags)
        return try await call("CreateSecurityGroup", p).string("groupId") ?? ""
    }

    /// The wire parameters of `AuthorizeSecurityGroupIngress` for `permissions`.
    public static func ingressParameters(groupID: String, _ permissions: [EC2Permission]) -> EC2Parameters {
        var p = EC2Parameters()
        p.set("GroupId", groupID)
        for (index, permission) in permissions.enumerated() {
            let prefix = "IpPermissions.\(index + 1)"
            p.set("\(prefix).IpProtocol", permission.ipProtocol)
            p.set("\(prefix).FromPort", permission.fromPort)
            p.set("\(prefix).ToPort", permission.toPort)
            p.list("\(prefix).IpRanges", permission.ipv4Ranges, suffix: "CidrIp")
            p.list("\(prefix).Ipv6Ranges", permission.ipv6Ranges, suffix: "CidrIpv6")
        }
        return p
    }

    /// `AuthorizeSecurityGroupIngress`; rules that already exist count as done.
    public func authorizeIngress(groupID: String, _ permissions: [EC2Permission]) async throws {
        guard !permissions.isEmpty else { return }
        do {
            try await call("AuthorizeSecurityGroupIngress", Self.ingressParameters(groupID: groupID, permissions))
        } catch let error as EC2Error where error.code == "InvalidPermission.Duplicate" {
            return
        }
    }

    /// `AuthorizeSecurityGroupEgress`; rules that already exist count as done.
    public func authorizeEgress(groupID: String, _ permissions: [EC2Permission]) async throws {
        guard !permissions.isEmpty else { return }
        do {
            try await call("AuthorizeSecurityGroupEgress", Self.ingressParameters(groupID: groupID, permissions))
        } catch let error as EC2Error where error.code == "InvalidPermission.Duplicate" {
            return
        }
    }

    /// `DescribeRegions` with every region, opted in or not: name to opt-in status (`opt-in-not-required`,
    /// `opted-in`, `not-opted-in`).
    public func regions() async throws -> [String: String] {
        let tree = try await call("DescribeRegions", ["AllRegions": "true"])
        var regions: [String: String] = [:]
        for item in tree.items("regionInfo") {
            if let name = item.string("regionName") { regions[name] = item.string("optInStatus") ?? "" }
        }
        return regions
    }

    /// `RevokeSecurityGroupIngress`; rules already gone count as done.
    public func revokeIngress(groupID: String, _ permissions: [EC2Permission]) async throws {
        guard !permissions.isEmpty else { return }
        do {
            try await call("RevokeSecurityGroupIngress", Self.ingressParameters(groupID: groupID, permissions))
        } catch let error as EC2Error where error.code == "InvalidPermission.NotFound" {
            return
        }
    }

    // MARK: Deletes (a missing resource counts as deleted)

    /// Runs a delete-style call; `…NotFound` and the given extra codes mean the work is already done.
    public func idempotentDelete(_ action: String, _ parameters: EC2Parameters, alsoDone: Set<String> = [])
        async throws
    {
        do {
            try await call(action, parameters)
        } catch let error as EC2Error where error.isNotFound || alsoDone.contains(error.code) {
            return
        }
    }

    /// Runs `body` while it fails with `DependencyViolation` (or another code in `codes`), backing off up to
    /// `limit`: AWS frees network interfaces and mappings a while after their owners go.
    public func retryingDependency(
        limit: Duration, codes: Set<String> = ["DependencyViolation"], _ body: () async throws -> Void
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as EC2Error where codes.contains(error.code) {
                let pause = retry.delay(forRetry: min(attempt, 6))
                guard clock.now.advanced(by: pause) < deadline else { throw error }
                try await Task.sleep(for: pause)
                attempt += 1
            }
        }
    }

    /// `CreateTags` on resources.
    public func createTags(_ resourceIDs: [String], _ tags: [EC2Tag]) async throws {
        guard !resourceIDs.isEmpty, !tags.isEmpty else { return }
        var p = EC2Parameters()
        p.list("ResourceId", resourceIDs)
        for (index, tag) in tags.enumerated() {
            p.set("Tag.\(index + 1).Key", tag.key)
            p.set("Tag.\(index + 1).Value", tag.value)
        }
        try await call("CreateTags", p)
    }
}
