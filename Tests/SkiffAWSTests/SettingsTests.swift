import Foundation
import SkiffAWS
import SkiffCloud
import SkiffNet
import Testing

@Suite("credential chain, region and endpoint")
struct SettingsTests {
    /// A temporary HOME with ~/.aws files, removed afterwards.
    func withHome(credentials: String?, config: String?, _ body: (String) throws -> Void) throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        if let credentials {
            try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        }
        if let config { try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8) }
        try body(home)
    }

    @Test("environment keys win over the profile; region from AWS_REGION before AWS_DEFAULT_REGION")
    func environmentFirst() throws {
        try withHome(
            credentials: "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = filesecret\n", config: nil
        ) {
            (home: String) throws in
            let settings = try AWSSettings.resolve(environment: [
                "HOME": home, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "envsecret",
                "AWS_SESSION_TOKEN": "envtoken", "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-west-2",
                "AWS_PROFILE": "default",
            ])
            #expect(settings.credentials?.accessKeyID == "AKIDENV")
            #expect(settings.credentials?.sessionToken == "envtoken")
            #expect(settings.region == "eu-central-1")
            #expect(settings.endpoint.url == "https://ec2.eu-central-1.amazonaws.com/")
            #expect(!"\(settings)".contains("envsecret"))
        }
    }

    @Test("AWS_PROFILE reads ~/.aws/credentials and the profile's region and ec2_endpoint from ~/.aws/config")
    func profile() throws {
        let credentials = """
            # comment
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = defaultsecret

            [lab]
            aws_access_key_id = AKIDLAB
            aws_secret_access_key = labsecret ; trailing comment
            """
        let config = """
            [default]
            region = us-east-1
            [profile lab]
            region = ap-south-1
            ec2_endpoint = http://[::1]:5000
            """
        try withHome(credentials: credentials, config: config) { (home: String) throws in
            let settings = try AWSSettings.resolve(environment: ["HOME": home, "AWS_PROFILE": "lab"])
            #expect(settings.credentials?.accessKeyID == "AKIDLAB")
            #expect(settings.credentials?.secretAccessKey == "labsecret")
            #expect(settings.region == "ap-south-1")
            #expect(settings.endpoint.url == "http://[::1]:5000/")
            #expect(settings.endpoint.hostHeader == "[::1]:5000")
            #expect(settings.endpoint.host == .address(.v6(try IPv6Address(parsing: "::1"))))
            let fallback = try AWSSettings.resolve(environment: ["HOME": home])
            #expect(fallback.credentials?.accessKeyID == "AKIDDEFAULT")
            #expect(fallback.region == "us-east-1")
        }
    }

    func url(_ env: [String: String]) throws -> String { try AWSSettings.resolve(environment: env).endpoint.url }

    @Test("endpoint precedence: AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, the services section")
    func endpoints() throws {
        let config = """
            [default]
            region = us-east-2
            services = local
            [services local]
            ec2 =
              endpoint_url = http://127.0.0.1:4566
            """
        let keys = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"]
        try withHome(credentials: nil, config: config) { (home: String) throws in
            var env = keys.merging(["HOME": home]) { $1 }
            #expect(try url(env) == "http://127.0.0.1:4566/")
            env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7000"
            #expect(try url(env) == "http://127.0.0.1:7000/")
            env["AWS_ENDPOINT_URL_EC2"] = "https://ec2.example.test:8443"
            #expect(try url(env) == "https://ec2.example.test:8443/")
            env["AWS_USE_DUALSTACK_ENDPOINT"] = "true"
            env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
            #expect(try url(env) == "https://ec2.us-east-2.api.aws/")
        }
    }

    @Test("missing keys, region or profile fail with one line naming what to set")
    func failures() throws {
        try withHome(credentials: nil, config: "[profile sso]\nsso_start_url = https://x\nregion = us-east-1\n") {
            (home: String) throws in
            #expect(throws: AWSConfigurationError.self) {
                try AWSSettings.resolve(environment: ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"])
            }
            do {
                _ = try AWSSettings.resolve(environment: [
                    "HOME": home, "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s",
                ])
                Issue.record("expected a missing-region error")
            } catch let error as AWSConfigurationError {
                #expect(error.message.contains("AWS_REGION"))
            }
            do {
                _ = try AWSSettings.resolve(environment: ["HOME": home, "AWS_PROFILE": "sso"])
                Issue.record("expected an unsupported-profile error")
            } catch let error as AWSConfigurationError {
                #expect(error.message.contains("sso_start_url"))
            }
            do {
                _ = try AWSSettings.resolve(environment: ["HOME": home, "AWS_PROFILE": "nope"])
                Issue.record("expected an unknown-profile error")
            } catch let error as AWSConfigurationError {
                #expect(error.message.contains("'nope'"))
                #expect(!error.message.contains("\n"))
            }
            #expect(throws: AWSConfigurationError.self) {
                try AWSSettings.resolve(environment: [
                    "HOME": home, "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL_EC2": "ftp://x",
                ])
            }
        }
    }

    @Test("CPI properties: static keys, or env_or_profile from the environment; the secret stays out of errors")
    func cpiProperties() throws {
        let staticConfig = try AWSCPIConfig(
            properties: .object([
                "aws": .object([
                    "access_key_id": "AKIDCPI", "secret_access_key": "cpi-secret", "region": "eu-west-1",
                    "default_key_name": "bosh", "default_security_groups": .array(["sg-1", "web"]),
                    "ec2_endpoint": "ec2.eu-west-1.amazonaws.com",
                ]),
                "agent": .object(["mbus": "https://mbus:pw@[::]:6868", "ntp": .array(["time.aws.com"])]),
            ]))
        #expect(staticConfig.credentials?.accessKeyID == "AKIDCPI")
        #expect(staticConfig.endpoint.url == "https://ec2.eu-west-1.amazonaws.com/")
        #expect(staticConfig.defaultSecurityGroups == ["sg-1", "web"])
        #expect(staticConfig.mbus == "https://mbus:pw@[::]:6868")
        for text in ["\(staticConfig)", String(reflecting: staticConfig)] {
            #expect(!text.contains("cpi-secret"))
            #expect(!text.contains("mbus:pw"))
        }
        let fromEnv = try AWSCPIConfig(
            properties: .object([
                "cloud_provider": .object([
                    "properties": .object([
                        "aws": .object(["credentials_source": "env_or_profile", "region": "us-west-2"])
                    ])
                ])
            ]),
            environment: [
                "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "HOME": "/nonexistent",
            ])
        #expect(fromEnv.credentials?.accessKeyID == "AKIDENV")
        #expect(fromEnv.region == "us-west-2")
        do {
            _ = try AWSCPIConfig(properties: .object(["aws": .object(["access_key_id": "A", "region": "r"])]))
            Issue.record("a config without a secret was accepted")
        } catch {
            #expect(error.message.contains("secret_access_key"))
        }
    }

    @Test("vars files are written 0600 and whole")
    func privateFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-vars-\(UUID().uuidString).yml")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AtomicFile.write("a: \"1\"\n", to: path, mode: 0o600)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "a: \"1\"\n")
    }
}
