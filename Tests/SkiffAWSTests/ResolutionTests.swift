import Foundation
import SkiffAWS
import SkiffCloud
import Testing

/// The AWS CPI resolves endpoint, region, keys and dual-stack through the same code as `skiff aws up`.
@Suite("one resolution path for skiff aws and the AWS CPI")
struct ResolutionTests {
    /// An environment with no shared files and no metadata service.
    let bare = ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]

    func cpiConfig(_ aws: [String: JSONValue], environment: [String: String]) throws(AWSCPIError) -> AWSCPIConfig {
        try AWSCPIConfig(properties: .object(["aws": .object(aws)]), environment: environment)
    }

    @Test("env_or_profile without ec2_endpoint takes AWS_ENDPOINT_URL_EC2, as aws up does; never real AWS")
    func endpointFromEnvironment() throws {
        var env = bare
        env["AWS_ACCESS_KEY_ID"] = "AKIDENV"
        env["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        env["AWS_ENDPOINT_URL_EC2"] = "http://127.0.0.1:5999"
        let cpi = try cpiConfig(["credentials_source": "env_or_profile", "region": "us-east-2"], environment: env)
        let cli = try AWSSettings.resolve(environment: env, region: "us-east-2")
        #expect(cpi.endpoint.url == "http://127.0.0.1:5999/")
        #expect(cpi.endpoint == cli.endpoint)
        #expect(cpi.credentials?.accessKeyID == cli.credentials?.accessKeyID)
        // Static keys resolve the endpoint the same way; an explicit ec2_endpoint wins over the environment.
        let staticKeys = try cpiConfig(
            ["access_key_id": "AKIDCPI", "secret_access_key": "s", "region": "us-east-2"], environment: env)
        #expect(staticKeys.endpoint.url == "http://127.0.0.1:5999/")
        #expect(staticKeys.credentials?.accessKeyID == "AKIDCPI")
        let explicit = try cpiConfig(
            ["access_key_id": "A", "secret_access_key": "s", "region": "us-east-2", "ec2_endpoint": "[::1]:6000"],
            environment: env)
        #expect(explicit.endpoint.url == "https://[::1]:6000/")
    }

    @Test("aws.dualstack and AWS_USE_DUALSTACK_ENDPOINT give ec2.REGION.api.aws")
    func dualStack() throws {
        var env = bare
        env["AWS_ACCESS_KEY_ID"] = "A"
        env["AWS_SECRET_ACCESS_KEY"] = "s"
        let flag = try cpiConfig(
            ["credentials_source": "env_or_profile", "region": "eu-west-1", "dualstack": true], environment: env)
        #expect(flag.endpoint.url == "https://ec2.eu-west-1.api.aws/")
        env["AWS_USE_DUALSTACK_ENDPOINT"] = "true"
        let fromEnv = try cpiConfig(["credentials_source": "env_or_profile", "region": "eu-west-1"], environment: env)
        #expect(fromEnv.endpoint.url == "https://ec2.eu-west-1.api.aws/")
        #expect(try AWSSettings.resolve(environment: env, region: "eu-west-1").endpoint == fromEnv.endpoint)
        let off = try cpiConfig(
            ["credentials_source": "env_or_profile", "region": "eu-west-1", "dualstack": false], environment: env)
        #expect(off.endpoint.url == "https://ec2.eu-west-1.amazonaws.com/")
        #expect(throws: AWSCPIError.self) {
            try cpiConfig(
                ["credentials_source": "env_or_profile", "region": "eu-west-1", "dualstack": "yes"], environment: env)
        }
    }

    @Test("aws block keys: unknown and unsupported ones are refused with one line naming the key")
    func awsKeys() throws {
        let keys: [String: JSONValue] = ["access_key_id": "A", "secret_access_key": "s", "region": "us-east-1"]
        for (key, words) in [("role_arn", "not supported"), ("elb_endpoint", "not supported"), ("colour", "knows")] {
            var aws = keys
            aws[key] = "x"
            do {
                _ = try cpiConfig(aws, environment: bare)
                Issue.record("aws.\(key) was accepted")
            } catch {
                #expect(error.message.contains("aws.\(key)"))
                #expect(error.message.contains(words))
                #expect(!error.message.contains("\n"))
            }
        }
        var badSource = keys
        badSource["credentials_source"] = "magic"
        #expect(throws: AWSCPIError.self) { try cpiConfig(badSource, environment: bare) }
        var both = keys
        both["credentials_source"] = "env_or_profile"
        #expect(throws: AWSCPIError.self) { try cpiConfig(both, environment: bare) }
        var retries = keys
        retries["max_retries"] = 2
        #expect(try cpiConfig(retries, environment: bare).retryPolicy.maxAttempts == 3)
    }

    @Test("the CPI with env_or_profile talks to the environment's endpoint: every request reaches the loopback moto")
    func cpiReachesLoopbackOnly() async throws {
        try await withMoto { moto in
            var env = bare
            env["AWS_ACCESS_KEY_ID"] = "AKIDSKIFFTEST"
            env["AWS_SECRET_ACCESS_KEY"] = "skiff-test-secret"
            env["AWS_ENDPOINT_URL_EC2"] = moto.endpoint
            let config = try cpiConfig(
                ["credentials_source": "env_or_profile", "region": "us-east-1"], environment: env)
            #expect(config.endpoint.hostText == "127.0.0.1")
            let counter = EC2CallCounter()
            let cpi = AWSCPI(config: config, observer: counter.observe)
            let ami = try #require(try await cpi.client.describeImages().first { $0.state == "available" }?.id)
            _ = try await cpi.createStemcell(
                imagePath: "", cloudProperties: .object(["ami": .object(["us-east-1": .string(ami)])]))
            let log = try await moto.log()
            #expect(counter.total == 2)
            #expect(log.count == counter.total, "a request went somewhere other than the loopback proxy")
            #expect(log.map(\.action) == ["DescribeImages", "DescribeImages"])
        }
    }

    @Test("an unreachable endpoint fails the first call with one line, after a few quick tries within a 5 s window")
    func failsFast() async throws {
        let port = try freeLoopbackPort()
        var env = bare
        env["AWS_ACCESS_KEY_ID"] = "A"
        env["AWS_SECRET_ACCESS_KEY"] = "s"
        env["AWS_ENDPOINT_URL_EC2"] = "http://127.0.0.1:\(port)"
        let config = try cpiConfig(["credentials_source": "env_or_profile", "region": "us-east-2"], environment: env)
        let counter = EC2CallCounter()
        let provider = AWSCloudProvider(cpi: AWSCPI(config: config, observer: counter.observe))
        do {
            _ = try await provider.createStemcell(
                imagePath: "", cloudProperties: ["ami": .object(["us-east-2": .string("ami-1")])])
            Issue.record("a closed port answered")
        } catch let error as CloudError {
            #expect(error.message.contains("cannot reach EC2 at http://127.0.0.1:\(port)/"))
            #expect(!error.message.contains("\n"))
        }
        // Wall-clock time is a benchmark's business; here the mechanism: no connection retries inside the HTTP
        // client, and transport failures retried only within the window and the policy's attempts (the jittered
        // backoff, half to all of 0.25, 0.5, 1, 2, 4 s, can fit all six attempts in the 5 s window).
        #expect(EC2Client.transportRetryWindow <= .seconds(5))
        #expect((1...RetryPolicy.standard.maxAttempts).contains(counter.total), "\(counter.records)")
        #expect(counter.records.allSatisfy { $0.status == nil })
    }
}

/// Instance-role credentials from a fake IMDSv2 service on loopback.
@Suite("instance-role credentials (IMDSv2)")
struct InstanceMetadataTests {
    @Test("env_or_profile with no keys reads the role's keys: token PUT, role name, credentials; cached after")
    func imdsChain() async throws {
        try await withFakeIMDS(role: "bosh-director", key: "ASIAROLEKEY", secret: "role-secret") { imds in
            let env = [
                "HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
                "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:1",
            ]
            let config = try AWSCPIConfig(
                properties: .object(["aws": .object(["credentials_source": "env_or_profile", "region": "us-east-1"])]),
                environment: env)
            #expect(config.credentials == nil)
            #expect("\(config)".contains("metadata service at \(imds.endpoint)/"))
            let keys = try await config.settings.currentCredentials()
            #expect(keys.accessKeyID == "ASIAROLEKEY")
            #expect(keys.secretAccessKey == "role-secret")
            #expect(keys.sessionToken == "fake-session-token")
            #expect(keys.source.contains("bosh-director"))
            #expect(!"\(keys)".contains("role-secret"))
            _ = try await config.settings.currentCredentials()
            let log = try await imds.log()
            #expect(
                log == [
                    "PUT /latest/api/token no-token", "GET /latest/meta-data/iam/security-credentials/ token",
                    "GET /latest/meta-data/iam/security-credentials/bosh-director token",
                ])
        }
    }

    @Test("credentials about to expire are fetched again")
    func refresh() async throws {
        try await withFakeIMDS(expiration: "2020-01-01T00:00:00Z") { imds in
            let settings = try AWSSettings.resolve(
                environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint],
                region: "us-east-1")
            _ = try await settings.currentCredentials()
            _ = try await settings.currentCredentials()
            #expect(try await imds.log().filter { $0.hasPrefix("PUT") }.count == 2)
        }
    }

    @Test("signed with the role's keys, moto with IAM authentication accepts the CPI's calls")
    func roleKeysSignCalls() async throws {
        try await withMoto(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "4"]) { moto in
            let user = try JSONValue(
                parsingText: try runPython(
                    "botocore_ref.py", input: "{\"mode\": \"iam-user\", \"endpoint\": \"\(moto.motoURL)\"}"))
            let key = try #require(user["access_key"]?.stringValue)
            let secret = try #require(user["secret_key"]?.stringValue)
            try await withFakeIMDS(key: key, secret: secret) { imds in
                let config = try AWSCPIConfig(
                    properties: .object([
                        "aws": .object(["credentials_source": "env_or_profile", "region": "us-east-1"])
                    ]),
                    environment: [
                        "HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
                        "AWS_ENDPOINT_URL_EC2": moto.endpoint,
                    ])
                let images = try await AWSCPI(config: config).client.describeImages()
                #expect(!images.isEmpty)
            }
        }
    }

    @Test("disabled or unreachable metadata service: one line naming what to set; 1 s, one try per request")
    func noMetadata() async throws {
        do {
            _ = try AWSSettings.resolve(
                environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"], region: "us-east-1")
            Issue.record("no credentials were accepted")
        } catch {
            #expect(error.message.contains("AWS_ACCESS_KEY_ID"))
            #expect(error.message.contains("AWS_EC2_METADATA_DISABLED"))
        }
        let port = try freeLoopbackPort()
        let settings = try AWSSettings.resolve(
            environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)"],
            region: "us-east-1")
        if case .instanceRole(let provider) = settings.source {
            #expect(provider.timeout == .seconds(1))
            #expect(provider.attempts == 1)
        } else {
            Issue.record("no instance-role source")
        }
        do {
            _ = try await EC2Client(settings: settings).describeImages()
            Issue.record("a call without credentials was sent")
        } catch let error as AWSConfigurationError {
            #expect(error.message.hasPrefix("no AWS credentials: set AWS_ACCESS_KEY_ID"))
            #expect(error.message.contains("http://127.0.0.1:\(port)/"))
            #expect(!error.message.contains("\n"))
        }
    }

    @Test("the role document: errors and expiration")
    func decode() throws {
        let good = try InstanceMetadataCredentials.decodeRoleDocument(
            #"{"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","#
                + #""Expiration":"2030-05-06T07:08:09Z"}"#,
            role: "r")
        #expect(good.accessKeyID == "ASIA1")
        #expect(good.expiration == Date(timeIntervalSince1970: 1_904_281_689))
        #expect(throws: (any Error).self) {
            try InstanceMetadataCredentials.decodeRoleDocument(#"{"Code":"AssumeRoleUnauthorizedAccess"}"#, role: "r")
        }
        #expect(throws: (any Error).self) { try InstanceMetadataCredentials.decodeRoleDocument("<html>", role: "r") }
    }
}
