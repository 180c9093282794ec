import Foundation
import SkiffCloud
import Testing

@testable import SkiffLocalCloud

@Suite("A local VM's instance metadata service (IMDSv2)")
struct LocalInstanceMetadataTests {
    let server = InstanceMetadataServer(
        metadata: InstanceMetadata(userData: Data(#"{"agent_id":"a"}"#.utf8), instanceID: "skiff-vm-1"))

    func token() -> String {
        let answer = server.respond(
            method: "PUT", target: "/latest/api/token", headers: ["x-aws-ec2-metadata-token-ttl-seconds": "60"])
        return String(decoding: answer.body, as: UTF8.self)
    }

    @Test func everyReadNeedsASessionToken() {
        #expect(server.respond(method: "GET", target: "/latest/user-data", headers: [:]).status == 401)
        #expect(
            server.respond(method: "GET", target: "/latest/user-data", headers: ["x-aws-ec2-metadata-token": "forged"])
                .status == 401)
        let answer = server.respond(
            method: "GET", target: "/latest/user-data", headers: ["x-aws-ec2-metadata-token": token()])
        #expect(answer.status == 200)
        #expect(String(decoding: answer.body, as: UTF8.self) == #"{"agent_id":"a"}"#)
    }

    @Test func tokensAreIssuedByPutWithATTLOfOneSecondToSixHours() {
        for ttl in ["0", "21601", "soon"] {
            #expect(
                server.respond(
                    method: "PUT", target: "/latest/api/token", headers: ["x-aws-ec2-metadata-token-ttl-seconds": ttl]
                ).status == 400)
        }
        #expect(server.respond(method: "PUT", target: "/latest/api/token", headers: [:]).status == 400)
        #expect(server.respond(method: "GET", target: "/latest/api/token", headers: [:]).status == 405)
        #expect(
            server.respond(
                method: "PUT", target: "/latest/api/token",
                headers: ["x-aws-ec2-metadata-token-ttl-seconds": "60", "x-forwarded-for": "10.0.0.1"]
            ).status == 403)
        #expect(token().count == 44)
        #expect(token() != token())
    }

    @Test func servesTheInstanceIDAndAnEmptyKeyWhenThereIsNone() {
        let headers = ["x-aws-ec2-metadata-token": token()]
        let id = server.respond(method: "GET", target: "/latest/meta-data/instance-id", headers: headers)
        #expect(String(decoding: id.body, as: UTF8.self) == "skiff-vm-1")
        let key = server.respond(
            method: "GET", target: "/latest/meta-data/public-keys/0/openssh-key", headers: headers)
        #expect(key.status == 200 && key.body.isEmpty)
        #expect(server.respond(method: "GET", target: "/latest/meta-data/iam/info", headers: headers).status == 404)
        #expect(server.respond(method: "POST", target: "/latest/user-data", headers: headers).status == 405)
    }

    @Test func metadataIsWrittenForTheRootUserAloneAndReadBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-md-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metadata = InstanceMetadata(userData: Data("secret".utf8), instanceID: "i-1", publicKey: "ssh-ed25519 K")
        try metadata.write(to: directory)
        #expect(try InstanceMetadata.read(from: directory) == metadata)
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/user-data")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(throws: CloudError.self) { try InstanceMetadata.read(from: directory + "/none") }
    }
}
