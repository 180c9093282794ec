import ArgumentParser
import Foundation
import SkiffAWS
import SkiffCloud

/// `skiff cpi aws`: the AWS CPI (EC2, IPv6 first) as an external CPI.
struct CPIAWS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws",
        abstract: "The AWS CPI: EC2 VMs with static IPv4 and IPv6 addresses, Elastic IPs, EBS disks, light stemcells.",
        discussion: """
            The config file (YAML or JSON) holds the manifest's cloud_provider.properties: an 'aws' block with \
            access_key_id, secret_access_key, region, default_key_name, default_security_groups and optional \
            ec2_endpoint, dualstack, default_iam_instance_profile, encrypted, kms_key_arn, metadata_options and \
            max_retries (or credentials_source: env_or_profile: the environment's keys, a profile's, or the \
            instance role's from IMDSv2), and an 'agent' block with mbus, ntp and blobstore. Endpoint, region and \
            keys are resolved as 'skiff aws' resolves them (AWS_ENDPOINT_URL_EC2 when ec2_endpoint is not set).
            """
    )

    @Option(help: "The CPI config file: cloud_provider.properties with an 'aws:' block.")
    var config: String

    func run() async throws {
        let settings: AWSCPIConfig
        do {
            settings = try AWSCloudProvider.config(file: config)
        } catch {
            CPIExecutable.fail(error)
            return
        }
        await CPIExecutable.serve(AWSCloudProvider(config: settings))
    }
}
