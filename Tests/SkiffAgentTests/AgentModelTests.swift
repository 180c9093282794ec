import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffNet
import Testing

@testable import SkiffAgent

@Suite struct AgentPathsTests {
    @Test func rebasesVarVcapPaths() {
        let paths = AgentPaths(root: "/tmp/r")
        #expect(paths.rebase("/var/vcap/micro_bosh/data/cache") == "/tmp/r/micro_bosh/data/cache")
        #expect(paths.rebase("/srv/blobs") == "/srv/blobs")
        #expect(AgentPaths().rebase("/var/vcap/x") == "/var/vcap/x")
    }
}

@Suite struct MonitTests {
    @Test func parsesBoshStyleMonitFile() throws {
        let text = """
            check process nginx
              with pidfile /var/vcap/sys/run/nginx/nginx.pid
              start program "/var/vcap/jobs/nginx/bin/ctl start" with timeout 60 seconds
              stop program "/var/vcap/jobs/nginx/bin/ctl stop"
              group vcap
              depends on dhclient_ipv6
              if failed port 80 then restart # a comment
              if totalmem > 100 Mb for 5 cycles then exec "/bin/true"

            check file conf with path /etc/x
            check process dhclient_ipv6 with pidfile /var/vcap/sys/run/dh.pid
              start program = "/bin/sh -c 'echo $$ > /var/vcap/sys/run/dh.pid'"
              group vcap
            """
        let processes = try MonitFile.parse(text, job: "nginx")
        #expect(processes.count == 2)
        #expect(processes[0].name == "nginx")
        #expect(processes[0].pidfile == "/var/vcap/sys/run/nginx/nginx.pid")
        #expect(processes[0].startProgram == "/var/vcap/jobs/nginx/bin/ctl start")
        #expect(processes[0].stopProgram == "/var/vcap/jobs/nginx/bin/ctl stop")
        #expect(processes[0].groups == ["vcap"])
        #expect(processes[0].dependsOn == ["dhclient_ipv6"])
        #expect(processes[1].startProgram == "/bin/sh -c 'echo $$ > /var/vcap/sys/run/dh.pid'")
        #expect(processes[1].stopProgram == nil)
        #expect(Supervisor.dependencyOrder(processes) == ["dhclient_ipv6", "nginx"])
    }

    @Test func missingPidfileNamesJobAndLine() {
        let text = "\n\ncheck process web\n  start program \"/bin/true\"\n"
        #expect {
            try MonitFile.parse(text, job: "webjob", file: "jobs/webjob/monit")
        } throws: { error in
            let message = "\(error)"
            return message.contains("jobs/webjob/monit:3") && message.contains("'web'") && message.contains("pidfile")
        }
    }

    @Test func unterminatedQuoteIsAnError() {
        #expect(throws: AgentError.self) {
            try MonitFile.parse("check process a with pidfile /p\n start program \"/bin/true\n", job: "j")
        }
    }
}

@Suite struct DigestTests {
    @Test func parsesAndVerifiesMultiDigests() throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = (root as NSString).appendingPathComponent("f")
        try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
        let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        try BlobDigest(parsing: sha1).verify(file: file, blob: "b")
        try BlobDigest(parsing: "sha256:\(sha256)").verify(file: file, blob: "b")
        try BlobDigest(parsing: "sha1:\(sha1);sha256:\(sha256)").verify(file: file, blob: "b")
        #expect(BlobDigest(.sha1, hex: sha1).description == sha1)
        #expect(throws: AgentError.self) { try BlobDigest(parsing: "sha256:00").verify(file: file, blob: "b") }
        #expect(throws: AgentError.self) { try BlobDigest(parsing: "md5:00") }
    }
}

@Suite struct ProtocolShapeTests {
    @Test func requestAndResponseUseBoshShapes() throws {
        let request = AgentRequest(method: "ping", arguments: [], replyTo: "director-1")
        let text = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(text.contains(#""reply_to":"director-1""#))
        let exception = try JSONDecoder().decode(
            AgentResponse.self, from: Data(#"{"exception":{"message":"unknown message foo"}}"#.utf8))
        #expect(exception == .exception("unknown message foo"))
        let value = try JSONDecoder().decode(AgentResponse.self, from: Data(#"{"value":{"agent_task_id":"t"}}"#.utf8))
        #expect(value == .value(["agent_task_id": "t"]))
        let spec = ApplySpec(
            deployment: "d", name: "nginx", packages: [:],
            renderedTemplatesArchive: .init(blobstoreID: "id", sha1: "sha256:00"))
        let encoded = try JSONValue(encoding: spec)
        #expect(encoded["rendered_templates_archive"]?["blobstore_id"] == "id")
        #expect(encoded["configuration_hash"] == "unused-configuration-hash")
    }

    @Test func blobPathUsesFirstByteOfSHA1OfTheID() {
        // SHA-1("4d6da9a2") starts with 0x3b... ; check the shape and stability rather than a constant.
        let path = AgentClient.blobPath("4d6da9a2-0000")
        let parts = path.split(separator: "/")
        #expect(parts.count == 3 && parts[0] == "blobs" && parts[1].count == 2 && parts[2] == "4d6da9a2-0000")
        #expect(AgentClient.blobPath("4d6da9a2-0000") == path)
    }
}
