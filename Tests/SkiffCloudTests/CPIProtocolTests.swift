import Foundation
import SkiffCloud
import SkiffNet
import Testing

/// A provider that records what it was asked and answers from memory.
struct FakeCloud: CloudProvider {
    func info() async throws -> CPIInfo { CPIInfo(stemcellFormats: ["fake"]) }
    func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String {
        "sc-\(imagePath)"
    }
    func deleteStemcell(_ stemcellCID: String) async throws {
        if stemcellCID != "sc-1" { throw CloudError.stemcellNotFound(stemcellCID) }
    }
    func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM {
        var configured = networks
        for key in configured.keys { configured[key]?.mac = "02:00:00:00:00:01" }
        return CreatedVM(cid: "vm-\(agentID)", networks: configured)
    }
    func deleteVM(_ vmCID: String) async throws { throw CloudError.vmNotFound(vmCID) }
    func hasVM(_ vmCID: String) async throws -> Bool { vmCID == "vm-1" }
    func rebootVM(_ vmCID: String) async throws {}
    func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {}
    func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String {
        "disk-\(sizeMiB)-\(vmCID ?? "none")"
    }
    func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue { "/dev/sdc" }
    func detachDisk(vmCID: String, diskCID: String) async throws {}
    func deleteDisk(_ diskCID: String) async throws { throw CloudError.diskNotFound(diskCID) }
    func hasDisk(_ diskCID: String) async throws -> Bool { false }
    func getDisks(vmCID: String) async throws -> [String] { ["disk-a"] }
}

struct Boom: Error {}

struct ThrowingCloud: CloudProvider {
    func info() async throws -> CPIInfo { throw Boom() }
    func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String { "" }
    func deleteStemcell(_ stemcellCID: String) async throws {}
    func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM { CreatedVM(cid: "", networks: [:]) }
    func deleteVM(_ vmCID: String) async throws {}
    func hasVM(_ vmCID: String) async throws -> Bool { false }
    func rebootVM(_ vmCID: String) async throws {}
    func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {}
    func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String { "" }
    func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue { .null }
    func detachDisk(vmCID: String, diskCID: String) async throws {}
    func deleteDisk(_ diskCID: String) async throws {}
    func hasDisk(_ diskCID: String) async throws -> Bool { false }
    func getDisks(vmCID: String) async throws -> [String] { [] }
}

func respond(_ text: String, provider: any CloudProvider = FakeCloud()) async throws -> JSONValue {
    let data = await CPIDispatcher(provider: provider).handle(Data(text.utf8))
    return try JSONValue(parsing: data)
}

@Suite("CPI protocol")
struct CPIProtocolTests {
    @Test("JSON values keep integers, doubles, booleans and nesting")
    func jsonRoundTrip() throws {
        let value = try JSONValue(parsing: Data(#"{"a":1,"b":1.5,"c":true,"d":[null,"x"],"e":{}}"#.utf8))
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(1.5))
        #expect(value["c"] == .bool(true))
        #expect(value["d"] == [nil, "x"])
        #expect(try JSONValue(parsing: value.encoded()) == value)
        #expect(value.description == #"{"a":1,"b":1.5,"c":true,"d":[null,"x"],"e":{}}"#)
    }

    @Test("a request's context, api_version and arguments are read and written back")
    func requestRoundTrip() throws {
        let text = #"""
            {"method":"create_vm","arguments":["a",1],"context":{"director_uuid":"d-1","request_id":"r-9",
            "vm":{"stemcell":{"api_version":2}},"extra":"kept"},"api_version":2}
            """#
        let request = try CPIRequest(parsing: Data(text.utf8))
        #expect(request.method == "create_vm")
        #expect(request.arguments == ["a", 1])
        #expect(request.context.directorUUID == "d-1")
        #expect(request.context.requestID == "r-9")
        #expect(request.context.stemcellAPIVersion == 2)
        #expect(request.context.other["extra"] == "kept")
        #expect(request.apiVersion == 2)
        #expect(try CPIRequest(json: request.json) == request)
        #expect(request.json["context"]?["vm"]?["stemcell"]?["api_version"] == 2)
    }

    @Test("info answers api_version 2 and the formats")
    func info() async throws {
        let response = try await respond(#"{"method":"info","arguments":[],"context":{"director_uuid":"x"}}"#)
        #expect(response["result"] == ["api_version": 2, "stemcell_formats": ["fake"]])
        #expect(response["error"] == .null)
        #expect(response["log"] == "")
    }

    @Test("create_vm answers [cid, networks] for API v2 and the cid alone for v1")
    func createVM() async throws {
        let arguments = #"""
            ["agent-1","sc-1",{},{"default":{"type":"manual","ip":"10.0.0.5","netmask":"255.255.255.0",
            "gateway":"10.0.0.1","dns":["10.0.0.2"],"default":["dns","gateway"],"cloud_properties":{"x":1}},
            "v6":{"type":"manual","ip":"fd00::0005","netmask":"ffff:ffff:ffff:ffff::","gateway":"fd00::1",
            "cloud_properties":{}}},[],{}]
            """#
        let v2 = try await respond(#"{"method":"create_vm","arguments":\#(arguments),"api_version":2}"#)
        #expect(v2["error"] == .null)
        #expect(v2["result"]?.arrayValue?.first == "vm-agent-1")
        let networks = v2["result"]?.arrayValue?.last
        #expect(networks?["default"]?["mac"] == "02:00:00:00:00:01")
        #expect(networks?["v6"]?["ip"] == "fd00::5")
        #expect(networks?["default"]?["cloud_properties"] == ["x": 1])
        let v1 = try await respond(#"{"method":"create_vm","arguments":\#(arguments),"api_version":1}"#)
        #expect(v1["result"] == "vm-agent-1")
    }

    @Test("a network entry derives its subnet from ip and netmask")
    func networkSubnet() throws {
        let json: JSONValue = ["type": "manual", "ip": "fd00:1:2:3::9", "netmask": "ffff:ffff:ffff:ffff::"]
        let network = try CPINetwork(json: json, path: "networks.v6")
        #expect(try network.subnet() == IPPrefix(parsing: "fd00:1:2:3::/64"))
        #expect(throws: CloudError.self) {
            try CPINetwork(json: ["ip": "10.0.0.1", "netmask": "ffff::"], path: "n")
        }
        do {
            _ = try CPINetwork(json: ["ip": "10.0.0.300", "netmask": "255.0.0.0"], path: "networks.default")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("networks.default.ip"))
            #expect(error.message.contains("10.0.0.300"))
        }
    }

    @Test("malformed JSON answers CloudError naming the problem")
    func malformed() async throws {
        let response = try await respond("{not json")
        #expect(response["error"]?["type"] == "Bosh::Clouds::CloudError")
        #expect(response["error"]?["message"]?.stringValue?.contains("malformed JSON") == true)
        #expect(response["result"] == .null)
    }

    @Test("wrong request shapes answer CloudError naming the member")
    func badShapes() async throws {
        let cases: [(String, String)] = [
            ("[1,2]", "must be a JSON object"),
            (#"{"arguments":[]}"#, "no 'method'"),
            (#"{"method":5}"#, "'method' must be a string"),
            (#"{"method":"info","arguments":{}}"#, "'arguments' must be an array"),
            (#"{"method":"info","api_version":"2"}"#, "'api_version' must be an integer"),
            (#"{"method":"info","context":{"director_uuid":3}}"#, "context.director_uuid"),
            (#"{"method":"delete_vm","arguments":[]}"#, "delete_vm takes 1 arguments, got 0"),
            (
                #"{"method":"delete_vm","arguments":[7]}"#,
                "delete_vm argument 1 (vm_cid) must be a string, not a number"
            ),
            (#"{"method":"create_disk","arguments":["x",{},null]}"#, "(size) must be an integer"),
            (#"{"method":"create_disk","arguments":[-1,{},null]}"#, "must be positive"),
            (#"{"method":"set_vm_metadata","arguments":["vm",{"a":[]}]}"#, "(metadata).a must be a string"),
            (
                #"{"method":"create_vm","arguments":["a","s",{},{"n":{"ip":"x"}},[],{}]}"#,
                "create_vm networks.n.ip"
            ),
        ]
        for (request, expected) in cases {
            let response = try await respond(request)
            #expect(response["error"]?["type"] == "Bosh::Clouds::CloudError", "\(request)")
            let message = response["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(expected), "\(request) -> \(message)")
        }
    }

    @Test("unknown methods answer NotImplemented")
    func unknownMethod() async throws {
        let response = try await respond(#"{"method":"snapshot_disk","arguments":[]}"#)
        #expect(response["error"]?["type"] == "Bosh::Clouds::NotImplemented")
        #expect(response["error"]?["message"] == "Method is not known, got: 'snapshot_disk'")
        let metadata = try await respond(#"{"method":"set_disk_metadata","arguments":["d",{}]}"#)
        #expect(metadata["error"]?["type"] == "Bosh::Clouds::NotImplemented")
    }

    @Test("provider errors keep their type; other errors become Unknown")
    func providerErrors() async throws {
        let vm = try await respond(#"{"method":"delete_vm","arguments":["vm-9"]}"#)
        #expect(vm["error"]?["type"] == "Bosh::Clouds::VMNotFound")
        #expect(vm["error"]?["message"] == "VM 'vm-9' not found")
        #expect(vm["error"]?["ok_to_retry"] == false)
        let disk = try await respond(#"{"method":"delete_disk","arguments":["d-9"]}"#)
        #expect(disk["error"]?["type"] == "Bosh::Clouds::DiskNotFound")
        let unknown = try await respond(#"{"method":"info"}"#, provider: ThrowingCloud())
        #expect(unknown["error"]?["type"] == "Unknown")
    }

    @Test("the other methods dispatch with their arguments")
    func otherMethods() async throws {
        #expect(try await respond(#"{"method":"has_vm","arguments":["vm-1"]}"#)["result"] == true)
        #expect(try await respond(#"{"method":"has_disk","arguments":["d"]}"#)["result"] == false)
        #expect(try await respond(#"{"method":"get_disks","arguments":["vm-1"]}"#)["result"] == ["disk-a"])
        #expect(
            try await respond(#"{"method":"create_disk","arguments":[1024,{},"vm-1"]}"#)["result"] == "disk-1024-vm-1")
        #expect(
            try await respond(#"{"method":"attach_disk","arguments":["v","d"],"api_version":2}"#)["result"]
                == "/dev/sdc")
        #expect(try await respond(#"{"method":"create_stemcell","arguments":["/img",{}]}"#)["result"] == "sc-/img")
        let missing = try await respond(#"{"method":"delete_stemcell","arguments":["sc-2"]}"#)
        #expect(missing["error"]?["type"] == "Bosh::Clouds::StemcellNotFound")
    }

    @Test("agent settings encode with BOSH's member names")
    func agentSettings() throws {
        let settings = AgentSettings(
            agentID: "agent-1", vm: .init(name: "vm-1"),
            networks: ["default": CPINetwork(ip: IPAddress("10.0.0.5"), netmask: IPAddress("255.255.255.0"))],
            mbus: try MbusURL(parsing: "https://mbus:secret@0.0.0.0:6868"), env: ["bosh": ["password": "x"]])
        let json = settings.json
        #expect(json["agent_id"] == "agent-1")
        #expect(json["vm"]?["name"] == "vm-1")
        #expect(json["networks"]?["default"]?["ip"] == "10.0.0.5")
        #expect(json["blobstore"]?["provider"] == "local")
        #expect(json["disks"]?["persistent"] == [:])
        #expect(try json.decode(AgentSettings.self) == settings)
    }
}

@Suite("External CPI")
struct ExternalCPITests {
    /// Writes an executable shell script that answers every request with `answer` and saves the request.
    func script(_ body: String) throws -> (String, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("cpi").path
        try "#!/bin/sh\ncat > \(directory.path)/request.json\n\(body)\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return (path, directory.path)
    }

    @Test("a call sends the request on stdin and reads the result")
    func roundTrip() async throws {
        let (path, directory) = try script(#"echo '{"result":["vm-7",{}],"error":null,"log":"hi"}'; echo noise >&2"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cpi = ExternalCPI(executable: path, context: CPIContext(directorUUID: "dir-1", stemcellAPIVersion: 2))
        let created = try await cpi.createVM(
            agentID: "a", stemcellCID: "s", cloudProperties: [:], networks: [:], diskCIDs: [], env: [:])
        #expect(created.cid == "vm-7")
        let sent = try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: directory + "/request.json")))
        #expect(sent["method"] == "create_vm")
        #expect(sent["api_version"] == 2)
        #expect(sent["context"]?["director_uuid"] == "dir-1")
        #expect(sent["context"]?["vm"]?["stemcell"]?["api_version"] == 2)
        #expect(sent["arguments"]?.arrayValue?.count == 6)
    }

    @Test("info goes with api_version 1")
    func infoVersion() async throws {
        let (path, directory) = try script(
            #"echo '{"result":{"stemcell_formats":["x"],"api_version":3},"error":null}'"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let info = try await ExternalCPI(executable: path).info()
        #expect(info.apiVersion == 2)
        let sent = try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: directory + "/request.json")))
        #expect(sent["api_version"] == 1)
    }

    @Test("a CPI error is thrown with its type; an old-style unknown method becomes NotImplemented")
    func errors() async throws {
        let (path, directory) = try script(
            #"echo '{"result":null,"error":{"type":"Bosh::Clouds::VMNotFound","message":"gone","ok_to_retry":false}}'"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await #expect(throws: CloudError(.vmNotFound, "gone")) { try await ExternalCPI(executable: path).deleteVM("v") }
        let (old, oldDirectory) = try script(
            #"echo '{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"Invalid Method: x"}}'"#)
        defer { try? FileManager.default.removeItem(atPath: oldDirectory) }
        do {
            try await ExternalCPI(executable: old).setVMMetadata("v", metadata: [:])
            Issue.record("expected an error")
        } catch let error as CloudError {
            #expect(error.type == .notImplemented)
        }
    }

    @Test("a failing or garbled CPI is a CloudError with its stdout and stderr")
    func broken() async throws {
        let (path, directory) = try script("echo oops >&2; exit 3")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try await ExternalCPI(executable: path).hasVM("v")
            Issue.record("expected an error")
        } catch let error as CloudError {
            #expect(error.message.contains("exit status 3"))
            #expect(error.message.contains("oops"))
        }
        let (garbled, garbledDirectory) = try script("echo not-json")
        defer { try? FileManager.default.removeItem(atPath: garbledDirectory) }
        do {
            _ = try await ExternalCPI(executable: garbled).hasVM("v")
            Issue.record("expected an error")
        } catch let error as CloudError {
            #expect(error.message.contains("Unmarshalling external CPI command output: STDOUT: 'not-json"))
        }
    }
}
