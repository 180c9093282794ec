import Foundation
import SkiffAWS
import Testing

struct BotocoreSignature: Decodable {
    let canonical_request: String
    let string_to_sign: String
    let signature: String
}

struct IAMUser: Decodable {
    let access_key: String
    let secret_key: String
}

@Suite("SigV4")
struct SigningTests {
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    func compare(host: String, url: String, body: String, token: String? = nil) throws {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: token
        )
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
        let headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", host)]
        let ours = signer.sign(headers: headers, body: Array(body.utf8), date: Self.date)
        var sent: [String: String] = [:]
        for (name, value) in ours.headers where name != "Authorization" { sent[name] = value }
        let request: [String: Any?] = [
            "mode": "sign", "method": "POST", "url": url, "headers": sent, "body": body,
            "access_key": credentials.accessKeyID, "secret_key": credentials.secretAccessKey, "token": token,
            "region": "us-east-1", "amz_date": SigV4Signer.amzDate(Self.date),
        ]
        let json = String(
            decoding: try JSONSerialization.data(withJSONObject: request.compactMapValues { $0 }), as: UTF8.self)
        let reference = try JSONDecoder().decode(
            BotocoreSignature.self, from: Data(try runPython("botocore_ref.py", input: json).utf8))
        #expect(ours.canonicalRequest == reference.canonical_request)
        #expect(ours.stringToSign == reference.string_to_sign)
        #expect(ours.signature == reference.signature)
    }

    @Test("the signature of AWS's published SigV4 example (IAM ListUsers, 2015-08-30T12:36:00Z)")
    func publishedExample() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "iam")
        let signature = signer.sign(
            method: "GET", query: "Action=ListUsers&Version=2010-05-08",
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", "iam.amazonaws.com"),
            ],
            body: [], date: Self.date)
        #expect(signature.signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        #expect(
            signature.stringToSign.hasSuffix(
                "20150830/us-east-1/iam/aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        )
    }

    @Test("matches botocore's SigV4Auth for a plain EC2 POST")
    func plain() throws {
        try compare(
            host: "ec2.us-east-1.amazonaws.com", url: "https://ec2.us-east-1.amazonaws.com/",
            body: EC2Parameters().formBody(action: "DescribeVpcs"))
    }

    @Test("matches botocore with a port, an IPv6 host, a session token and awkward values")
    func awkward() throws {
        var parameters = EC2Parameters()
        parameters.set("GroupDescription", "skiff env / demo * ~ ü ")
        parameters.set("Filter.1.Name", "tag:skiff:env")
        parameters.set("Ipv6CidrBlock", "2600:1f16:a62:5c00::/64")
        let body = parameters.formBody(action: "CreateSecurityGroup")
        #expect(body.contains("skiff+env+%2F+demo+%2A+~+%C3%BC+"))
        try compare(host: "127.0.0.1:5055", url: "http://127.0.0.1:5055/", body: body, token: "FQoGZXIvYXdzE//token=")
        try compare(host: "[::1]:5055", url: "http://[::1]:5055/", body: body)
    }

    @Test("the signing key depends on the secret; the description never shows it")
    func secretStaysSecret() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret-value", sessionToken: "tok-secret")
        let settings = AWSSettings(credentials: credentials, region: "eu-west-1")
        for text in ["\(credentials)", String(reflecting: credentials), "\(settings)"] {
            #expect(!text.contains("very-secret-value"))
            #expect(!text.contains("tok-secret"))
        }
        let a = SigV4Signer(credentials: credentials, region: "eu-west-1")
            .sign(headers: [("Host", "h")], body: [], date: Self.date)
        let b = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "other"), region: "eu-west-1"
        )
        .sign(headers: [("Host", "h")], body: [], date: Self.date)
        #expect(a.signature != b.signature)
        #expect(a.canonicalRequest.contains("x-amz-security-token:tok-secret"))
    }

    @Test("moto with IAM authentication accepts our signatures and refuses a wrong secret with AuthFailure")
    func motoAuthMode() async throws {
        try await withMoto { moto in
            try await moto.control("POST", "/moto-api/reset-auth", body: "3")
            let user = try JSONDecoder().decode(
                IAMUser.self,
                from: Data(
                    try runPython(
                        "botocore_ref.py", input: "{\"mode\": \"iam-user\", \"endpoint\": \"\(moto.motoURL)\"}"
                    ).utf8))
            let good = moto.client(key: user.access_key, secret: user.secret_key)
            let spec = try NetworkEnvironmentSpec(name: "auth")
            let vpc = try await good.createVpc(
                cidr: spec.vpcCIDR, tags: spec.tags("vpc") + [EC2Tag("note", "a b/c*d~e")])
            #expect(vpc.id.hasPrefix("vpc-"))
            #expect(try await good.describeVpcs(filters: [spec.ownerFilter]).map(\.id) == [vpc.id])

            let bad = moto.client(key: user.access_key, secret: "not-the-secret")
            await #expect {
                _ = try await bad.describeVpcs()
            } throws: { error in
                guard let error = error as? EC2Error else { return false }
                let text = "\(error)"
                return error.code == "AuthFailure" && error.status == 401 && !text.contains("\n")
                    && !text.contains("not-the-secret") && !text.contains(user.secret_key)
            }
            // AuthFailure is not retried.
            #expect(try await moto.log().filter { $0.status == 401 }.count == 1)
            try await moto.control("POST", "/moto-api/reset-auth", body: "inf")
        }
    }
}
