import Foundation
import SkiffAWS
import SkiffCloud
import Testing

/// Every `cloud_properties` key bosh-aws-cpi supports is used or refused with one line naming it; none is dropped.
@Suite("cloud_properties: used or refused, never dropped")
struct CloudPropertiesTests {
    let config = AWSCPIConfig(
        settings: AWSSettings(credentials: AWSCredentials(accessKeyID: "A", secretAccessKey: "s"), region: "us-east-1"))

    func refusal(_ json: String, disk: Bool = false) -> String? {
        do {
            let value = try JSONValue(parsingText: json)
            if disk {
                _ = try DiskCloudProperties(value, config: config)
            } else {
                _ = try VMCloudProperties(value, config: config)
            }
            return nil
        } catch let error as AWSCPIError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test(
        "refused keys and values each give one line naming the key",
        arguments: [
            (#"{"instance_type": "t3.small", "elbs": ["a"]}"#, "cloud_properties.elbs"),
            (#"{"instance_type": "t3.small", "lb_target_groups": ["a"]}"#, "cloud_properties.lb_target_groups"),
            (#"{"instance_type": "t3.small", "advertised_routes": []}"#, "cloud_properties.advertised_routes"),
            (#"{"instance_type": "t3.small", "nic_group": 1}"#, "cloud_properties.nic_group"),
            (#"{"instance_type": "t3.small", "ipv6_prefix": 1}"#, "cloud_properties.ipv6_prefix"),
            (
                #"{"instance_type": "t3.small", "auto_assign_public_ip": true}"#,
                "cloud_properties.auto_assign_public_ip"
            ),
            (#"{"instance_type": "t3.small", "raw_instance_storage": true}"#, "cloud_properties.raw_instance_storage"),
            (#"{"instance_type": "t3.small", "instance_typo": "x"}"#, "cloud_properties.instance_typo"),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "use_instance_storage": true}}"#,
                "cloud_properties.ephemeral_disk.use_instance_storage"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "use_root_disk": true}}"#,
                "cloud_properties.ephemeral_disk.use_root_disk"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "colour": "red"}}"#,
                "cloud_properties.ephemeral_disk.colour"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "type": "gp2", "iops": 3000}}"#,
                "cloud_properties.ephemeral_disk.iops"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "type": "gp2", "throughput": 200}}"#,
                "cloud_properties.ephemeral_disk.throughput"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "type": "io1"}}"#,
                "cloud_properties.ephemeral_disk.iops"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1024, "type": "ssd"}}"#,
                "cloud_properties.ephemeral_disk.type"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 1, "encrypted": false, "kms_key_arn": "k"}}"#,
                "cloud_properties.ephemeral_disk.kms_key_arn"
            ),
            (
                #"{"instance_type": "t3.small", "ephemeral_disk": {"size": "big"}}"#,
                "cloud_properties.ephemeral_disk.size"
            ),
            (#"{"instance_type": "t3.small", "root_disk": {"type": "gp3"}}"#, "cloud_properties.root_disk.size"),
            (
                #"{"instance_type": "t3.small", "root_disk": {"size": 1024, "encrypted": true}}"#,
                "cloud_properties.root_disk.encrypted"
            ),
            (
                #"{"instance_type": "t3.small", "metadata_options": {"http_tokens": "maybe"}}"#,
                "cloud_properties.metadata_options.http_tokens"
            ),
            (
                #"{"instance_type": "t3.small", "metadata_options": {"http_put_response_hop_limit": 65}}"#,
                "cloud_properties.metadata_options.http_put_response_hop_limit"
            ),
            (
                #"{"instance_type": "t3.small", "metadata_options": {"tokens": "required"}}"#,
                "cloud_properties.metadata_options.tokens"
            ),
            (#"{"instance_type": "t3.small", "tags": ["a"]}"#, "cloud_properties.tags"),
            (#"{"instance_type": "t3.small", "tags": {"team": {"a": 1}}}"#, "cloud_properties.tags.team"),
            (#"{"instance_type": "t3.small", "tenancy": "host"}"#, "cloud_properties.tenancy"),
            (#"{"instance_type": "t3.small", "spot_bid_price": "cheap"}"#, "cloud_properties.spot_bid_price"),
            (
                #"{"instance_type": "t3.small", "spot_ondemand_fallback": true}"#,
                "cloud_properties.spot_ondemand_fallback"
            ),
            (#"{"instance_type": "t3.small", "source_dest_check": "no"}"#, "cloud_properties.source_dest_check"),
            (#"{"instance_type": "t3.small", "security_groups": [1]}"#, "cloud_properties.security_groups"),
            (#"{"availability_zone": "us-east-1a"}"#, "cloud_properties.instance_type"),
        ])
    func refused(json: String, key: String) throws {
        let message = try #require(refusal(json), "accepted: \(json)")
        #expect(message.contains(key), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test("disk cloud_properties: type, iops, throughput, encrypted, kms_key_arn; others refused")
    func diskProperties() throws {
        for (json, key) in [
            (#"{"type": "gp3", "size_gb": 1}"#, "disk cloud_properties.size_gb"),
            (#"{"type": "gp2", "iops": 100}"#, "disk cloud_properties.iops"),
            (#"{"type": "magnetic"}"#, "disk cloud_properties.type"),
        ] {
            let message = try #require(refusal(json, disk: true), "accepted: \(json)")
            #expect(message.contains(key), "\(message)")
        }
        let disk = try DiskCloudProperties(
            try JSONValue(
                parsingText: #"{"type": "gp3", "iops": 5000, "throughput": 300, "kms_key_arn": "arn:k"}"#),
            config: config)
        #expect(disk.volume.iops == 5000)
        #expect(disk.volume.throughput == 300)
        #expect(disk.volume.encrypted == true)
        #expect(disk.volume.kmsKeyARN == "arn:k")
    }

    @Test("defaults: IMDSv2 required; the config's key, instance profile, encryption and metadata options apply")
    func defaults() throws {
        var withDefaults = config
        withDefaults.defaultKeyName = "bosh"
        withDefaults.defaultIAMInstanceProfile = "director-profile"
        withDefaults.encrypted = true
        withDefaults.kmsKeyARN = "arn:aws:kms:us-east-1:1:key/default"
        withDefaults.metadataOptions = .object(["http_put_response_hop_limit": .int(2)])
        let plain = try VMCloudProperties(
            try JSONValue(parsingText: #"{"instance_type": "t3.small", "ephemeral_disk": {"size": 2048}}"#),
            config: withDefaults)
        #expect(plain.metadataOptions.httpTokens == "required")
        #expect(plain.metadataOptions.hopLimit == 2)
        #expect(plain.keyName == "bosh")
        #expect(plain.iamInstanceProfile == "director-profile")
        #expect(plain.ephemeralDisk?.encrypted == true)
        #expect(plain.ephemeralDisk?.kmsKeyARN == "arn:aws:kms:us-east-1:1:key/default")
        #expect(plain.ephemeralDisk?.sizeGiB == 2)
        let optional = try VMCloudProperties(
            try JSONValue(
                parsingText: #"""
                    {"instance_type": "t3.small", "metadata_options": {"http_tokens": "optional"},
                     "iam_instance_profile": "arn:aws:iam::1:instance-profile/x", "tags": {"team": "web", "n": 3}}
                    """#), config: withDefaults)
        #expect(optional.metadataOptions.httpTokens == "optional")
        #expect(optional.iamInstanceProfile == "arn:aws:iam::1:instance-profile/x")
        #expect(optional.tags == [EC2Tag("n", "3"), EC2Tag("team", "web")])
    }
}
