import SkiffCloud
import Foundation
import SkiffNet
import Testing

@testable import SkiffAgent

@Suite struct MbusURLTests {
    @Test func parsesBracketedIPv6WithCredentials() throws {
        let url = try MbusURL(parsing: "https://mbus:p%40ss@[fd00::4]:6868")
        #expect(url.user == "mbus")
        #expect(url.password == "p@ss")
        #expect(url.host == IPAddress("fd00::4"))
        #expect(url.port == 6868)
        #expect(url.baseURL == "https://[fd00::4]:6868")
    }

    @Test func parsesIPv4AndUnspecified() throws {
        #expect(try MbusURL(parsing: "https://mbus:pw@0.0.0.0:6868").host == IPAddress("0.0.0.0"))
        #expect(try MbusURL(parsing: "https://mbus:pw@[::]:6868/agent").host == IPAddress("::"))
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let url = try MbusURL(parsing: "https://mbus:topsecret@10.0.0.6:6868")
        #expect(!url.description.contains("topsecret"))
        #expect(url.description == "https://mbus:REDACTED@10.0.0.6:6868")
    }

    @Test(arguments: [
        "http://mbus:pw@10.0.0.6:6868", "https://mbus:pw@fd00::4:6868", "https://mbus:pw@10.0.0.6",
        "https://mbus:pw@agent.example:6868", "https://mbus:pw@[fd00::4:6868",
    ])
    func rejectsBadURLs(text: String) {
        #expect(throws: AgentError.self) { try MbusURL(parsing: text) }
        do {
            _ = try MbusURL(parsing: text)
        } catch {
            #expect(!error.message.contains("pw@"))
        }
    }
}

@Suite struct SettingsTests {
    static let boshSettings = """
        {"agent_id":"a1b2","vm":{"name":"vm-1"},
         "networks":{"default":{"type":"manual","ip":"fd00::4","netmask":"ffff:ffff:ffff:ffff::","gateway":"fd00::1",
           "dns":["fd00::1"],"default":["dns","gateway"],"cloud_properties":{"subnet":"s1"}}},
         "disks":{"system":"/dev/sda","ephemeral":"/dev/sdb","persistent":{"disk-1":{"path":"/dev/sdc"}}},
         "mbus":"https://mbus:pw@[::]:6868","ntp":["pool.ntp.org"],
         "blobstore":{"provider":"local","options":{"blobstore_path":"/var/vcap/micro_bosh/data/cache"}},
         "env":{"bosh":{"password":"*","mbus":{"cert":{"ca":"CA","certificate":"CERT","private_key":"KEY"}},
           "ipv6":{"enable":true},"unknown_field":1},"persistent_disk_fs":"ext4"}}
        """

    @Test func decodesBoshFieldNames() throws {
        let settings = try AgentSettings.decode(Data(Self.boshSettings.utf8), source: "settings.json")
        #expect(settings.agentID == "a1b2")
        #expect(settings.networks?["default"]?.address == IPAddress("fd00::4"))
        #expect(settings.networks?["default"]?.default == ["dns", "gateway"])
        #expect(settings.disks?.persistent?["disk-1"]?["path"] == "/dev/sdc")
        #expect(settings.env?.bosh?.mbus?.cert?.privateKey == "KEY")
        #expect(settings.env?.bosh?.ipv6?.enable == true)
        #expect(settings.env?.persistentDiskFS == "ext4")
        #expect(try settings.mbusURL().host == IPAddress("::"))
        let again = try AgentSettings.decode(try settings.encoded(), source: "again")
        #expect(again == settings)
    }

    @Test func errorsNameFileAndField() {
        let bad = #"{"agent_id": 5, "mbus": "https://mbus:pw@[::1]:6868"}"#
        #expect {
            try AgentSettings.decode(Data(bad.utf8), source: "/tmp/s.json")
        } throws: { error in
            let message = "\(error)"
            return message.contains("/tmp/s.json") && message.contains("agent_id")
        }
        let missing = #"{"agent_id": "x"}"#
        #expect {
            try AgentSettings.decode(Data(missing.utf8), source: "s.json")
        } throws: { "\($0)".contains("missing field 'mbus'") }
        let badMbus = #"{"agent_id": "x", "mbus": "https://mbus:hunter2@nowhere:6868"}"#
        #expect {
            try AgentSettings.decode(Data(badMbus.utf8), source: "s.json")
        } throws: { "\($0)".contains("host must be an IP address") && !"\($0)".contains("hunter2") }
    }

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
