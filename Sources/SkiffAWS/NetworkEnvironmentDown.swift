/// One EC2 call of a teardown, with the error codes that mean "already done".
public struct TeardownCall: Sendable, Hashable, CustomStringConvertible {
    /// The action, e.g. `DeleteSubnet`.
    public let action: String
    /// The wire parameters.
    public let parameters: EC2Parameters
    /// Codes besides `…NotFound` that mean the call's work is already done.
    public let alreadyDone: Set<String>
    /// The resource the call acts on, for messages.
    public let resource: String

    /// `DeleteSubnet subnet-…`.
    public var description: String { "\(action) \(resource)" }
}

/// A teardown in stages: the stages run one after another, the chains inside a stage concurrently, and the calls
/// of a chain in order. The order avoids `DependencyViolation` on AWS: security groups, subnets, route tables
/// (disassociated first) and the internet gateway (detached first) go before the VPC.
public struct TeardownPlan: Sendable, Hashable {
    /// Stages of concurrent chains of calls.
    public var stages: [[[TeardownCall]]]

    /// Every call, in the order the plan would issue them if run one at a time.
    public var calls: [TeardownCall] { stages.flatMap { $0.flatMap { $0 } } }

    /// True when there is nothing to delete.
    public var isEmpty: Bool { calls.isEmpty }

    /// Builds the teardown of resources found by tag.
    public static func build(
        vpcs: [EC2Vpc], gateways: [EC2InternetGateway], subnets: [EC2Subnet], routeTables: [EC2RouteTable],
        groups: [EC2SecurityGroup]
    ) -> TeardownPlan {
        func call(_ action: String, _ resource: String, _ pairs: [(String, String)], done: Set<String> = [])
            -> TeardownCall
        {
            var parameters = EC2Parameters()
            for (key, value) in pairs { parameters.set(key, value) }
            return TeardownCall(action: action, parameters: parameters, alreadyDone: done, resource: resource)
        }
        var first: [[TeardownCall]] = []
        for group in groups {
            first.append([call("DeleteSecurityGroup", group.id, [("GroupId", group.id)])])
        }
        for table in routeTables {
            var chain = table.associations.filter { !$0.main && !$0.id.isEmpty }.map {
                call(
                    "DisassociateRouteTable", "\(table.id) (\($0.id))", [("AssociationId", $0.id)],
                    done: ["InvalidAssociationID.NotFound"])
            }
            chain.append(call("DeleteRouteTable", table.id, [("RouteTableId", table.id)]))
            first.append(chain)
        }
        for subnet in subnets {
            first.append([call("DeleteSubnet", subnet.id, [("SubnetId", subnet.id)])])
        }
        for gateway in gateways {
            var chain = gateway.attachedVPCs.map {
                call(
                    "DetachInternetGateway", "\(gateway.id) from \($0)",
                    [("InternetGatewayId", gateway.id), ("VpcId", $0)],
                    done: ["Gateway.NotAttached"])
            }
            chain.append(call("DeleteInternetGateway", gateway.id, [("InternetGatewayId", gateway.id)]))
            first.append(chain)
        }
        let last = vpcs.map { [call("DeleteVpc", $0.id, [("VpcId", $0.id)])] }
        return TeardownPlan(stages: [first, last].filter { !$0.isEmpty })
    }
}

extension NetworkEnvironment {
    /// Finds everything tagged for the environment and deletes it in dependency order, retrying
    /// `DependencyViolation`; parts already gone count as deleted. Refuses while instances still run in the VPC.
    public func down(dryRun: Bool = false, progress: @escaping @Sendable (PlanStep) -> Void = { _ in }) async throws
        -> [PlanStep]
    {
        let owner = spec.ownerFilter
        async let vpcsCall = client.describeVpcs(filters: [owner])
        async let gatewaysCall = client.describeInternetGateways(filters: [owner])
        async let subnetsCall = client.describeSubnets(filters: [owner])
        async let tablesCall = client.describeRouteTables(filters: [owner])
        async let groupsCall = client.describeSecurityGroups(filters: [owner])
        let vpcs = try await vpcsCall
        let gateways = try await gatewaysCall
        let subnets = try await subnetsCall
        let tables = try await tablesCall
        let groups = try await groupsCall

        if !vpcs.isEmpty {
            let live = try await client.describeInstances(filters: [
                EC2Filter("vpc-id", vpcs.map(\.id)),
                EC2Filter("instance-state-name", ["pending", "running", "stopping", "stopped", "shutting-down"]),
            ])
            let blocking = live.filter { $0.state != "terminated" && $0.state != "shutting-down" }
            if !blocking.isEmpty {
                throw NetworkEnvironmentError(
                    "environment '\(spec.name)' still has instances \(blocking.map(\.id).joined(separator: ", ")) "
                        + "in \(vpcs.map(\.id).joined(separator: ", ")); run skiff delete-env first")
            }
        }
        let plan = TeardownPlan.build(
            vpcs: vpcs, gateways: gateways, subnets: subnets, routeTables: tables, groups: groups)
        let steps = plan.calls.map { PlanStep(.delete, Self.kind(of: $0.action), $0.resource) }
        if dryRun { return steps }
        try await run(plan, progress: progress)
        return steps
    }

    /// Runs a teardown plan.
    public func run(_ plan: TeardownPlan, progress: @escaping @Sendable (PlanStep) -> Void = { _ in }) async throws {
        for stage in plan.stages {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chain in stage {
                    group.addTask {
                        for call in chain {
                            try await client.retryingDependency(limit: dependencyWait) {
                                try await client.idempotentDelete(
                                    call.action, call.parameters, alsoDone: call.alreadyDone)
                            }
                            progress(PlanStep(.delete, Self.kind(of: call.action), call.resource))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    static func kind(of action: String) -> String {
        switch action {
        case "DeleteSecurityGroup": "security-group"
        case "DisassociateRouteTable", "DeleteRouteTable": "route-table"
        case "DeleteSubnet": "subnet"
        case "DetachInternetGateway", "DeleteInternetGateway": "internet-gateway"
        case "DeleteVpc": "vpc"
        default: action
        }
    }
}
