import Foundation
import SkiffAWS
import SkiffCloud
import SkiffNet
import Testing

@Suite("skiff aws up/down against moto", .serialized)
struct NetworkEnvironmentTests {
    func environment(_ client: EC2Client, name: String = "demo", zone: String? = nil) throws -> NetworkEnvironment {
        var environment = NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: name, zone: zone))
        environment.dependencyWait = .seconds(2)
        environment.ipv6Wait = .seconds(5)
        return environment
    }

    @Test("up creates the network, re-up creates nothing, down removes everything")
    func upReUpDown() async throws {
        try await withMoto { moto in
            let counter = EC2CallCounter()
            let client = moto.client(counter: counter)
            let env = try environment(client)

            let first = try await env.up()
            let vars = try #require(first.vars)
            #expect(vars.region == "us-east-1")
            #expect(vars.zone == "us-east-1a")
            #expect(vars.subnetID.hasPrefix("subnet-"))
            #expect(vars.securityGroupID.hasPrefix("sg-"))
            #expect(vars.internalCIDR.description == "10.0.0.0/24")
            #expect(vars.internalGateway.description == "10.0.0.1")
            #expect(vars.internalIP.description == "10.0.0.4")
            #expect(vars.ipv6CIDR.length == 64)
            #expect(vars.ipv6Address == vars.ipv6CIDR.address(at: 4))

            // The /64 is the first of the VPC's /56.
            let vpcs = try await client.describeVpcs(filters: [.tag("skiff:env", "demo")])
            let vpc = try #require(vpcs.first)
            let block = try #require(vpc.ipv6Block)
            #expect(block.length == 56)
            #expect(try block.subnet(length: 64, index: 0) == vars.ipv6CIDR)

            // Routes for both families via the gateway, associated with the subnet.
            let tables = try await client.describeRouteTables(filters: [.tag("skiff:env", "demo")])
            let table = try #require(tables.first)
            let gateways = try await client.describeInternetGateways(filters: [.tag("skiff:env", "demo")])
            let gateway = try #require(gateways.first)
            #expect(gateway.attachedVPCs == [vpc.id])
            #expect(table.routes.contains { $0.destination == "0.0.0.0/0" && $0.gatewayID == gateway.id })
            #expect(table.routes.contains { $0.destination == "::/0" && $0.gatewayID == gateway.id })
            #expect(table.associations.contains { $0.subnetID == vars.subnetID })

            // Ingress: the default ports from both families, nothing else open.
            let group = try #require(try await client.describeSecurityGroups(ids: [vars.securityGroupID]).first)
            for port in [22, 80, 443, 6868] {
                #expect(
                    group.ingress.contains {
                        $0.ipProtocol == "tcp" && $0.fromPort == port && $0.ipv4Ranges.contains("0.0.0.0/0")
                            && $0.ipv6Ranges.contains("::/0")
                    })
            }
            #expect(!group.ingress.contains { $0.ipProtocol == "-1" })
            #expect(group.ingress.filter { $0.ipProtocol == "tcp" }.count == 4)

            // Routes through the gateway are created only once it is attached (AWS refuses them before).
            let log = try await moto.log()
            let attach = try #require(log.firstIndex { $0.action == "AttachInternetGateway" })
            let routes = log.indices.filter { log[$0].action == "CreateRoute" }
            #expect(routes.count == 2)
            #expect(routes.allSatisfy { $0 > attach })
            #expect(log.filter { !$0.action.hasPrefix("Describe") }.count == 11)

            // Re-up: same vars, no mutating call.
            let before = counter.total
            let second = try await env.up()
            #expect(second.vars == vars)
            let reCalls = counter.records.dropFirst(before)
            #expect(reCalls.allSatisfy { $0.action.hasPrefix("Describe") }, "re-up sent \(reCalls.map(\.action))")
            #expect(try await client.describeVpcs(filters: [.tag("skiff:env", "demo")]).count == 1)

            // Down, then down again (nothing left is fine).
            _ = try await env.down()
            #expect(try await client.describeVpcs(filters: [.tag("skiff:env", "demo")]).isEmpty)
            #expect(try await client.describeSubnets(filters: [.tag("skiff:env", "demo")]).isEmpty)
            #expect(try await client.describeInternetGateways(filters: [.tag("skiff:env", "demo")]).isEmpty)
            #expect(try await client.describeSecurityGroups(filters: [.tag("skiff:env", "demo")]).isEmpty)
            #expect(try await client.describeRouteTables(filters: [.tag("skiff:env", "demo")]).isEmpty)
            let again = try await env.down()
            #expect(again.isEmpty)
        }
    }

    @Test("up after a partial up finishes the job without duplicates")
    func upAfterPartialUp() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let spec = try NetworkEnvironmentSpec(name: "partial")
            // A crashed run left only a tagged VPC and an unattached gateway.
            let vpc = try await client.createVpc(cidr: spec.vpcCIDR, tags: spec.tags("vpc"))
            let gateway = try await client.createInternetGateway(tags: spec.tags("igw"))
            let result = try await environment(client, name: "partial").up()
            #expect(result.vpcID == vpc.id)
            #expect(result.steps.contains { $0.action == .keep && $0.kind == "vpc" })
            #expect(result.steps.contains { $0.action == .update && $0.detail.contains("attached") })
            let gateways = try await client.describeInternetGateways(filters: [spec.ownerFilter])
            #expect(gateways.map(\.id) == [gateway.id])
            #expect(gateways.first?.attachedVPCs == [vpc.id])
            #expect(try await client.describeVpcs(filters: [spec.ownerFilter]).count == 1)
            #expect(result.vars != nil)
            _ = try await environment(client, name: "partial").down()
        }
    }

    @Test("--ingress is converged: new ports opened, ports no longer asked for closed; 'all' opens everything")
    func ingressConverges() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let first = try #require(try await environment(client, name: "ports").up().vars)
            var spec = try NetworkEnvironmentSpec(name: "ports", ingress: try IngressRules(parsing: "8080,9000-9010"))
            _ = try await NetworkEnvironment(client: client, spec: spec).up()
            var group = try #require(try await client.describeSecurityGroups(ids: [first.securityGroupID]).first)
            let tcp = group.ingress.filter { $0.ipProtocol == "tcp" }.map { "\($0.fromPort ?? 0)-\($0.toPort ?? 0)" }
                .sorted()
            #expect(tcp == ["8080-8080", "9000-9010"])
            #expect(group.ingress.contains { $0.ipProtocol == "icmpv6" })
            spec.ingress = .all
            _ = try await NetworkEnvironment(client: client, spec: spec).up()
            group = try #require(try await client.describeSecurityGroups(ids: [first.securityGroupID]).first)
            #expect(group.ingress.count == 1)
            #expect(group.ingress.first?.ipProtocol == "-1")
            #expect(group.ingress.first?.ipv4Ranges == ["0.0.0.0/0"])
            #expect(group.ingress.first?.ipv6Ranges == ["::/0"])
            try await moto.resetLog()
            _ = try await NetworkEnvironment(client: client, spec: spec).up()
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })
        }
    }

    @Test("dry run sends no mutating call")
    func dryRun() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let result = try await environment(client, name: "dry").up(dryRun: true)
            #expect(result.steps.filter { $0.action == .create }.count == 5)
            #expect(result.vars == nil)
            let log = try await moto.log()
            #expect(!log.isEmpty)
            #expect(log.allSatisfy { $0.action.hasPrefix("Describe") }, "\(log.map(\.action))")
        }
    }

    @Test("throttling and 5xx answers are retried")
    func retries() async throws {
        try await withMoto { moto in
            try await moto.inject([
                Fault(action: "CreateVpc", status: 503, code: "RequestLimitExceeded", times: 2),
                Fault(action: "CreateSubnet", status: 500, code: "InternalError", times: 1, body: "<html>oops</html>"),
                Fault(action: "CreateSecurityGroup", status: 400, code: "Throttling", times: 1),
            ])
            let counter = EC2CallCounter()
            let result = try await environment(moto.client(counter: counter), name: "retry").up()
            #expect(result.vars != nil)
            let log = try await moto.log()
            #expect(log.filter { $0.action == "CreateVpc" }.count == 3)
            #expect(log.filter { $0.action == "CreateSubnet" }.count == 2)
            #expect(log.filter { $0.action == "CreateSecurityGroup" }.count == 2)
            #expect(log.filter { $0.action == "CreateVpc" && !$0.injected }.count == 1)
            #expect(counter.records.contains { $0.errorCode == "RequestLimitExceeded" && $0.attempt == 1 })
        }
    }

    @Test("a persistent 503 gives up after the retry budget with one clear line")
    func retryBudget() async throws {
        try await withMoto { moto in
            try await moto.inject([Fault(action: "DescribeVpcs", status: 503, code: "RequestLimitExceeded", times: 50)])
            await #expect {
                _ = try await environment(moto.client(), name: "budget").up()
            } throws: { error in
                let text = "\(error)"
                return (error as? EC2Error)?.code == "RequestLimitExceeded" && !text.contains("\n")
                    && text.contains("request id injected-")
            }
            #expect(try await moto.log().filter { $0.action == "DescribeVpcs" }.count == 5)
        }
    }
}

@Suite("AWS-only behaviour, replayed through the proxy")
struct AWSOnlyBehaviourTests {
    @Test("an IPv6 block still associating is polled until associated before the /64 is carved")
    func associatingIsPolled() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let spec = try NetworkEnvironmentSpec(name: "assoc")
            // A tagged VPC without IPv6 (an earlier tool or a crash left it so).
            var p = EC2Parameters()
            p.set("CidrBlock", "10.0.0.0/16")
            p.tagSpecification("vpc", spec.tags("vpc"))
            let vpcID = try #require(try await client.call("CreateVpc", p).string("vpc/vpcId"))
            // The first poll after AssociateVpcCidrBlock answers as real AWS does: associating, no CIDR yet.
            try await moto.inject([
                Fault(
                    action: "DescribeVpcs", status: 200, code: "", times: 1,
                    body: """
                        <DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>\
                        <vpcSet><item><vpcId>\(vpcID)</vpcId><state>available</state><cidrBlock>10.0.0.0/16</cidrBlock>\
                        <ipv6CidrBlockAssociationSet><item><associationId>vpc-cidr-assoc-1</associationId><ipv6CidrBlock/>\
                        <ipv6CidrBlockState><state>associating</state></ipv6CidrBlockState></item>\
                        </ipv6CidrBlockAssociationSet></item></vpcSet></DescribeVpcsResponse>
                        """,
                    skip: 1)
            ])
            let result = try await NetworkEnvironment(client: client, spec: spec).up()
            let vars = try #require(result.vars)
            #expect(result.vpcID == vpcID)
            let log = try await moto.log()
            #expect(log.filter { $0.action == "AssociateVpcCidrBlock" }.count == 1)
            #expect(log.filter { $0.action == "DescribeVpcs" }.count == 3)
            #expect(log.contains { $0.action == "DescribeVpcs" && $0.injected })
            let block = try #require(try await client.describeVpcs(ids: [vpcID]).first?.ipv6Block)
            #expect(try block.subnet(length: 64, index: 0) == vars.ipv6CIDR)
            let associate = try #require(log.firstIndex { $0.action == "AssociateVpcCidrBlock" })
            let subnet = try #require(log.firstIndex { $0.action == "CreateSubnet" })
            #expect(associate < subnet)
        }
    }

    @Test("without --az, the region's first zone is used, never an opted-in Local Zone that sorts before it")
    func zonePick() async throws {
        try await withMoto { moto in
            try await moto.inject([
                Fault(
                    action: "DescribeAvailabilityZones", status: 200, code: "",
                    body: """
                        <DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">\
                        <requestId>r</requestId><availabilityZoneInfo>\
                        <item><zoneName>us-east-1-bos-1a</zoneName><zoneType>local-zone</zoneType></item>\
                        <item><zoneName>us-east-1c</zoneName><zoneType>availability-zone</zoneType></item>\
                        <item><zoneName>us-east-1b</zoneName><zoneType>availability-zone</zoneType></item>\
                        </availabilityZoneInfo></DescribeAvailabilityZonesResponse>
                        """)
            ])
            let vars = try #require(
                try await NetworkEnvironment(client: moto.client(), spec: try NetworkEnvironmentSpec(name: "zone")).up()
                    .vars)
            #expect(vars.zone == "us-east-1b")
        }
    }

    @Test("UnsupportedOperation from RunInstances becomes one CloudError line with code and request id, not retried")
    func unsupportedOperation() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let vars = try #require(
                try await NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "unsup")).up().vars)
            let ami = try #require(try await client.describeImages().first?.id)
            try await moto.inject([
                Fault(action: "RunInstances", status: 400, code: "UnsupportedOperation", times: 5)
            ])
            let config = AWSCPIConfig(
                credentials: AWSCredentials(accessKeyID: "AKIDSKIFFTEST", secretAccessKey: "skiff-test-secret"),
                region: "us-east-1", defaultSecurityGroups: [vars.securityGroupID])
            let provider = AWSCloudProvider(cpi: AWSCPI(client: client, config: config))
            let networks: [String: CPINetwork] = [
                "default": CPINetwork(
                    ip: .v4(vars.internalIP), netmask: IPAddress("255.255.255.0"),
                    cloudProperties: ["subnet": .string(vars.subnetID)]),
                "ipv6": CPINetwork(
                    ip: .v6(vars.ipv6Address), netmask: IPAddress("ffff:ffff:ffff:ffff::"),
                    cloudProperties: ["subnet": .string(vars.subnetID)]),
            ]
            do {
                _ = try await provider.createVM(
                    agentID: "a", stemcellCID: ami, cloudProperties: ["instance_type": "t3.small"], networks: networks,
                    diskCIDs: [], env: [:])
                Issue.record("create_vm succeeded")
            } catch let error as CloudError {
                #expect(error.type == .cloudError)
                #expect(error.message.contains("UnsupportedOperation"))
                #expect(error.message.contains("request id injected-"))
                #expect(!error.message.contains("\n"))
                #expect(!error.okToRetry)
            }
            #expect(try await moto.log().filter { $0.action == "RunInstances" }.count == 1)
        }
    }
}

@Suite("eventual consistency after creates")
struct ConsistencyTests {
    @Test("a subnet create that does not yet see its new VPC is retried, within a bounded wait")
    func notFoundAfterCreate() async throws {
        try await withMoto { moto in
            try await moto.inject([
                Fault(action: "CreateSubnet", status: 400, code: "InvalidVpcID.NotFound", times: 2),
                Fault(action: "AuthorizeSecurityGroupIngress", status: 400, code: "InvalidGroup.NotFound", times: 1),
            ])
            let result = try await NetworkEnvironment(
                client: moto.client(), spec: try NetworkEnvironmentSpec(name: "ec")
            )
            .up()
            #expect(result.vars != nil)
            let log = try await moto.log()
            #expect(log.filter { $0.action == "CreateSubnet" }.count == 3)
            #expect(log.filter { $0.action == "AuthorizeSecurityGroupIngress" }.count == 2)
        }
    }

    @Test("the wait is bounded: a resource that never appears fails with its NotFound code")
    func boundedWait() async throws {
        try await withMoto { moto in
            try await moto.inject([
                Fault(action: "CreateSubnet", status: 400, code: "InvalidVpcID.NotFound", times: 1000)
            ])
            let clock = ContinuousClock()
            let start = clock.now
            await #expect {
                _ = try await NetworkEnvironment(client: moto.client(), spec: try NetworkEnvironmentSpec(name: "ec2"))
                    .up()
            } throws: { error in
                (error as? EC2Error)?.code == "InvalidVpcID.NotFound"
            }
            #expect(clock.now - start < .seconds(10))  // the test client waits at most 2 s
        }
    }

    @Test("the CPI tolerates InvalidInstanceID.NotFound right after RunInstances")
    func instanceNotYetVisible() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let vars = try #require(
                try await NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "ecvm")).up().vars)
            let ami = try #require(try await client.describeImages().first?.id)
            try await moto.inject([
                Fault(action: "DescribeInstances", status: 400, code: "InvalidInstanceID.NotFound", times: 2)
            ])
            let config = AWSCPIConfig(
                credentials: AWSCredentials(accessKeyID: "AKIDSKIFFTEST", secretAccessKey: "skiff-test-secret"),
                region: "us-east-1", defaultSecurityGroups: [vars.securityGroupID])
            let networks = JSONValue.object([
                "default": .object([
                    "type": "manual", "ip": .string(vars.internalIP.description), "netmask": "255.255.255.0",
                    "cloud_properties": .object(["subnet": .string(vars.subnetID)]),
                ])
            ])
            let (cid, _) = try await AWSCPI(client: client, config: config).createVM(
                agentID: "a", stemcellCID: ami, cloudProperties: ["instance_type": "t3.small"], networks: networks)
            #expect(cid.hasPrefix("i-"))
            #expect(try await moto.log().filter { $0.action == "DescribeInstances" && $0.injected }.count == 2)
        }
    }
}
