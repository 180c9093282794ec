import Foundation
import SkiffAWS
import SkiffNet
import Testing

@Suite("teardown order and DependencyViolation")
struct TeardownTests {
    static func tree(_ xml: String) -> XMLTree { XMLTree.parse(Array(xml.utf8)) ?? XMLTree(name: "none") }

    @Test(
        "the plan deletes the VPC last, disassociates before deleting the route table, detaches before deleting the gateway"
    )
    func order() throws {
        let vpc = EC2Vpc(decoding: Self.tree("<item><vpcId>vpc-1</vpcId><state>available</state></item>"))
        let gateway = EC2InternetGateway(
            decoding: Self.tree(
                "<item><internetGatewayId>igw-1</internetGatewayId><attachmentSet><item><vpcId>vpc-1</vpcId>"
                    + "<state>available</state></item></attachmentSet></item>"))
        let subnet = EC2Subnet(decoding: Self.tree("<item><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId></item>"))
        let table = EC2RouteTable(
            decoding: Self.tree(
                "<item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId><associationSet>"
                    + "<item><routeTableAssociationId>rtbassoc-1</routeTableAssociationId><subnetId>subnet-1</subnetId>"
                    + "<main>false</main></item></associationSet></item>"))
        let group = EC2SecurityGroup(decoding: Self.tree("<item><groupId>sg-1</groupId><vpcId>vpc-1</vpcId></item>"))
        let plan = TeardownPlan.build(
            vpcs: [vpc], gateways: [gateway], subnets: [subnet], routeTables: [table], groups: [group])
        #expect(plan.stages.count == 2)
        #expect(plan.stages.last?.flatMap { $0 }.map(\.action) == ["DeleteVpc"])
        let actions = plan.calls.map(\.action)
        #expect(actions.last == "DeleteVpc")
        for (before, after) in [
            ("DisassociateRouteTable", "DeleteRouteTable"), ("DetachInternetGateway", "DeleteInternetGateway"),
            ("DeleteSubnet", "DeleteVpc"), ("DeleteSecurityGroup", "DeleteVpc"),
        ] {
            let first = try #require(actions.firstIndex(of: before))
            let second = try #require(actions.firstIndex(of: after))
            #expect(first < second, "\(before) must come before \(after)")
        }
        // Chains keep their inner order even when stages run concurrently.
        let tableChain = try #require(plan.stages.first?.first { $0.contains { $0.action == "DeleteRouteTable" } })
        #expect(tableChain.map(\.action) == ["DisassociateRouteTable", "DeleteRouteTable"])
        #expect(tableChain.first?.parameters["AssociationId"] == "rtbassoc-1")
        let detach = try #require(plan.calls.first { $0.action == "DetachInternetGateway" })
        #expect(detach.alreadyDone.contains("Gateway.NotAttached"))
        #expect(detach.parameters["VpcId"] == "vpc-1")
        #expect(TeardownPlan.build(vpcs: [], gateways: [], subnets: [], routeTables: [], groups: []).isEmpty)
    }

    @Test("down retries DependencyViolation until AWS lets go, and treats parts already gone as deleted")
    func dependencyViolationRetried() async throws {
        try await withMoto { moto in
            let client = moto.client()
            var environment = NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "dv"))
            environment.dependencyWait = .seconds(5)
            _ = try await environment.up()
            // What real AWS answers while ENIs of terminated instances linger (moto never does).
            try await moto.inject([
                Fault(action: "DeleteSubnet", status: 400, code: "DependencyViolation", times: 2),
                Fault(action: "DeleteVpc", status: 400, code: "DependencyViolation", times: 1),
                Fault(action: "DeleteSecurityGroup", status: 400, code: "InvalidGroup.NotFound", times: 1),
            ])
            try await moto.resetLog()
            _ = try await environment.down()
            let log = try await moto.log()
            #expect(log.filter { $0.action == "DeleteSubnet" }.count == 3)
            #expect(log.filter { $0.action == "DeleteVpc" }.count == 2)
            #expect(log.filter { $0.action == "DeleteSecurityGroup" }.count == 1)
            let vpcDeletes = log.indices.filter { log[$0].action == "DeleteVpc" }
            let lastSubnetDelete = try #require(log.lastIndex { $0.action == "DeleteSubnet" })
            #expect(vpcDeletes.allSatisfy { $0 > lastSubnetDelete })
            #expect(try await client.describeVpcs(filters: [environment.spec.ownerFilter]).isEmpty)
        }
    }

    @Test("down refuses while instances run in the VPC, and gives up on a lasting DependencyViolation")
    func refusesAndGivesUp() async throws {
        try await withMoto { moto in
            let client = moto.client()
            var environment = NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "busy"))
            environment.dependencyWait = .milliseconds(300)
            let vars = try #require(try await environment.up().vars)
            let ami = try #require(try await client.describeImages().first?.id)
            let run = try await client.call(
                "RunInstances", ["ImageId": ami, "MinCount": "1", "MaxCount": "1", "SubnetId": vars.subnetID])
            let instance = try #require(run.items("instancesSet").first?.string("instanceId"))
            try await moto.resetLog()
            do {
                _ = try await environment.down()
                Issue.record("down did not refuse")
            } catch let error as NetworkEnvironmentError {
                #expect(error.message.contains(instance))
                #expect(error.message.contains("delete-env"))
            }
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })
            try await client.call("TerminateInstances", ["InstanceId.1": instance])
            try await moto.inject([Fault(action: "DeleteSubnet", status: 400, code: "DependencyViolation", times: 100)])
            await #expect {
                _ = try await environment.down()
            } throws: { error in
                (error as? EC2Error)?.code == "DependencyViolation"
            }
            #expect(try await client.describeVpcs(filters: [environment.spec.ownerFilter]).count == 1)
        }
    }
}
