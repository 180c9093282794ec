import Foundation
import SkiffCloud
import Testing

@testable import SkiffDeploy

@Suite("The state file")
struct StateStoreTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-state-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func defaultPathSitsBesideTheManifest() {
        let url = StateStore.defaultURL(forManifest: URL(fileURLWithPath: "/srv/envs/nginx.yml"))
        #expect(url.path == "/srv/envs/nginx-state.json")
    }

    @Test func roundTripsWithBoshLayoutAndMode0600() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = StateStore(url: directory.appendingPathComponent("env-state.json"))
        var state = DeploymentState()
        state.currentVMCID = "skiff-vm-1"
        state.stemcells = [.init(id: "s1", name: "bosh-skiff-local", version: "0.1.0", apiVersion: 2, cid: "sc-1")]
        state.currentStemcellID = "s1"
        state.disks = [.init(id: "d1", cid: "disk-1", size: 1024, cloudProperties: ["type": "gp3"])]
        state.currentDiskID = "d1"
        state.releases = [.init(id: "r1", name: "nginx-ipv6", version: "0+dev.1")]
        state.currentReleaseIDs = ["r1"]
        state.skiff.urls = ["http://[fd00::4]/"]
        try store.save(state)

        let attributes = try FileManager.default.attributesOfItem(atPath: store.url.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOf: store.url, encoding: .utf8)
        #expect(text.hasPrefix("{\n    \"director_id\": "))
        #expect(!text.hasSuffix("\n"))
        #expect(text.contains("\"current_vm_cid\": \"skiff-vm-1\""))
        #expect(text.contains("\"cloud_properties\": {\n                \"type\": \"gp3\"\n            }"))
        let fields = [
            "director_id", "installation_id", "current_vm_cid", "current_stemcell_id", "current_disk_id",
            "current_release_ids", "current_manifest_sha", "disks", "stemcells", "releases",
        ]
        let positions = fields.compactMap { text.range(of: "\"\($0)\"")?.lowerBound }
        #expect(positions == positions.sorted() && positions.count == fields.count)

        let loaded = try #require(try store.load())
        #expect(loaded == state)
    }

    @Test func emptyStateWritesNullArraysLikeGo() throws {
        let text = String(decoding: DeploymentState().jsonData(), as: UTF8.self)
        #expect(text.contains("\"disks\": null"))
        #expect(text.contains("\"current_release_ids\": null"))
        #expect(!text.contains("skiff"))
    }

    @Test(
        "refuses records a later step could not act on",
        arguments: [
            (#"{"disks":[{"id":"d1","cid":"","size":1}]}"#, "disks[0] has an empty cid"),
            (#"{"stemcells":[{"id":"s1","name":"x","version":"1","cid":""}]}"#, "stemcells[0] has an empty cid"),
            (#"{"current_disk_id":"nope"}"#, "current_disk_id 'nope' names no record"),
            (#"{"current_vm_cid":7}"#, "current_vm_cid must be a string"),
            (#"{"disks":"x"}"#, "disks must be an array"),
            (#"[1,2]"#, "expected a JSON object"),
            (#"{"director_id":"#, "malformed JSON"),
        ])
    func refusesBadState(json: String, message: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad-state.json")
        try Data(json.utf8).write(to: url)
        #expect {
            try StateStore(url: url).load()
        } throws: { error in
            "\(error)".contains(message) && "\(error)".contains(url.path)
        }
    }

    @Test func aSecondSkiffIsLockedOut() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("env-state.json")
        let first = StateStore(url: url)
        try first.lock()
        #expect {
            try StateStore(url: url).lock()
        } throws: { "\($0)".contains("another skiff is working on this environment") }
        first.unlock()
        let third = StateStore(url: url)
        try third.lock()
        third.unlock()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func atomicWriteLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("file")
        for round in 0..<5 { try AtomicFile.write(Data("round \(round)".utf8), to: url.path, mode: 0o600) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["file"])
        #expect(try String(contentsOf: url, encoding: .utf8) == "round 4")
        #expect(throws: CloudError.self) {
            try AtomicFile.write(Data(), to: directory.appendingPathComponent("missing/file").path, mode: 0o600)
        }
    }
}
