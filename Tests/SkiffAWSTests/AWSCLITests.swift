import Foundation
import SkiffAWS
import SkiffCloud
import Testing

/// The `skiff aws` and `skiff cpi aws` commands as a user runs them, against moto.
@Suite("skiff aws and skiff cpi aws commands")
struct AWSCLITests {
    func environment(_ moto: MotoServer, secret: String = "skiff-test-secret", key: String = "AKIDSKIFFTEST")
        -> [String: String]
    {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        env["AWS_ACCESS_KEY_ID"] = key
        env["AWS_SECRET_ACCESS_KEY"] = secret
        env["AWS_REGION"] = "us-east-1"
        env["AWS_ENDPOINT_URL_EC2"] = moto.endpoint
        env["HOME"] = FileManager.default.temporaryDirectory.path
        return env
    }

    @Test("aws up writes a 0600 vars file, dry-run plans, down deletes; output stays on one line per error")
    func upDown() async throws {
        try await withMoto { moto in
            let env = environment(moto)
            let varsFile = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-vars-\(UUID()).yml")
                .path
            defer { try? FileManager.default.removeItem(atPath: varsFile) }

            let plan = try runChild(skiffExecutable, ["aws", "up", "--name", "cli", "--dry-run"], environment: env)
            #expect(plan.status == 0)
            #expect(plan.stdout.contains("create  vpc"))
            #expect(plan.stdout.contains("tcp/6868"))
            #expect(try await moto.log().allSatisfy { $0.action.hasPrefix("Describe") })

            // The dry run above warmed moto's EC2 backend up, so this measures skiff: under 2 s, with debug output.
            var debugEnv = env
            debugEnv["SKIFF_DEBUG"] = "1"
            let clock = ContinuousClock()
            let start = clock.now
            let up = try runChild(
                skiffExecutable, ["aws", "up", "--name", "cli", "--az", "us-east-1b", "--vars-out", varsFile],
                environment: debugEnv)
            let elapsed = clock.now - start
            #expect(elapsed < .seconds(2), "skiff aws up took \(elapsed)")
            #expect(up.stderr.contains("skiff: debug: CreateVpc try 1: HTTP 200"))
            #expect(!up.stderr.contains("skiff-test-secret"))
            #expect(up.status == 0, "\(up.stderr)")
            #expect(up.stdout.isEmpty)
            #expect(up.stderr.contains("EC2 calls"))
            let attributes = try FileManager.default.attributesOfItem(atPath: varsFile)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let vars = try String(contentsOfFile: varsFile, encoding: .utf8)
            for key in [
                "region", "az", "subnet_id", "security_group", "internal_cidr", "internal_gw", "internal_ip",
                "ipv6_cidr", "ipv6_address",
            ] {
                #expect(vars.contains("\n\(key): \"") || vars.hasPrefix("\(key): \""), "\(key) missing")
            }
            #expect(vars.contains("az: \"us-east-1b\""))
            #expect(!vars.contains("skiff-test-secret"))

            // The example manifest consumes the vars file.
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            let store = varsFile + ".creds.yml"
            defer { try? FileManager.default.removeItem(atPath: store) }
            let manifest = try runChild(
                skiffExecutable,
                ["int", "\(repository)/examples/nginx-ipv6/aws.yml", "-l", varsFile, "--vars-store", store],
                environment: env)
            #expect(manifest.status == 0, "\(manifest.stderr)")
            let ipv6 = try #require(
                vars.split(separator: "\n").first { $0.hasPrefix("ipv6_address:") }?.split(separator: "\"").dropFirst()
                    .first)
            #expect(manifest.stdout.contains("@[\(ipv6)]:6868"))
            #expect(manifest.stdout.contains("- \(ipv6)"))

            let again = try runChild(skiffExecutable, ["aws", "up", "--name", "cli"], environment: env)
            #expect(again.status == 0)
            #expect(again.stdout == vars)
            #expect(again.stderr.contains("(0 mutating)"))

            let down = try runChild(skiffExecutable, ["aws", "down", "--name", "cli"], environment: env)
            #expect(down.status == 0, "\(down.stderr)")
            #expect(down.stderr.contains("delete  vpc"))
            let bad = try runChild(skiffExecutable, ["aws", "up", "--name", "no spaces"], environment: env)
            #expect(bad.status == 1)
            #expect(bad.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("a wrong secret under moto's IAM authentication fails with one AuthFailure line that hides the secret")
    func authFailure() async throws {
        try await withMoto { moto in
            try await moto.control("POST", "/moto-api/reset-auth", body: "3")
            let user = try JSONDecoder().decode(
                IAMUser.self,
                from: Data(
                    try runPython(
                        "botocore_ref.py", input: "{\"mode\": \"iam-user\", \"endpoint\": \"\(moto.motoURL)\"}"
                    ).utf8))
            let good = try runChild(
                skiffExecutable, ["aws", "up", "--name", "authcli"],
                environment: environment(moto, secret: user.secret_key, key: user.access_key))
            #expect(good.status == 0, "\(good.stderr)")
            let wrong = try runChild(
                skiffExecutable, ["aws", "up", "--name", "authcli"],
                environment: environment(moto, secret: "wrong-secret-value", key: user.access_key))
            #expect(wrong.status == 1)
            let lines = wrong.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(wrong.stderr)")
            #expect(lines.first?.hasPrefix("skiff: EC2 ") == true)
            #expect(wrong.stderr.contains("AuthFailure"))
            #expect(!wrong.stderr.contains("wrong-secret-value"))
            try await moto.control("POST", "/moto-api/reset-auth", body: "inf")
        }
    }

    @Test("skiff cpi aws answers info and create_vm with IPv6, and refuses m3.medium before RunInstances")
    func cpiExecutable() async throws {
        try await withMoto { moto in
            let client = moto.client()
            let vars = try #require(
                try await NetworkEnvironment(client: client, spec: try NetworkEnvironmentSpec(name: "cpicli")).up().vars
            )
            let ami = try #require(try await client.describeImages().first?.id)
            let configFile = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cpi-\(UUID()).yml")
                .path
            defer { try? FileManager.default.removeItem(atPath: configFile) }
            try """
            aws:
              access_key_id: AKIDSKIFFTEST
              secret_access_key: skiff-test-secret
              region: us-east-1
              default_key_name: bosh
              default_security_groups: [\(vars.securityGroupID)]
              ec2_endpoint: \(moto.endpoint)
            agent:
              mbus: https://mbus:pw@0.0.0.0:6868
            """.write(toFile: configFile, atomically: true, encoding: .utf8)

            func call(_ method: String, _ arguments: String) throws -> JSONValue {
                let request =
                    "{\"method\": \"\(method)\", \"arguments\": \(arguments), \"context\": {\"director_uuid\": \"skiff\"}, \"api_version\": 2}"
                let result = try runChild(skiffExecutable, ["cpi", "aws", "--config", configFile], input: request)
                #expect(result.status == 0)
                return try JSONValue(parsingText: result.stdout)
            }
            let info = try call("info", "[]")
            #expect(info["result"]?["stemcell_formats"] == .array(["aws-light"]))

            let stemcell = try call("create_stemcell", "[\"/tmp/image\", {\"ami\": {\"us-east-1\": \"\(ami)\"}}]")
            #expect(stemcell["result"]?.stringValue == ami)

            let networks = """
                {"default": {"type": "manual", "ip": "\(vars.internalIP)", "netmask": "255.255.255.0",
                             "gateway": "\(vars.internalGateway)", "cloud_properties": {"subnet": "\(vars.subnetID)"}},
                 "ipv6": {"type": "manual", "ip": "\(vars.ipv6Address)", "netmask": "ffff:ffff:ffff:ffff::",
                          "cloud_properties": {"subnet": "\(vars.subnetID)"}}}
                """
            try await moto.resetLog()
            let refused = try call(
                "create_vm", "[\"agent\", \"\(ami)\", {\"instance_type\": \"m3.medium\"}, \(networks), [], {}]")
            #expect(refused["error"]?["type"]?.stringValue == "Bosh::Clouds::CloudError")
            #expect(refused["error"]?["message"]?.stringValue?.contains("m3.medium has no IPv6") == true)
            #expect(!(try await moto.log()).contains { $0.action == "RunInstances" })

            let created = try call(
                "create_vm", "[\"agent\", \"\(ami)\", {\"instance_type\": \"t3.small\"}, \(networks), [], {}]")
            let cid = try #require(created["result"]?.arrayValue?.first?.stringValue, "\(created)")
            let instance = try #require(try await client.describeInstances(ids: [cid]).first)
            #expect(instance.ipv6Addresses.map(\.description) == [vars.ipv6Address.description])
            #expect(try call("has_vm", "[\"\(cid)\"]")["result"] == .bool(true))
            #expect(try call("delete_vm", "[\"\(cid)\"]")["error"] == .null)
            #expect(try call("has_vm", "[\"\(cid)\"]")["result"] == .bool(false))
        }
    }
}
