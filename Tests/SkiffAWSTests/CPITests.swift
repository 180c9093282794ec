import Foundation
import SkiffAWS
import SkiffCloud
import SkiffNet
import Testing

/// The AWS CPI against moto: an environment from `NetworkEnvironment.up`, then VMs on its dual-stack subnet.
@Suite("AWS CPI against moto")
struct CPITests {
    struct Fixture {
        let moto: MotoServer
        let client: EC2Client
        let cpi: AWSCPI
        let vars: NetworkEnvironmentVars
        let ami: String
    }

    func withFixture(environment: [String: String] = [:], _ body: (Fixture) async throws -> Void) async throws {
        try await withMoto(environment: environment) { moto in
            let client = moto.client()
            let vars = try #require(
                try await NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "cpi")).up().vars)
            let ami = try #require(try await client.describeImages().first { $0.state == "available" }?.id)
            let config = try AWSCPIConfig(
                properties: try JSONValue(
                    parsingText: """
                        {"aws": {"access_key_id": "AKIDSKIFFTEST", "secret_access_key": "skiff-test-secret",
                                 "region": "us-east-1", "default_key_name": "bosh",
                                 "default_security_groups": ["\(vars.securityGroupID)"],
                                 "ec2_endpoint": "\(moto.endpoint)"},
                         "agent": {"mbus": "https://mbus:mbus-secret@0.0.0.0:6868", "ntp": ["time.aws.com"],
                                   "blobstore": {"provider": "local", "options": {"blobstore_path": "/var/vcap/micro_bosh/data/cache"}}}}
                        """))
            var cpi = AWSCPI(client: client, config: config)
            cpi.stateWait = .seconds(10)
            try await moto.resetLog()
            try await body(Fixture(moto: moto, client: client, cpi: cpi, vars: vars, ami: ami))
        }
    }

    func networks(
        _ vars: NetworkEnvironmentVars, ipv6: String? = nil, netmask6: String = "ffff:ffff:ffff:ffff::",
        vip: String? = nil
    )
        throws -> JSONValue
    {
        var entries: [String: JSONValue] = [
            "default": .object([
                "type": .string("manual"), "ip": .string(vars.internalIP.description),
                "netmask": .string("255.255.255.0"),
                "gateway": .string(vars.internalGateway.description),
                "default": .array([.string("dns"), .string("gateway")]),
                "dns": .array([.string("10.0.0.2")]), "cloud_properties": .object(["subnet": .string(vars.subnetID)]),
            ])
        ]
        if let ipv6 {
            entries["ipv6"] = .object([
                "type": .string("manual"), "ip": .string(ipv6), "netmask": .string(netmask6),
                "cloud_properties": .object(["subnet": .string(vars.subnetID)]),
            ])
        }
        if let vip { entries["public"] = .object(["type": .string("vip"), "ip": .string(vip)]) }
        return .object(entries)
    }

    @Test("create_vm with a static IPv6 address and an Elastic IP, then disks, metadata and delete")
    func createVMWithIPv6AndEIP() async throws {
        try await withFixture { f in
            let eip = try #require(try await f.client.call("AllocateAddress", ["Domain": "vpc"]).string("publicIp"))
            try await f.moto.resetLog()
            let wanted = f.vars.ipv6Address.description
            let (cid, _) = try await f.cpi.createVM(
                agentID: "agent-1", stemcellCID: f.ami,
                cloudProperties: .object([
                    "instance_type": .string("t3.small"),
                    "ephemeral_disk": .object(["size": .int(20480), "type": .string("gp3")]),
                ]),
                networks: try networks(f.vars, ipv6: wanted, vip: eip),
                env: .object(["bosh": .object(["tags": .object(["deployment": .string("nginx")])])]))
            #expect(cid.hasPrefix("i-"))
            let instance = try #require(try await f.client.describeInstances(ids: [cid]).first)
            #expect(instance.ipv6Addresses.map(\.description).contains(wanted))
            #expect(instance.privateIPv4 == f.vars.internalIP)
            #expect(instance.tags["agent_id"] == "agent-1")
            #expect(instance.tags["deployment"] == "nginx")
            let addresses = try await f.client.describeAddresses(filters: [EC2Filter("public-ip", eip)])
            #expect(addresses.first?.instanceID == cid)

            let log = try await f.moto.log()
            // The interface first, with the addresses and groups; then RunInstances on it.
            let nicCall = try #require(log.first { $0.action == "CreateNetworkInterface" })
            #expect(nicCall.params["Ipv6Addresses.1.Ipv6Address"] == wanted)
            #expect(nicCall.params["PrivateIpAddress"] == f.vars.internalIP.description)
            #expect(nicCall.params["SecurityGroupId.1"] == f.vars.securityGroupID)
            let run = try #require(log.first { $0.action == "RunInstances" })
            let nicIndex = try #require(log.firstIndex { $0.action == "CreateNetworkInterface" })
            let runIndex = try #require(log.firstIndex { $0.action == "RunInstances" })
            #expect(nicIndex < runIndex)
            #expect(run.params["NetworkInterface.1.NetworkInterfaceId"] == instance.primaryInterfaceID)
            #expect(run.params["KeyName"] == "bosh")
            #expect(run.params["BlockDeviceMapping.1.Ebs.VolumeSize"] == "20")
            #expect(run.params["MetadataOptions.HttpTokens"] == "required")
            // Agent settings in user data, as bosh-aws-cpi writes them.
            let userData = try #require(run.params["UserData"].flatMap { Data(base64Encoded: $0) })
            let settings = try JSONValue(parsingText: String(decoding: userData, as: UTF8.self))
            #expect(settings["agent_id"]?.stringValue == "agent-1")
            #expect(settings["mbus"]?.stringValue == "https://mbus:mbus-secret@0.0.0.0:6868")
            #expect(settings["networks"]?["ipv6"]?["use_dhcp"]?.boolValue == true)
            #expect(settings["networks"]?["ipv6"]?["ip"]?.stringValue == wanted)
            // The interface's MAC, for every network on it.
            let interfaceID = try #require(instance.primaryInterfaceID)
            let mac = try #require(
                try await f.client.call("DescribeNetworkInterfaces", ["NetworkInterfaceId.1": interfaceID])
                    .items("networkInterfaceSet").first?.string("macAddress"))
            #expect(!mac.isEmpty)
            #expect(settings["networks"]?["ipv6"]?["mac"]?.stringValue == mac)
            #expect(settings["networks"]?["default"]?["mac"]?.stringValue == mac)
            #expect(settings["networks"]?["public"]?["mac"] == nil)
            #expect(settings["disks"]?["ephemeral"]?.stringValue == "/dev/sdb")
            #expect(settings["blobstore"]?["provider"]?.stringValue == "local")
            #expect(settings["vm"]?["name"]?.stringValue == settings["server"]?["name"]?.stringValue)
            // The order: every check before the first mutating call.
            let firstMutation = try #require(log.firstIndex { !$0.action.hasPrefix("Describe") })
            #expect(log[firstMutation].action == "CreateNetworkInterface")

            #expect(try await f.cpi.hasVM(cid))
            try await f.cpi.setVMMetadata(cid, .object(["job": .string("nginx"), "index": .string("0")]))
            #expect(try await f.client.describeInstances(ids: [cid]).first?.tags["Name"] == "nginx/0")

            let disk = try await f.cpi.createDisk(sizeMiB: 3000, cloudProperties: .object([:]), vmCID: cid)
            #expect(try await f.cpi.hasDisk(disk))
            let hint = try await f.cpi.attachDisk(vmCID: cid, diskCID: disk)
            #expect(hint.stringValue?.hasPrefix("/dev/sd") == true)
            #expect(try await f.cpi.getDisks(vmCID: cid) == [disk])
            #expect(try await f.client.describeVolumes(ids: [disk]).first?.sizeGiB == 3)
            try await f.cpi.detachDisk(vmCID: cid, diskCID: disk)
            try await f.cpi.deleteDisk(disk)
            #expect(try await f.cpi.hasDisk(disk) == false)
            await #expect(throws: AWSCPIError(.diskNotFound, "Disk '\(disk)' not found")) {
                try await f.cpi.deleteDisk(disk)
            }

            try await f.cpi.rebootVM(cid)
            try await f.cpi.deleteVM(cid)
            #expect(try await f.cpi.hasVM(cid) == false)
            // The interface went with the VM.
            await #expect(throws: EC2Error.self) {
                try await f.client.call("DescribeNetworkInterfaces", ["NetworkInterfaceId.1": interfaceID])
            }
            #expect(try await f.cpi.hasVM("i-0123456789abcdef0") == false)
            await #expect(throws: AWSCPIError(.vmNotFound, "VM 'i-0123456789abcdef0' not found")) {
                try await f.cpi.deleteVM("i-0123456789abcdef0")
            }
        }
    }

    @Test("create_vm with ipv6_address_count gets an address on its interface, with no AssignIpv6Addresses")
    func createVMWithCount() async throws {
        try await withFixture { f in
            let (cid, _) = try await f.cpi.createVM(
                agentID: "agent-2", stemcellCID: f.ami,
                cloudProperties: .object(["instance_type": .string("m5.large"), "ipv6_address_count": .int(1)]),
                networks: try networks(f.vars))
            let instance = try #require(try await f.client.describeInstances(ids: [cid]).first)
            #expect(instance.ipv6Addresses.count == 1)
            #expect(instance.ipv6Addresses.allSatisfy { f.vars.ipv6CIDR.contains($0) })
            let log = try await f.moto.log()
            #expect(log.first { $0.action == "CreateNetworkInterface" }?.params["Ipv6AddressCount"] == "1")
            #expect(!log.contains { $0.action == "AssignIpv6Addresses" })
            try await f.cpi.deleteVM(cid)
        }
    }

    /// Runs `create_vm` expecting a refusal whose message contains `fragment`, and no RunInstances sent.
    func expectRefusal(_ f: Fixture, type: String = "t3.small", networks: JSONValue, _ fragments: [String]) async throws
    {
        do {
            _ = try await f.cpi.createVM(
                agentID: "agent-x", stemcellCID: f.ami, cloudProperties: .object(["instance_type": .string(type)]),
                networks: networks)
            Issue.record("create_vm was not refused")
        } catch let error as AWSCPIError {
            for fragment in fragments { #expect(error.message.contains(fragment), "\(error.message)") }
            #expect(!error.message.contains("\n"))
        }
        let log = try await f.moto.log()
        #expect(!log.contains { $0.action == "RunInstances" }, "RunInstances was sent")
        #expect(!log.contains { $0.action == "CreateNetworkInterface" }, "CreateNetworkInterface was sent")
        #expect(log.allSatisfy { $0.action.hasPrefix("Describe") }, "\(log.map(\.action))")
    }

    @Test("refusals before any mutating call: no-IPv6 types, addresses outside or reserved, non-/64 subnets")
    func refusals() async throws {
        try await withFixture(environment: ["MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"]) { f in
            let block = f.vars.ipv6CIDR
            let good = f.vars.ipv6Address.description
            try await expectRefusal(
                f, type: "m3.medium", networks: try networks(f.vars, ipv6: good), ["m3.medium", "no IPv6"])
            try await expectRefusal(
                f, type: "t1.micro", networks: try networks(f.vars, ipv6: good), ["t1.micro", "no IPv6"])

            // A type whose DescribeInstanceTypes says ipv6Supported=false (a recorded answer, injected by the proxy).
            try await f.moto.inject([
                Fault(
                    action: "DescribeInstanceTypes", status: 200, code: "",
                    body: """
                        <DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">\
                        <requestId>r-1</requestId><instanceTypeSet><item><instanceType>c5.large</instanceType>\
                        <hypervisor>nitro</hypervisor><networkInfo><ipv6Supported>false</ipv6Supported></networkInfo>\
                        </item></instanceTypeSet></DescribeInstanceTypesResponse>
                        """)
            ])
            try await expectRefusal(
                f, type: "c5.large", networks: try networks(f.vars, ipv6: good),
                ["c5.large", "no IPv6", "ipv6Supported=false"])

            let outside = try #require(block.address.advanced(by: UInt128(1) << 64))  // the next /64
            try await expectRefusal(f, networks: try networks(f.vars, ipv6: outside.description), ["outside"])
            for reserved in [try #require(block.address(at: 1)), try #require(block.address(at: 3)), block.last] {
                try await expectRefusal(
                    f, networks: try networks(f.vars, ipv6: reserved.description), ["reserved by AWS"])
            }
            try await expectRefusal(
                f, networks: try networks(f.vars, ipv6: good, netmask6: "ffff:ffff:ffff:ffff:ffff::"), ["not a /64"])
            // A type EC2 does not know.
            try await expectRefusal(
                f, type: "t9.bogus", networks: try networks(f.vars, ipv6: good), ["t9.bogus", "does not exist"])
            // An Elastic IP the account does not own.
            try await expectRefusal(f, networks: try networks(f.vars, ipv6: good, vip: "203.0.113.7"), ["203.0.113.7"])
        }
    }

    @Test("every request the client sent uses wire names botocore's EC2 model knows")
    func wireNamesRoundTrip() async throws {
        try await withFixture { f in
            let eip = try #require(try await f.client.call("AllocateAddress", ["Domain": "vpc"]).string("publicIp"))
            let (cid, _) = try await f.cpi.createVM(
                agentID: "agent-3", stemcellCID: f.ami,
                cloudProperties: .object([
                    "instance_type": .string("t3.small"), "ephemeral_disk": .object(["size": .int(1024)]),
                ]),
                networks: try networks(f.vars, ipv6: f.vars.ipv6Address.description, vip: eip))
            let disk = try await f.cpi.createDisk(sizeMiB: 1024, cloudProperties: .object([:]), vmCID: cid)
            _ = try await f.cpi.attachDisk(vmCID: cid, diskCID: disk)
            try await f.cpi.detachDisk(vmCID: cid, diskCID: disk)
            try await f.cpi.deleteDisk(disk)
            try await f.cpi.setVMMetadata(cid, .object(["name": .string("nginx/0")]))
            try await f.cpi.deleteVM(cid)
            _ = try await NetworkEnvironment(client: f.client, spec: try NetworkEnvironmentSpec(name: "wire")).up()
            let log = try await f.moto.log()
            let requests: [JSONValue] = log.map { record in
                .object([
                    "action": .string(record.action),
                    "params": .object(record.params.mapValues { .string($0) }),
                ])
            }
            let input = JSONValue.object(["mode": .string("roundtrip"), "requests": .array(requests)]).description
            let output = try JSONValue(parsingText: try runPython("botocore_ref.py", input: input))
            let results = try #require(output["results"]?.arrayValue)
            #expect(results.count == log.count)
            let actions = Set(log.map(\.action))
            for required in [
                "RunInstances", "CreateNetworkInterface", "AssociateAddress", "CreateVpc", "CreateSubnet",
                "ModifyNetworkInterfaceAttribute", "DeleteNetworkInterface",
                "AuthorizeSecurityGroupIngress", "CreateRoute", "CreateVolume", "AttachVolume", "CreateTags",
            ] {
                #expect(actions.contains(required), "\(required) was not exercised")
            }
            for result in results {
                let action = result["action"]?.stringValue ?? "?"
                #expect(
                    result["dropped"]?.arrayValue?.isEmpty == true,
                    "\(action) sent unknown names: \(result["dropped"] ?? .null)")
                #expect(
                    result["changed"]?.arrayValue?.isEmpty == true, "\(action) changed: \(result["changed"] ?? .null)")
            }
        }
    }
}

@Suite("wire names against botocore's serializer")
struct WireNameTests {
    func botocore(_ action: String, _ input: String) throws -> [String: String] {
        let output = try JSONValue(
            parsingText: try runPython(
                "botocore_ref.py", input: "{\"mode\": \"serialize\", \"action\": \"\(action)\", \"input\": \(input)}"))
        return (output["params"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    func ours(_ parameters: EC2Parameters) -> [String: String] {
        Dictionary(parameters.pairs, uniquingKeysWith: { $1 })
    }

    @Test("RunInstances on a made interface, with every cloud property, matches botocore's serializer")
    func runInstances() throws {
        let config = AWSCPIConfig(
            settings: AWSSettings(credentials: AWSCredentials(accessKeyID: "A", secretAccessKey: "s"), region: "r"))
        let properties = try VMCloudProperties(
            JSONValue(
                parsingText: """
                    {"instance_type": "t3.small", "iam_instance_profile": "director", "placement_group": "pg",
                     "tenancy": "dedicated", "key_name": "bosh",
                     "root_disk": {"size": 30720, "type": "gp3", "iops": 4000, "throughput": 250},
                     "ephemeral_disk": {"size": 20480, "type": "io2", "iops": 3000, "encrypted": true,
                                        "kms_key_arn": "arn:aws:kms:r:1:key/k"},
                     "metadata_options": {"http_put_response_hop_limit": 2, "http_protocol_ipv6": "enabled"},
                     "spot_bid_price": 0.05}
                    """), config: config)
        let request = RunInstancesRequest(
            imageID: "ami-1", instanceType: "t3.small", networkInterfaceID: "eni-1", keyName: properties.keyName,
            userData: "{}", clientToken: "tok", zone: "us-east-1a", rootDeviceName: "/dev/xvda", properties: properties,
            tags: [EC2Tag("agent_id", "a")])
        let expected = try botocore(
            "RunInstances",
            """
            {"ImageId": "ami-1", "InstanceType": "t3.small", "MinCount": 1, "MaxCount": 1,
             "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "DeviceIndex": 0}],
             "KeyName": "bosh", "UserData": "e30=", "ClientToken": "tok",
             "Placement": {"AvailabilityZone": "us-east-1a", "GroupName": "pg", "Tenancy": "dedicated"},
             "IamInstanceProfile": {"Name": "director"},
             "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpProtocolIpv6": "enabled"},
             "BlockDeviceMappings": [
               {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "VolumeType": "gp3", "Iops": 4000,
                                                 "Throughput": 250, "DeleteOnTermination": true}},
               {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 20, "VolumeType": "io2", "Iops": 3000,
                                                "Encrypted": true, "KmsKeyId": "arn:aws:kms:r:1:key/k",
                                                "DeleteOnTermination": true}}],
             "InstanceMarketOptions": {"MarketType": "spot",
                                       "SpotOptions": {"MaxPrice": "0.05", "SpotInstanceType": "one-time"}},
             "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "agent_id", "Value": "a"}]},
                                   {"ResourceType": "volume", "Tags": [{"Key": "agent_id", "Value": "a"}]}]}
            """)
        #expect(ours(request.parameters) == expected)
        #expect(expected["MetadataOptions.HttpTokens"] == "required")
        #expect(expected["NetworkInterface.1.NetworkInterfaceId"] == "eni-1")
    }

    @Test("AuthorizeSecurityGroupIngress with both families")
    func ingress() throws {
        let parameters = EC2Client.ingressParameters(groupID: "sg-1", IngressRules.default.permissions)
        let expected = try botocore(
            "AuthorizeSecurityGroupIngress",
            """
            {"GroupId": "sg-1", "IpPermissions": [
              {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
              {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
              {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
              {"IpProtocol": "tcp", "FromPort": 6868, "ToPort": 6868, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
              {"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}
            """)
        #expect(ours(parameters) == expected)
    }

    @Test("filters and tag specifications")
    func filtersAndTags() throws {
        var parameters = EC2Parameters()
        parameters.filters([
            EC2Filter.tag("skiff:env", "demo"), EC2Filter("instance-state-name", ["running", "stopped"]),
        ])
        let expected = try botocore(
            "DescribeInstances",
            """
            {"Filters": [{"Name": "tag:skiff:env", "Values": ["demo"]},
                         {"Name": "instance-state-name", "Values": ["running", "stopped"]}]}
            """)
        #expect(ours(parameters) == expected)
        var vpc = EC2Parameters()
        vpc.set("CidrBlock", "10.0.0.0/16")
        vpc.set("AmazonProvidedIpv6CidrBlock", true)
        vpc.tagSpecification("vpc", [EC2Tag("Name", "demo-vpc")])
        let expectedVPC = try botocore(
            "CreateVpc",
            """
            {"CidrBlock": "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock": true,
             "TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "demo-vpc"}]}]}
            """)
        #expect(ours(vpc) == expectedVPC)
    }
}
