import SkiffNet

/// One line of an up or down plan: a resource kind and what happens to it.
public struct PlanStep: Sendable, Hashable, CustomStringConvertible {
    /// What happens.
    public enum Action: String, Sendable, Hashable {
        case keep = "exists"
        case create
        case update
        case delete
    }

    /// The action.
    public let action: Action
    /// `vpc`, `subnet`, `internet-gateway`, `route-table`, `security-group`, …
    public let kind: String
    /// The id (for existing resources) or what will be made.
    public let detail: String

    /// Creates a step.
    public init(_ action: Action, _ kind: String, _ detail: String) {
        self.action = action
        self.kind = kind
        self.detail = detail
    }

    /// `create  vpc  10.0.0.0/16 + Amazon IPv6 /56`.
    public var description: String {
        let verb = action.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
        let noun = kind.padding(toLength: 17, withPad: " ", startingAt: 0)
        return "\(verb) \(noun) \(detail)"
    }
}

/// The outcome of `up`: the steps taken (or planned) and, when applied, the vars.
public struct UpResult: Sendable {
    /// What was (or would be) done, in order.
    public let steps: [PlanStep]
    /// The manifest vars; nil for a dry run that would create the subnet or group.
    public let vars: NetworkEnvironmentVars?
    /// The VPC id, when it exists.
    public let vpcID: String?
}

/// A problem with the environment found in AWS itself: duplicates, a changed zone, a missing IPv6 block.
public struct NetworkEnvironmentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong and what to do.
    public let message: String

    /// Creates the error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// Builds and removes the IPv6 network `skiff aws up` makes: VPC with an Amazon /56, a dual-stack subnet, an
/// internet gateway, routes for `0.0.0.0/0` and `::/0`, and a security group. Resources are found again by
/// their `skiff:env` tag, so every run converges instead of duplicating.
public struct NetworkEnvironment: Sendable {
    /// The EC2 client.
    public let client: EC2Client
    /// What to build.
    public let spec: NetworkEnvironmentSpec
    /// How long to wait for AWS to associate the VPC's IPv6 block.
    public var ipv6Wait: Duration = .seconds(120)
    /// How long to keep retrying `DependencyViolation` while deleting.
    public var dependencyWait: Duration = .seconds(300)

    /// Creates the builder.
    public init(client: EC2Client, spec: NetworkEnvironmentSpec) {
        self.client = client
        self.spec = spec
    }

    /// What exists now, found by tags.
    struct Found: Sendable {
        var vpc: EC2Vpc?
        var gateways: [EC2InternetGateway]
        var subnets: [EC2Subnet] = []
        var routeTables: [EC2RouteTable] = []
        var groups: [EC2SecurityGroup] = []
    }

    func discover() async throws -> Found {
        let owner = spec.ownerFilter
        async let vpcsCall = client.describeVpcs(filters: [owner])
        async let gatewaysCall = client.describeInternetGateways(filters: [owner])
        let vpcs = try await vpcsCall
        let gateways = try await gatewaysCall
        guard vpcs.count <= 1 else {
            throw NetworkEnvironmentError(
                "found \(vpcs.count) VPCs tagged \(NetworkEnvironmentSpec.envTag)=\(spec.name) "
                    + "(\(vpcs.map(\.id).joined(separator: ", "))); delete the extra ones first")
        }
        guard gateways.count <= 1 else {
            throw NetworkEnvironmentError(
                "found \(gateways.count) internet gateways tagged \(NetworkEnvironmentSpec.envTag)=\(spec.name) "
                    + "(\(gateways.map(\.id).joined(separator: ", "))); delete the extra ones first")
        }
        var found = Found(vpc: vpcs.first, gateways: gateways)
        guard let vpc = vpcs.first else { return found }
        let inVPC = EC2Filter("vpc-id", vpc.id)
        async let subnetsCall = client.describeSubnets(filters: [owner, inVPC])
        async let tablesCall = client.describeRouteTables(filters: [owner, inVPC])
        async let groupsCall = client.describeSecurityGroups(filters: [owner, inVPC])
        found.subnets = try await subnetsCall
        found.routeTables = try await tablesCall
        found.groups = try await groupsCall
        return found
    }

    /// Creates what is missing (or, with `dryRun`, only says what it would create; no mutating call is made).
    ///
    /// Every argument is checked against what AWS says before the first mutating call: the region exists and is
    /// enabled for the account, the zone is one of the region's, an existing subnet is in that zone.
    public func up(dryRun: Bool = false, progress: @Sendable (PlanStep) -> Void = { _ in }) async throws -> UpResult {
        async let regionCheck: Void = validateRegion()
        let found: Found
        do {
            found = try await discover()
        } catch {
            try await regionCheck  // a region that does not exist explains the failure better
            throw error
        }
        try await regionCheck
        let zone = try await validateZone(found)
        if dryRun { return plan(found, zone: zone) }

        var steps: [PlanStep] = []
        func note(_ step: PlanStep) {
            steps.append(step)
            progress(step)
        }

        // VPC and internet gateway: independent, made concurrently.
        async let gatewayTask = ensureGateway(found.gateways.first)
        let vpc: EC2Vpc
        if let existing = found.vpc {
            vpc = existing
            note(PlanStep(.keep, "vpc", vpc.id))
        } else {
            vpc = try await client.createVpc(cidr: spec.vpcCIDR, tags: spec.tags("vpc"))
            note(PlanStep(.create, "vpc", "\(vpc.id) \(spec.vpcCIDR)"))
        }
        let gateway = try await gatewayTask
        note(PlanStep(found.gateways.isEmpty ? .create : .keep, "internet-gateway", gateway.id))

        // Three independent branches: the IPv6 block and then the subnet carved from it; the security group; the
        // gateway attachment and then the route table's routes through it.
        let vpcID = vpc.id
        async let subnetTask = ensureIPv6AndSubnet(found.subnets, vpc: vpc, zone: zone)
        async let groupTask = ensureSecurityGroup(found.groups, vpcID: vpcID)
        async let tableTask = ensureRouteTable(found.routeTables, vpcID: vpcID, gateway: gateway)
        let (subnet, subnetSteps) = try await subnetTask
        let (groupID, groupSteps) = try await groupTask
        let (table, tableSteps) = try await tableTask
        for step in subnetSteps + groupSteps + tableSteps { note(step) }

        if !table.associations.contains(where: { $0.subnetID == subnet.id }) {
            try await client.awaitingConsistency {
                try await client.associateRouteTable(table.id, subnetID: subnet.id)
            }
            note(PlanStep(.update, "route-table", "\(table.id) associated with \(subnet.id)"))
        }

        guard let cidr = subnet.cidr, let ipv6 = subnet.ipv6Block else {
            throw NetworkEnvironmentError("subnet \(subnet.id) has no IPv4 or IPv6 block; run skiff aws down and up")
        }
        let vars = try NetworkEnvironmentVars(
            region: client.settings.region, zone: subnet.availabilityZone, subnetID: subnet.id,
            securityGroupID: groupID, internalCIDR: cidr, ipv6CIDR: ipv6)
        return UpResult(steps: steps, vars: vars, vpcID: vpcID)
    }

    func ensureGateway(_ existing: EC2InternetGateway?) async throws -> EC2InternetGateway {
        if let existing { return existing }
        return try await client.createInternetGateway(tags: spec.tags("igw"))
    }

    func attach(_ gateway: EC2InternetGateway, to vpcID: String) async throws -> PlanStep? {
        guard !gateway.attachedVPCs.contains(vpcID) else { return nil }
        try await client.awaitingConsistency(codes: ["InvalidInternetGatewayID.NotFound", "InvalidVpcID.NotFound"]) {
            try await client.attachInternetGateway(gateway.id, vpcID: vpcID)
        }
        return PlanStep(.update, "internet-gateway", "\(gateway.id) attached to \(vpcID)")
    }

    /// Refuses a region EC2 does not list, or one the account has not opted in to.
    func validateRegion() async throws {
        let region = client.settings.region
        let regions: [String: String]
        do {
            regions = try await client.regions()
        } catch let error as EC2Error where error.status >= 500 {
            throw NetworkEnvironmentError(
                "region \(region) is not served by \(client.settings.endpoint) (\(error)); check --region")
        } catch let error as EC2Error where error.code == "UnauthorizedOperation" {
            return  // keys without ec2:DescribeRegions: the zone check and the endpoint still catch a bad region
        }
        guard !regions.isEmpty else { return }
        guard let status = regions[region] else {
            throw NetworkEnvironmentError(
                "region \(region) does not exist; EC2 lists \(regions.keys.sorted().joined(separator: ", "))")
        }
        if status == "not-opted-in" {
            throw NetworkEnvironmentError(
                "region \(region) is not enabled for this account; enable it in the AWS console first")
        }
    }

    /// The zone the subnet is (or will be) in: `--az`, checked to be one of the region's zones and the zone of an
    /// existing subnet; or the region's first zone. Read-only.
    func validateZone(_ found: Found) async throws -> String {
        if let subnet = found.subnets.first {
            if let zone = spec.zone, zone != subnet.availabilityZone {
                throw NetworkEnvironmentError(
                    "subnet \(subnet.id) of environment '\(spec.name)' is in \(subnet.availabilityZone), not \(zone); "
                        + "run skiff aws down --name \(spec.name) first to move it")
            }
            return subnet.availabilityZone
        }
        let zones = try await client.availabilityZones()
        if let wanted = spec.zone {
            guard zones.contains(wanted) else {
                throw NetworkEnvironmentError(
                    "availability zone '\(wanted)' is not in region \(client.settings.region); its zones are "
                        + (zones.isEmpty ? "none available" : zones.joined(separator: ", ")))
            }
            return wanted
        }
        guard let first = zones.first else {
            throw NetworkEnvironmentError("region \(client.settings.region) has no available zone")
        }
        return first
    }

    func ensureIPv6AndSubnet(_ existing: [EC2Subnet], vpc: EC2Vpc, zone: String) async throws
        -> (EC2Subnet, [PlanStep])
    {
        var current = vpc
        var steps: [PlanStep] = []
        let block = try await ensureIPv6(&current) { steps.append($0) }
        let (subnet, subnetSteps) = try await ensureSubnet(existing, vpcID: vpc.id, block: block, zone: zone)
        return (subnet, steps + subnetSteps)
    }

    /// Waits until the VPC's Amazon IPv6 block is associated (asking for one if the VPC has none).
    func ensureIPv6(_ vpc: inout EC2Vpc, progress: (PlanStep) -> Void) async throws -> String {
        if let block = vpc.ipv6Block { return block.description }
        let vpcID = vpc.id
        if !vpc.ipv6.contains(where: { $0.state == "associating" || $0.state == "associated" }) {
            try await client.awaitingConsistency { try await client.associateAmazonIPv6(vpcID: vpcID) }
            progress(PlanStep(.update, "vpc", "\(vpcID) asked for an Amazon-provided IPv6 /56"))
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: ipv6Wait)
        var pause = Duration.milliseconds(200)
        while true {
            let current = try await client.awaitingConsistency { try await client.describeVpcs(ids: [vpcID]) }
            if let fresh = current.first {
                vpc = fresh
                if let block = fresh.ipv6Block { return block.description }
                if fresh.ipv6.contains(where: { $0.state == "failed" || $0.state == "failing" }) {
                    throw NetworkEnvironmentError("AWS failed to associate an IPv6 block with \(vpcID)")
                }
            }
            guard clock.now < deadline else {
                throw NetworkEnvironmentError(
                    "the IPv6 block of \(vpcID) was not associated within \(ipv6Wait); run skiff aws up again")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    func ensureSubnet(_ existing: [EC2Subnet], vpcID: String, block: String, zone: String) async throws
        -> (EC2Subnet, [PlanStep])
    {
        if let subnet = existing.first {
            var steps = [PlanStep(.keep, "subnet", subnet.id)]
            if !subnet.assignIPv6OnCreation {
                try await client.setAssignIPv6OnCreation(subnetID: subnet.id, true)
                steps.append(PlanStep(.update, "subnet", "\(subnet.id) assigns IPv6 on launch"))
            }
            return (subnet, steps)
        }
        let ipv6 = try Self.carve(block, index: spec.ipv6SubnetIndex)
        let subnet = try await client.awaitingConsistency(codes: ["InvalidVpcID.NotFound"]) {
            try await client.createSubnet(
                vpcID: vpcID, cidr: spec.subnetCIDR, ipv6: ipv6, zone: zone, tags: spec.tags("subnet"))
        }
        try await client.awaitingConsistency(codes: ["InvalidSubnetID.NotFound"]) {
            try await client.setAssignIPv6OnCreation(subnetID: subnet.id, true)
        }
        return (subnet, [PlanStep(.create, "subnet", "\(subnet.id) \(spec.subnetCIDR) \(ipv6) in \(zone)")])
    }

    /// The `index`-th /64 of the VPC's /56, as canonical text, checked against AWS's subnet rules.
    static func carve(_ block: String, index: UInt128) throws -> String {
        let parent = try IPNetwork<IPv6Address>(parsing: block)
        let subnet = try parent.subnet(length: 64, index: index)
        try ReservationPolicy.aws.validate(subnet: subnet)
        return subnet.description
    }

    func ensureSecurityGroup(_ existing: [EC2SecurityGroup], vpcID: String) async throws -> (String, [PlanStep]) {
        var steps: [PlanStep] = []
        let groupID: String
        var current: [EC2Permission] = []
        var egress: [EC2Permission] = []
        if let group = existing.first {
            groupID = group.id
            current = group.ingress
            egress = group.egress
            steps.append(PlanStep(.keep, "security-group", group.id))
        } else {
            groupID = try await client.awaitingConsistency(codes: ["InvalidVpcID.NotFound"]) {
                try await client.createSecurityGroup(
                    name: spec.securityGroupName, description: "skiff environment \(spec.name)", vpcID: vpcID,
                    tags: spec.tags("sg"))
            }
            steps.append(PlanStep(.create, "security-group", "\(groupID) \(spec.securityGroupName)"))
        }
        let missing = IngressRules.missing(spec.ingress.permissions, existing: current)
        if !missing.isEmpty {
            try await client.awaitingConsistency(codes: ["InvalidGroup.NotFound"]) {
                try await client.authorizeIngress(groupID: groupID, missing)
            }
            steps.append(PlanStep(.update, "security-group", "\(groupID) ingress \(Self.describe(missing))"))
        }
        // Rules no longer asked for (an earlier --ingress) are closed: the group opens the requested ports only.
        let extra = IngressRules.missing(current, existing: spec.ingress.permissions)
        if !extra.isEmpty {
            try await client.revokeIngress(groupID: groupID, extra)
            steps.append(PlanStep(.update, "security-group", "\(groupID) closed \(Self.describe(extra))"))
        }
        // A new group lets out IPv4 only; IPv6 egress is explicit.
        if existing.first == nil {
            egress = try await client.awaitingConsistency(codes: ["InvalidGroup.NotFound"]) {
                try await client.describeSecurityGroups(ids: [groupID]).first?.egress ?? []
            }
        }
        let missingEgress = IngressRules.missing(Self.egress, existing: egress)
        if !missingEgress.isEmpty {
            try await client.awaitingConsistency(codes: ["InvalidGroup.NotFound"]) {
                try await client.authorizeEgress(groupID: groupID, missingEgress)
            }
            steps.append(PlanStep(.update, "security-group", "\(groupID) egress \(Self.describe(missingEgress))"))
        }
        return (groupID, steps)
    }

    /// Attaches the gateway (concurrently with making the route table), then adds the routes through it: a route
    /// to a gateway that is not yet attached to the VPC is refused by AWS.
    func ensureRouteTable(_ existing: [EC2RouteTable], vpcID: String, gateway: EC2InternetGateway) async throws
        -> (EC2RouteTable, [PlanStep])
    {
        let gatewayID = gateway.id
        var steps: [PlanStep] = []
        async let attachTask = attach(gateway, to: vpcID)
        let table: EC2RouteTable
        if let found = existing.first {
            table = found
            steps.append(PlanStep(.keep, "route-table", found.id))
        } else {
            table = try await client.awaitingConsistency(codes: ["InvalidVpcID.NotFound"]) {
                try await client.createRouteTable(
                    vpcID: vpcID, clientToken: "skiff-\(spec.name)-\(vpcID)-rtb", tags: spec.tags("rtb"))
            }
            steps.append(PlanStep(.create, "route-table", table.id))
        }
        if let attached = try await attachTask { steps.insert(attached, at: 0) }
        let wanted = ["0.0.0.0/0", "::/0"]
        let tableID = table.id
        try await withThrowingTaskGroup(of: Void.self) { group in
            for destination in wanted
            where !table.routes.contains(where: {
                $0.destination == destination && $0.gatewayID == gatewayID
            }) {
                steps.append(PlanStep(.update, "route-table", "\(tableID) route \(destination) -> \(gatewayID)"))
                group.addTask {
                    try await client.awaitingConsistency(
                        codes: ["InvalidRouteTableID.NotFound", "InvalidGatewayID.NotFound"]
                    ) {
                        try await client.createRoute(
                            routeTableID: tableID, destination: destination, gatewayID: gatewayID)
                    }
                }
            }
            try await group.waitForAll()
        }
        return (table, steps)
    }

    /// The group's egress: everything, to `0.0.0.0/0` and `::/0`.
    static let egress = [
        EC2Permission(ipProtocol: "-1", fromPort: nil, toPort: nil, ipv4Ranges: ["0.0.0.0/0"], ipv6Ranges: ["::/0"])
    ]

    static func describe(_ permissions: [EC2Permission]) -> String {
        permissions.map { rule in
            let ports: String
            switch (rule.ipProtocol, rule.fromPort, rule.toPort) {
            case ("-1", _, _): ports = "all"
            case ("icmpv6", _, _): ports = "icmpv6"
            case (let proto, let from?, let to?) where from == to: ports = "\(proto)/\(from)"
            case (let proto, let from?, let to?): ports = "\(proto)/\(from)-\(to)"
            default: ports = rule.ipProtocol
            }
            return "\(ports) from \((rule.ipv4Ranges + rule.ipv6Ranges).joined(separator: ","))"
        }.joined(separator: "; ")
    }

    /// The dry-run plan for what `found` lacks.
    func plan(_ found: Found, zone: String) -> UpResult {
        var steps: [PlanStep] = []
        if let vpc = found.vpc {
            steps.append(PlanStep(.keep, "vpc", vpc.id))
            if vpc.ipv6Block == nil {
                steps.append(PlanStep(.update, "vpc", "\(vpc.id) add an Amazon-provided IPv6 /56"))
            }
        } else {
            steps.append(PlanStep(.create, "vpc", "\(spec.vpcCIDR) + Amazon-provided IPv6 /56"))
        }
        if let gateway = found.gateways.first {
            steps.append(PlanStep(.keep, "internet-gateway", gateway.id))
            if let vpc = found.vpc, !gateway.attachedVPCs.contains(vpc.id) {
                steps.append(PlanStep(.update, "internet-gateway", "\(gateway.id) attach to \(vpc.id)"))
            }
        } else {
            steps.append(PlanStep(.create, "internet-gateway", "attached to the VPC"))
        }
        let ipv6Text =
            found.vpc?.ipv6Block.flatMap { try? $0.subnet(length: 64, index: spec.ipv6SubnetIndex) }
            .map(\.description) ?? "/64 #\(spec.ipv6SubnetIndex) of the VPC's /56"
        if let subnet = found.subnets.first {
            steps.append(PlanStep(.keep, "subnet", subnet.id))
        } else {
            steps.append(PlanStep(.create, "subnet", "\(spec.subnetCIDR) \(ipv6Text) in \(zone)"))
        }
        if let table = found.routeTables.first {
            steps.append(PlanStep(.keep, "route-table", table.id))
        } else {
            steps.append(PlanStep(.create, "route-table", "0.0.0.0/0 and ::/0 via the internet gateway"))
        }
        let current = found.groups.first?.ingress ?? []
        if let group = found.groups.first {
            steps.append(PlanStep(.keep, "security-group", group.id))
        } else {
            steps.append(PlanStep(.create, "security-group", spec.securityGroupName))
        }
        let missing = IngressRules.missing(spec.ingress.permissions, existing: current)
        if !missing.isEmpty {
            steps.append(PlanStep(.update, "security-group", "ingress \(Self.describe(missing))"))
        }
        let extra = IngressRules.missing(current, existing: spec.ingress.permissions)
        if !extra.isEmpty {
            steps.append(PlanStep(.update, "security-group", "close \(Self.describe(extra))"))
        }
        let missingEgress = IngressRules.missing(Self.egress, existing: found.groups.first?.egress ?? [])
        if !missingEgress.isEmpty {
            steps.append(PlanStep(.update, "security-group", "egress \(Self.describe(missingEgress))"))
        }
        var vars: NetworkEnvironmentVars?
        if let subnet = found.subnets.first, let group = found.groups.first, let cidr = subnet.cidr,
            let ipv6 = subnet.ipv6Block
        {
            vars = try? NetworkEnvironmentVars(
                region: client.settings.region, zone: subnet.availabilityZone, subnetID: subnet.id,
                securityGroupID: group.id, internalCIDR: cidr, ipv6CIDR: ipv6)
        }
        return UpResult(steps: steps, vars: vars, vpcID: found.vpc?.id)
    }
}
