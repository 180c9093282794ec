import Foundation
import SkiffAWS
import SkiffCloud
import Testing

/// A recorded EC2 error answer (the shape AWS sends: `Response/Errors/Error` and `RequestID`).
func recordedError(_ code: String, _ message: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <Response><Errors><Error><Code>\(code)</Code><Message>\(message)</Message></Error></Errors>\
    <RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>
    """
}

/// Recorded AWS answers for the errors the CPI retries, which moto does not produce.
@Suite("recorded AWS error answers")
struct RecordedErrorTests {
    @Test(
        "VolumeInUse, IncorrectState and InvalidIPAddress.InUse decode with code, message and request id",
        arguments: ["VolumeInUse", "IncorrectState", "InvalidIPAddress.InUse", "InsufficientInstanceCapacity"])
    func decode(code: String) {
        let error = EC2Error.decode(
            status: 400, body: Array(recordedError(code, "vol-0123 is in use").utf8), action: "AttachVolume")
        #expect(error.code == code)
        #expect(error.message == "vol-0123 is in use")
        #expect(error.requestID == "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        // Not the client's generic retries: the CPI retries these with bosh-aws-cpi's own timing.
        #expect(!error.isRetryable)
    }
}

/// bosh-aws-cpi's retries and cloud properties, against moto behind the fault-injecting proxy.
@Suite("AWS CPI fidelity against moto")
struct CPIFidelityTests {
    let base = CPITests()

    func fast(_ cpi: AWSCPI) -> AWSCPI {
        var copy = cpi
        copy.retryTiming = CPIRetryTiming(unit: .milliseconds(1))
        return copy
    }

    @Test("cloud properties reach RunInstances: instance profile, IMDSv2, root and ephemeral disks, tags")
    func propertiesOnTheWire() async throws {
        try await base.withFixture { f in
            _ = try runPython(
                "botocore_ref.py",
                input: "{\"mode\": \"instance-profile\", \"endpoint\": \"\(f.moto.motoURL)\", \"name\": \"director\"}")
            let (cid, _) = try await f.cpi.createVM(
                agentID: "agent-p", stemcellCID: f.ami,
                cloudProperties: try JSONValue(
                    parsingText: """
                        {"instance_type": "t3.small", "iam_instance_profile": "director",
                         "root_disk": {"size": 20480, "type": "gp3", "throughput": 200},
                         "ephemeral_disk": {"size": 10240, "type": "gp3", "iops": 4000, "encrypted": true,
                                            "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k"},
                         "tags": {"team": "web"}, "source_dest_check": false}
                        """),
                networks: try base.networks(f.vars))
            let log = try await f.moto.log()
            let run = try #require(log.first { $0.action == "RunInstances" })
            #expect(run.params["IamInstanceProfile.Name"] == "director")
            #expect(run.params["MetadataOptions.HttpTokens"] == "required")
            #expect(run.params["BlockDeviceMapping.1.Ebs.VolumeSize"] == "20")
            #expect(run.params["BlockDeviceMapping.1.Ebs.Throughput"] == "200")
            #expect(run.params["BlockDeviceMapping.2.DeviceName"] == "/dev/sdb")
            #expect(run.params["BlockDeviceMapping.2.Ebs.Iops"] == "4000")
            #expect(run.params["BlockDeviceMapping.2.Ebs.Encrypted"] == "true")
            #expect(run.params["BlockDeviceMapping.2.Ebs.KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k")
            let image = try #require(try await f.client.describeImages(ids: [f.ami]).first)
            #expect(run.params["BlockDeviceMapping.1.DeviceName"] == image.rootDeviceName)
            #expect(try await f.client.describeInstances(ids: [cid]).first?.tags["team"] == "web")
            let modify = try #require(
                log.first {
                    $0.action == "ModifyNetworkInterfaceAttribute" && $0.params["SourceDestCheck.Value"] != nil
                })
            #expect(modify.params["SourceDestCheck.Value"] == "false")
            try await f.cpi.deleteVM(cid)
        }
    }

    @Test("spot: InstanceMarketOptions; a refused spot launch falls back on demand only when asked, else one line")
    func spot() async throws {
        try await base.withFixture { f in
            let fault = Fault(
                action: "RunInstances", status: 400, code: "InsufficientInstanceCapacity",
                body: recordedError(
                    "InsufficientInstanceCapacity",
                    "There is no Spot capacity available that matches your request."))
            try await f.moto.inject([fault])
            let (cid, _) = try await f.cpi.createVM(
                agentID: "agent-s", stemcellCID: f.ami,
                cloudProperties: .object([
                    "instance_type": .string("t3.small"), "spot_bid_price": .double(0.05),
                    "spot_ondemand_fallback": .bool(true),
                ]),
                networks: try base.networks(f.vars))
            let runs = try await f.moto.log().filter { $0.action == "RunInstances" }
            #expect(runs.count == 2)
            #expect(runs.first?.params["InstanceMarketOptions.MarketType"] == "spot")
            #expect(runs.first?.params["InstanceMarketOptions.SpotOptions.MaxPrice"] == "0.05")
            #expect(runs.last?.params["InstanceMarketOptions.MarketType"] == nil)
            try await f.cpi.deleteVM(cid)

            try await f.moto.resetLog()
            try await f.moto.inject([fault])
            do {
                _ = try await f.cpi.createVM(
                    agentID: "agent-s2", stemcellCID: f.ami,
                    cloudProperties: .object(["instance_type": .string("t3.small"), "spot_bid_price": .string("0.05")]),
                    networks: try base.networks(f.vars))
                Issue.record("a refused spot launch succeeded")
            } catch let error as AWSCPIError {
                #expect(error.kind == .vmCreationFailed)
                #expect(error.message.contains("InsufficientInstanceCapacity"))
                #expect(error.message.contains("spot_ondemand_fallback"))
            }
            let log = try await f.moto.log()
            #expect(log.filter { $0.action == "RunInstances" }.count == 1)
            // The interface made for the launch is gone again.
            #expect(log.contains { $0.action == "DeleteNetworkInterface" })
        }
    }

    @Test("a refused cloud property fails create_vm before any call")
    func refusedBeforeAnyCall() async throws {
        try await base.withFixture { f in
            do {
                _ = try await f.cpi.createVM(
                    agentID: "agent-r", stemcellCID: f.ami,
                    cloudProperties: .object(["instance_type": .string("t3.small"), "elbs": .array([.string("lb")])]),
                    networks: try base.networks(f.vars))
                Issue.record("elbs was accepted")
            } catch let error as AWSCPIError {
                #expect(error.message.hasPrefix("cloud_properties.elbs is not supported"))
            }
            #expect(try await f.moto.log().isEmpty)
        }
    }

    @Test("InvalidIPAddress.InUse when the interface is made is retried until the address is free")
    func addressInUse() async throws {
        try await base.withFixture { f in
            try await f.moto.inject([
                Fault(
                    action: "CreateNetworkInterface", status: 400, code: "InvalidIPAddress.InUse", times: 2,
                    body: recordedError("InvalidIPAddress.InUse", "Address 10.0.0.4 is in use."))
            ])
            let cpi = fast(f.cpi)
            let (cid, _) = try await cpi.createVM(
                agentID: "agent-a", stemcellCID: f.ami,
                cloudProperties: .object(["instance_type": .string("t3.small")]),
                networks: try base.networks(f.vars))
            let log = try await f.moto.log()
            #expect(log.filter { $0.action == "CreateNetworkInterface" }.count == 3)
            #expect(log.filter { $0.action == "RunInstances" }.count == 1)
            try await cpi.deleteVM(cid)
        }
    }

    @Test("disk retries: VolumeInUse on delete and attach, IncorrectState on attach (15 tries) and detach")
    func diskRetries() async throws {
        try await base.withFixture { f in
            let cpi = fast(f.cpi)
            let (cid, _) = try await cpi.createVM(
                agentID: "agent-d", stemcellCID: f.ami,
                cloudProperties: .object(["instance_type": .string("t3.small")]),
                networks: try base.networks(f.vars))
            let disk = try await cpi.createDisk(sizeMiB: 1024, cloudProperties: .object([:]), vmCID: cid)
            try await f.moto.resetLog()
            func count(_ action: String) async throws -> Int {
                try await f.moto.log().filter { $0.action == action }.count
            }

            // VolumeInUse for 17 tries: past the 15 fast ones, still retried, then attached.
            try await f.moto.inject([
                Fault(
                    action: "AttachVolume", status: 400, code: "VolumeInUse", times: 17,
                    body: recordedError("VolumeInUse", "\(disk) is already attached to an instance"))
            ])
            _ = try await cpi.attachDisk(vmCID: cid, diskCID: disk)
            #expect(try await count("AttachVolume") == 18)

            // DetachVolume: IncorrectState twice (an attachment still settling), then detached.
            try await f.moto.inject([
                Fault(
                    action: "DetachVolume", status: 400, code: "IncorrectState", times: 2,
                    body: recordedError("IncorrectState", "Volume '\(disk)' is in the 'attaching' state."))
            ])
            try await cpi.detachDisk(vmCID: cid, diskCID: disk)
            #expect(try await count("DetachVolume") == 3)
            // Not attached any more: DiskNotAttached, without a DetachVolume call.
            await #expect(throws: AWSCPIError.self) { try await cpi.detachDisk(vmCID: cid, diskCID: disk) }
            #expect(try await count("DetachVolume") == 3)

            // IncorrectState on attach: 15 tries, then one line.
            try await f.moto.resetLog()
            try await f.moto.inject([
                Fault(
                    action: "AttachVolume", status: 400, code: "IncorrectState", times: 15,
                    body: recordedError("IncorrectState", "Instance '\(cid)' is not 'running'."))
            ])
            do {
                _ = try await cpi.attachDisk(vmCID: cid, diskCID: disk)
                Issue.record("attach succeeded through IncorrectState")
            } catch let error as AWSCPIError {
                #expect(error.message.contains("after 15 tries"))
                #expect(error.message.contains("IncorrectState"))
                #expect(!error.message.contains("\n"))
            }
            #expect(try await count("AttachVolume") == 15)

            // VolumeInUse on delete: retried, then deleted.
            try await f.moto.resetLog()
            try await f.moto.inject([
                Fault(
                    action: "DeleteVolume", status: 400, code: "VolumeInUse", times: 3,
                    body: recordedError("VolumeInUse", "Volume \(disk) is currently attached to \(cid)"))
            ])
            try await cpi.deleteDisk(disk)
            #expect(try await count("DeleteVolume") == 4)
            #expect(try await cpi.hasDisk(disk) == false)
            try await cpi.deleteVM(cid)
        }
    }
}

/// `skiff aws up` checks every argument before its first mutating call, and opens IPv6 egress explicitly.
@Suite("aws up: validation before mutation, IPv6 egress")
struct AWSUpValidationTests {
    @Test("a zone or region that does not exist is refused with zero mutating calls")
    func refusesBadArguments() async throws {
        try await withMoto { moto in
            for (region, zone, fragment) in [
                ("us-east-1", "us-east-1z", "availability zone 'us-east-1z' is not in region us-east-1"),
                ("us-east-9", nil, "region us-east-9"),
            ] {
                let counter = EC2CallCounter()
                let client = moto.client(counter: counter, region: region)
                let environment = NetworkEnvironment(
                    client: client, spec: try NetworkEnvironmentSpec(name: "bad", zone: zone))
                do {
                    _ = try await environment.up()
                    Issue.record("up accepted \(region) \(zone ?? "")")
                } catch {
                    #expect("\(error)".contains(fragment), "\(error)")
                    #expect(!"\(error)".contains("\n"))
                }
                #expect(counter.mutating == 0, "\(counter.byAction)")
            }
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })
        }
    }

    @Test("the CLI refuses --az, --region and --ingress before any mutating call")
    func cliRefuses() async throws {
        try await withMoto { moto in
            var environment = ProcessInfo.processInfo.environment
            for key in environment.keys where key.hasPrefix("AWS_") { environment[key] = nil }
            environment["AWS_ACCESS_KEY_ID"] = "AKIDSKIFFTEST"
            environment["AWS_SECRET_ACCESS_KEY"] = "skiff-test-secret"
            environment["AWS_ENDPOINT_URL_EC2"] = moto.endpoint
            environment["AWS_EC2_METADATA_DISABLED"] = "true"
            for arguments in [
                ["--region", "us-east-1", "--az", "us-east-1z"], ["--region", "us-east-9"],
                ["--region", "us-east-1", "--ingress", "22,http"],
            ] {
                let result = try runChild(
                    skiffExecutable, ["aws", "up", "--name", "cli-bad"] + arguments, environment: environment)
                #expect(result.status == 1)
                let lines = result.stderr.split(separator: "\n").filter { !$0.isEmpty }
                #expect(lines.count == 1, "\(result.stderr)")
            }
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })
        }
    }

    @Test("up adds an explicit ::/0 egress rule when the group lacks it, and only then")
    func egress() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let environment = NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "egress"))
            // A group made while the VPC's IPv6 block was still associating lets out IPv4 only (a recorded answer to
            // the describe that follows CreateSecurityGroup; discovery finds no VPC, so it sends none before).
            try await moto.inject([
                Fault(
                    action: "DescribeSecurityGroups", status: 200, code: "",
                    body: """
                        <DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">\
                        <requestId>r</requestId><securityGroupInfo><item><groupId>sg-recorded</groupId>\
                        <groupName>skiff-egress</groupName><vpcId>vpc-recorded</vpcId><ipPermissions/>\
                        <ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item>\
                        <cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/></item></ipPermissionsEgress>\
                        </item></securityGroupInfo></DescribeSecurityGroupsResponse>
                        """)
            ])
            let vars = try #require(try await environment.up().vars)
            var calls = try await moto.log().filter { $0.action == "AuthorizeSecurityGroupEgress" }
            #expect(calls.count == 1)
            #expect(calls.first?.params["IpPermissions.1.IpProtocol"] == "-1")
            #expect(calls.first?.params["IpPermissions.1.Ipv6Ranges.1.CidrIpv6"] == "::/0")
            #expect(calls.first?.params["IpPermissions.1.IpRanges.1.CidrIp"] == nil)

            // A group whose ::/0 egress was removed gets it back; a complete one is left alone.
            var revoke = EC2Parameters()
            revoke.set("GroupId", vars.securityGroupID)
            revoke.set("IpPermissions.1.IpProtocol", "-1")
            revoke.set("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "::/0")
            try await client.call("RevokeSecurityGroupEgress", revoke)
            try await moto.resetLog()
            _ = try await environment.up()
            calls = try await moto.log().filter { $0.action == "AuthorizeSecurityGroupEgress" }
            #expect(calls.count == 1)
            let group = try #require(try await client.describeSecurityGroups(ids: [vars.securityGroupID]).first)
            #expect(group.egress.contains { $0.ipProtocol == "-1" && $0.ipv6Ranges.contains("::/0") })
            #expect(group.egress.contains { $0.ipProtocol == "-1" && $0.ipv4Ranges.contains("0.0.0.0/0") })
            try await moto.resetLog()
            _ = try await environment.up()
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })
        }
    }
}
