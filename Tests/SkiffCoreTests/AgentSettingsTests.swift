import Foundation
import SkiffAWS
import SkiffCore
import SkiffLocalCloud
import SkiffNet
import Testing

@Suite("mbus URL")
struct MbusURLTests {
    @Test func parsesBracketedIPv6WithCredentials() throws {
        let url = try MbusURL(parsing: "https://mbus:p%40ss@[fd00::4]:6868")
        #expect(url.user == "mbus")
        #expect(url.password == "p@ss")
        #expect(url.host == IPAddress("fd00::4"))
        #expect(url.port == 6868)
        #expect(url.baseURL == "https://[fd00::4]:6868")
        #expect(url.text == "https://mbus:p%40ss@[fd00::4]:6868")
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

    @Test func textRoundTrips() throws {
        for text in ["https://mbus:a%2Fb%3Ac@[fd00::4]:6868", "https://0.0.0.0:6868", "https://u@10.0.0.1:1"] {
            #expect(try MbusURL(parsing: text).text == text)
        }
    }

    @Test(arguments: [
        "http://mbus:pw@10.0.0.6:6868", "https://mbus:pw@fd00::4:6868", "https://mbus:pw@10.0.0.6",
        "https://mbus:pw@agent.example:6868", "https://mbus:pw@[fd00::4:6868",
    ])
    func rejectsBadURLs(text: String) {
        #expect(throws: CloudError.self) { try MbusURL(parsing: text) }
        do {
            _ = try MbusURL(parsing: text)
        } catch {
            #expect(!error.message.contains("pw@"))
        }
    }
}

@Suite("Agent settings")
struct AgentSettingsTests {
    static let boshSettings = """
        {"agent_id":"a1b2","vm":{"name":"vm-1"},
         "networks":{"default":{"type":"manual","ip":"fd00::4","netmask":"ffff:ffff:ffff:ffff::","gateway":"fd00::1",
           "dns":["fd00::1"],"default":["dns","gateway"],"cloud_properties":{"subnet":"s1"},"preconfigured":true}},
         "disks":{"system":"/dev/sda","ephemeral":"/dev/sdb","persistent":{"disk-1":{"path":"/dev/sdc"}}},
         "mbus":"https://mbus:pw@[::]:6868","ntp":["pool.ntp.org"],
         "blobstore":{"provider":"local","options":{"blobstore_path":"/var/vcap/micro_bosh/data/cache"}},
         "env":{"bosh":{"password":"*","mbus":{"cert":{"ca":"CA","certificate":"CERT","private_key":"KEY"}},
           "ipv6":{"enable":true},"unknown_field":1},"persistent_disk_fs":"ext4"}}
        """

    @Test("reads bosh's member names into typed values")
    func decodesBoshFieldNames() throws {
        let settings = try AgentSettings.decode(Data(Self.boshSettings.utf8), source: "settings.json")
        #expect(settings.agentID == "a1b2")
        #expect(settings.networks["default"]?.ip == IPAddress("fd00::4"))
        #expect(settings.networks["default"]?.gateway == IPAddress("fd00::1"))
        #expect(settings.networks["default"]?.defaults == ["dns", "gateway"])
        #expect(settings.networks["default"]?.other["preconfigured"] == true)
        #expect(settings.disks.persistent["disk-1"]?["path"] == "/dev/sdc")
        #expect(settings.mbusCertificate?.privateKey == "KEY")
        #expect(settings.persistentDiskFS == "ext4")
        #expect(settings.mbus.host == IPAddress("::"))
        #expect(settings.env["bosh"]?["unknown_field"] == 1)
        let again = try AgentSettings.decode(settings.json.encoded(), source: "again")
        #expect(again == settings)
        #expect(again.json == (try JSONValue(parsing: Data(Self.boshSettings.utf8))))
    }

    @Test("errors name the file and the field, never the password")
    func errorsNameFileAndField() {
        let bad = #"{"agent_id": 5, "mbus": "https://mbus:pw@[::1]:6868"}"#
        #expect {
            try AgentSettings.decode(Data(bad.utf8), source: "/tmp/s.json")
        } throws: { "\($0)".contains("/tmp/s.json: agent_id: must be a string") }
        let missing = #"{"agent_id": "x"}"#
        #expect {
            try AgentSettings.decode(Data(missing.utf8), source: "s.json")
        } throws: { "\($0)".contains("s.json: mbus: is missing") }
        let badMbus = #"{"agent_id": "x", "mbus": "https://mbus:hunter2@nowhere:6868"}"#
        #expect {
            try AgentSettings.decode(Data(badMbus.utf8), source: "s.json")
        } throws: { "\($0)".contains("host must be an IP address") && !"\($0)".contains("hunter2") }
        let badIP = #"{"agent_id": "x", "mbus": "https://m:p@[::]:1", "networks": {"n": {"ip": "fd00::zz"}}}"#
        #expect {
            try AgentSettings.decode(Data(badIP.utf8), source: "s.json")
        } throws: { "\($0)".contains("s.json") && "\($0)".contains("networks.n.ip") }
    }

    static let networks: [String: CPINetwork] = [
        "v6": CPINetwork(
            ip: IPAddress("fd00:10::5"), netmask: IPAddress("ffff:ffff:ffff:ffff::"), gateway: IPAddress("fd00:10::1"),
            dns: [IPAddress("fd00:10::53")].compactMap { $0 }, defaults: ["dns", "gateway"],
            cloudProperties: ["subnet": "subnet-1"]),
        "v4": CPINetwork(
            ip: IPAddress("10.0.0.5"), netmask: IPAddress("255.255.255.0"), gateway: IPAddress("10.0.0.1")),
    ]
    static let env: [String: JSONValue] = [
        "bosh": [
            "mbus": ["cert": ["ca": "CA", "certificate": "CERT", "private_key": "KEY"]], "password": "*",
            "tags": ["team": "core"],
        ],
        "persistent_disk_fs": "ext4",
    ]

    /// What the agent does with the bytes a CPI wrote: `AgentSettings.load` on the file, or decode of user data.
    func agentReads(_ bytes: Data, source: String) throws -> AgentSettings {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-settings-\(UUID()).json").path
        try AtomicFile.write(bytes, to: path, mode: 0o600)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try AgentSettings.load(path: path)
    }

    @Test("what the local cloud writes, the agent reads back identically")
    func localCloudRoundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-local-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = LocalCloudConfig(stateDirectory: directory, mbus: "https://mbus:s%3Acret@[::]:6868")
        config.ntp = ["time.example"]
        let cloud = LocalCloud(config: config)
        let written = try cloud.agentSettings(
            agentID: "agent-1", vmCID: "skiff-vm-1", networks: Self.networks, env: Self.env)
        let file = directory + "/settings.json"
        try written.write(to: file)
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let read = try agentReads(bytes, source: file)
        #expect(read == written)
        #expect(read.json == (try JSONValue(parsing: bytes)))
        #expect(read.mbus.password == "s:cret")
        #expect(read.networks["v6"]?.ip == IPAddress("fd00:10::5"))
        #expect(read.mbusCertificate?.certificate == "CERT")
        #expect(read.ntp == ["time.example"])
        #expect(read.blobstore == .local)
        // The AWS CPI's user data, with the networks the local cloud already set up marked so.
        #expect(read.server?.name == "skiff-vm-1")
        #expect(read.networks["v6"]?.other["preconfigured"] == true)
        #expect(read.networks["v6"]?.other["use_dhcp"] == nil)
        #expect(read.nameservers == [IPAddress("fd00:10::53")].compactMap { $0 })
    }

    @Test("what the AWS CPI puts in user data, the agent reads back identically")
    func awsUserDataRoundTrip() throws {
        let config = AWSCPIConfig(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"), region: "us-east-1",
            mbus: "https://mbus:pw@0.0.0.0:6868", ntp: ["169.254.169.123"])
        let cpi = AWSCPI(config: config)
        let written = try cpi.agentSettings(
            agentID: "agent-2", vmName: "vm-2", networks: CPINetwork.json(Self.networks), env: .object(Self.env),
            ephemeral: false)
        let userData = Data(written.json.description.utf8)
        let read = try agentReads(userData, source: "user data")
        #expect(read == written)
        #expect(read.json == (try JSONValue(parsing: userData)))
        #expect(read.server?.name == "vm-2")
        #expect(read.nameservers == [IPAddress("fd00:10::53")].compactMap { $0 })
        #expect(read.networks["v4"]?.other["use_dhcp"] == true)
        #expect(read.disks.ephemeral == .null)
        #expect(read.json["disks"]?["ephemeral"] == .null)
        #expect(read.blobstore == nil)
    }
}

@Suite("Source location")
struct SourceLocationTests {
    @Test func describesWhatIsKnown() {
        #expect(SourceLocation(file: "m.yml", line: 4, field: "networks.0").description == "m.yml:4: networks.0")
        #expect(SourceLocation(file: "m.yml").description == "m.yml")
        #expect(SourceLocation(field: "cloud_provider.mbus").prefixing("bad") == "cloud_provider.mbus: bad")
        #expect(SourceLocation().prefixing("bad") == "bad")
        #expect(SourceLocation(file: "s.json").appending(field: "env").description == "s.json: env")
    }
}
