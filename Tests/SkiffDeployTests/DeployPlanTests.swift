import Foundation
import SkiffCloud
import SkiffTestSupport
import Testing

@testable import SkiffDeploy

/// The plan create-env computes before changing anything, and `--dry-run`, on the in-memory cloud.
@Suite("The deploy plan and --dry-run")
struct DeployPlanTests {
    /// A fixture deployed once.
    func deployed(_ shape: DeployFixture.Shape = .init()) async throws -> DeployFixture {
        let fixture = try DeployFixture(shape: shape)
        _ = try await fixture.deployer().createEnv()
        return fixture
    }

    @Test func aFirstDeployPlansEverythingAndTheDeployDoesIt() async throws {
        let fixture = try DeployFixture()
        defer { fixture.remove() }
        let plan = try await fixture.deployer().plan()
        #expect(plan.stemcell == .upload)
        #expect(plan.vm == .create)
        #expect(plan.disk == .create(sizeMiB: 1024))
        #expect(plan.jobs.map(\.name) == ["enable_ipv6", "dhclient_ipv6", "nginx"])
        #expect(plan.jobs.allSatisfy { $0.change == .added })
        #expect(plan.releases.map(\.name) == ["nginx-ipv6"])
        #expect(plan.manifestDiff.contains { $0.rendered == "+ name: memory-env" })
        #expect(!plan.isUnchanged)

        let result = try await fixture.deployer().createEnv()
        #expect(!result.skipped)
        #expect(fixture.cloud.stemcells.count == 1 && fixture.cloud.vms.count == 1 && fixture.cloud.disks.count == 1)
        #expect(fixture.agent.applied?.job?.templates.count == 3)
    }

    @Test func nothingChangedSaysSoAndTheDeploySkips() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        let plan = try await fixture.deployer().plan()
        #expect(plan.isUnchanged)
        #expect(plan.text == "No deployment, stemcell or release changes.\n")
        #expect(plan.vm == .keep(cid: fixture.cloud.vms[0].cid))
        let calls = fixture.cloud.calls.count
        let result = try await fixture.deployer().createEnv()
        #expect(result.skipped)
        #expect(fixture.cloud.calls.count == calls)
    }

    @Test func aPropertyChangeRecreatesTheVMKeepsTheDiskAndNamesTheJobAndTheLine() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        var shape = DeployFixture.Shape()
        shape.greeting = "goodbye"
        try fixture.write(shape)
        let plan = try await fixture.deployer().plan()
        let vm = fixture.cloud.vms[0].cid
        guard case .recreate(let cid, let reasons) = plan.vm else {
            Issue.record("expected a recreate, got \(plan.vm)")
            return
        }
        #expect(cid == vm)
        #expect(reasons == ["the manifest changes (jobs)"])
        #expect(plan.disk == .keep(cid: fixture.cloud.disks[0].cid, sizeMiB: 1024))
        #expect(plan.stemcell == .reuse(cid: fixture.cloud.stemcells[0]))
        #expect(plan.jobs.map(\.name) == ["nginx"])
        #expect(plan.jobs.first?.change == .changed)
        #expect(plan.releases.isEmpty)
        let diff = plan.manifestDiff.map(\.rendered)
        #expect(diff.contains("-       # hello"))
        #expect(diff.contains("+       # goodbye"))
        #expect(diff.contains("  jobs:") && diff.contains("  - name: nginx"))

        _ = try await fixture.deployer().createEnv()
        #expect(fixture.cloud.vms.count == 1 && fixture.cloud.vms[0].cid != vm)
        #expect(fixture.cloud.disks.count == 1)
        #expect(try await fixture.deployer().plan().isUnchanged)
    }

    @Test func aReleaseChangeIsNamedWithItsVersions() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        try fixture.changeRelease()
        let plan = try await fixture.deployer().plan()
        #expect(plan.releases.count == 1)
        #expect(plan.releases.first?.from != plan.releases.first?.to)
        #expect(plan.jobs.map(\.name) == ["nginx"])
        guard case .recreate(_, let reasons) = plan.vm else {
            Issue.record("expected a recreate")
            return
        }
        #expect(reasons.contains("releases change"))
        #expect(plan.text.contains("Release 'nginx-ipv6': 0+dev."))
    }

    @Test func aStemcellChangeUploadsTheNewOneAndDeletesTheOld() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        let old = fixture.cloud.stemcells
        try fixture.setStemcellVersion("2.0")
        let plan = try await fixture.deployer().plan()
        #expect(plan.stemcell == .upload)
        #expect(plan.stemcellVersion == "2.0")
        guard case .recreate(_, let reasons) = plan.vm else {
            Issue.record("expected a recreate")
            return
        }
        #expect(reasons.contains("the stemcell changes from 'bosh-skiff-memory/1.0' to 'bosh-skiff-memory/2.0'"))
        #expect(plan.jobs.isEmpty)
        #expect(plan.text.contains("Stemcell: upload 'bosh-skiff-memory/2.0'"))
        _ = try await fixture.deployer().createEnv()
        #expect(fixture.cloud.stemcells.count == 1 && fixture.cloud.stemcells != old)
    }

    @Test func aDiskSizeChangeIsRefusedBeforeAnythingChangesWhereTheCloudCannotMigrate() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        var shape = DeployFixture.Shape()
        shape.diskSize = 2048
        try fixture.write(shape)
        let plan = try await fixture.deployer().plan()
        #expect(
            plan.disk
                == .refuseMigration(
                    cid: fixture.cloud.disks[0].cid, reasons: ["disk_size changes from 1024 to 2048 MiB"]))
        #expect(plan.text.contains("Disk: refuse to migrate"))
        let before = fixture.cloud.snapshot
        let files = try fixture.files()
        await #expect(throws: DeployError.self) { try await fixture.deployer().createEnv() }
        #expect(fixture.cloud.snapshot == before)
        #expect(try fixture.files() == files)
    }

    @Test func aDiskSizeChangeMigratesWhereTheCloudCan() async throws {
        let fixture = try DeployFixture(capabilities: CloudCapabilities(migratesDisks: true))
        defer { fixture.remove() }
        _ = try await fixture.deployer().createEnv()
        let old = fixture.cloud.disks[0].cid
        var shape = DeployFixture.Shape()
        shape.diskSize = 2048
        try fixture.write(shape)
        let plan = try await fixture.deployer().plan()
        #expect(plan.disk == .migrate(from: old, sizeMiB: 2048, reasons: ["disk_size changes from 1024 to 2048 MiB"]))
        _ = try await fixture.deployer().createEnv()
        #expect(fixture.cloud.disks.map(\.sizeMiB) == [2048])
        #expect(fixture.agent.calls.contains("migrate_disk"))
    }

    @Test func aNetworkChangeRecreatesTheVMAndShowsTheAddresses() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        var shape = DeployFixture.Shape()
        shape.ipv6Range = "fd53:6b69:6666:2::/64"
        shape.ipv6Address = "fd53:6b69:6666:2::4"
        shape.ipv6Gateway = "fd53:6b69:6666:2::1"
        try fixture.write(shape)
        let plan = try await fixture.deployer().plan()
        guard case .recreate(_, let reasons) = plan.vm else {
            Issue.record("expected a recreate")
            return
        }
        #expect(reasons == ["the manifest changes (networks, jobs)"])
        let diff = plan.manifestDiff.map(\.rendered)
        #expect(diff.contains { $0.hasPrefix("-") && $0.contains("fd53:6b69:6666:1::4") }, "\(diff)")
        #expect(diff.contains { $0.hasPrefix("+") && $0.contains("fd53:6b69:6666:2::4") })
        #expect(diff.contains { $0.hasPrefix("+") && $0.contains("fd53:6b69:6666:2::/64") })
        #expect(diff.contains { $0.hasPrefix("-") && $0.contains("fd53:6b69:6666:1::/64") })
    }

    @Test func everyVariableSourcedValueIsRedacted() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        let store = try String(contentsOf: fixture.varsStore, encoding: .utf8)
        let secrets = store.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
        }
        #expect(secrets.count == 2)
        // A fresh plan (everything added) and a changed one both print only `<redacted>`.
        let fresh = try DeployFixture()
        defer { fresh.remove() }
        try FileManager.default.copyItem(at: fixture.varsStore, to: fresh.varsStore)
        var shape = DeployFixture.Shape()
        shape.greeting = "changed"
        try fixture.write(shape)
        for plan in [try await fresh.deployer().plan(), try await fixture.deployer().plan()] {
            let text = plan.text
            let json = String(
                decoding: try JSONSerialization.data(withJSONObject: plan.json, options: [.sortedKeys]), as: UTF8.self)
            for secret in secrets {
                #expect(!text.contains(secret) && !json.contains(secret))
            }
            #expect(!text.contains("<redacted:"))
        }
        let freshText = try await fresh.deployer().plan().text
        #expect(freshText.contains("+     pre_start: \"<redacted>\""))
        #expect(freshText.contains("+   mbus: \"<redacted>\""))
        let state = try String(contentsOf: fixture.stateFile, encoding: .utf8)
        for secret in secrets { #expect(!state.contains(secret)) }
    }

    @Test func aChangedSecretShowsAsARedactedChange() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        var store = try String(contentsOf: fixture.varsStore, encoding: .utf8)
        store =
            store.split(separator: "\n").map {
                $0.hasPrefix("pre_start_secret:") ? "pre_start_secret: rotated" : String($0)
            }
            .joined(separator: "\n") + "\n"
        try store.write(to: fixture.varsStore, atomically: true, encoding: .utf8)
        let plan = try await fixture.deployer().plan()
        let diff = plan.manifestDiff.map(\.rendered)
        #expect(diff.contains("-     pre_start: \"<redacted>\""))
        #expect(diff.contains("+     pre_start: \"<redacted>\""))
        #expect(!plan.text.contains("rotated"))
    }

    @Test func aDryRunChangesNoFileAndNoCloud() async throws {
        for deployedFirst in [false, true] {
            let fixture: DeployFixture
            if deployedFirst { fixture = try await deployed() } else { fixture = try DeployFixture() }
            defer { fixture.remove() }
            var shape = DeployFixture.Shape()
            shape.greeting = "dry"
            try fixture.write(shape)
            try fixture.setStemcellVersion("3.0")
            let files = try fixture.files()
            let cloud = fixture.cloud.snapshot
            let calls = fixture.cloud.calls
            let agentCalls = fixture.agent.calls
            let plan = try await fixture.deployer().plan()
            #expect(!plan.isUnchanged)
            #expect(try fixture.files() == files)
            #expect(fixture.cloud.snapshot == cloud && fixture.cloud.calls == calls)
            #expect(fixture.agent.calls == agentCalls)
            #expect(FileManager.default.fileExists(atPath: fixture.varsStore.path) == deployedFirst)
        }
    }

    @Test func aRunThatFailsBeforeChangingAnythingLeavesNoStateAndNoVarsStore() async throws {
        // A missing job property fails at rendering, in the plan.
        let fixture = try DeployFixture()
        defer { fixture.remove() }
        var text = try String(contentsOf: fixture.manifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "    nginx_conf: |", with: "    nginx_conf_typo: |")
        try text.write(to: fixture.manifest, atomically: true, encoding: .utf8)
        await #expect { try await fixture.deployer().createEnv() } throws: { "\($0)".contains("nginx_conf") }
        #expect(try fixture.files().keys.sorted() == ["env.yml"])
        #expect(fixture.cloud.calls.isEmpty)

        // The cloud's preflight (root, tools, network shapes) fails before the first change too.
        let refused = try DeployFixture(preflightFailure: "the local cloud needs root")
        defer { refused.remove() }
        await #expect { try await refused.deployer().createEnv() } throws: { "\($0)".contains("needs root") }
        #expect(try refused.files().keys.sorted() == ["env.yml"])
        #expect(refused.cloud.calls.isEmpty)

        // An mbus URL without a port.
        let noPort = try DeployFixture()
        defer { noPort.remove() }
        text = try String(contentsOf: noPort.manifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "@10.245.0.7:6868", with: "@10.245.0.7")
        try text.write(to: noPort.manifest, atomically: true, encoding: .utf8)
        let options = noPort.options()
        let deployer = EnvironmentDeployer(
            options: options, sink: SilentProgress(),
            connector: DeployConnector(
                capabilities: { _ in .standard },
                cloud: { _ in (provider: noPort.cloud as any CloudProvider, name: "memory") },
                agent: { manifest, id in try manifest.agentClient(directorID: id) }))
        await #expect { try await deployer.createEnv() } throws: { "\($0)".contains("cloud_provider.mbus") }
        #expect(try noPort.files().keys.sorted() == ["env.yml"])
    }

    @Test func anEmptyOrPartialStateFileIsAnErrorNamingTheFile() async throws {
        let fixture = try DeployFixture()
        defer { fixture.remove() }
        for text in ["", "  \n", "{\"director_id\": \"x\", \"disks\": ["] {
            try text.write(to: fixture.stateFile, atomically: true, encoding: .utf8)
            await #expect { try await fixture.deployer().createEnv() } throws: {
                "\($0)".contains(fixture.stateFile.path)
            }
            await #expect { try await fixture.deleter().deleteEnv() } throws: {
                "\($0)".contains(fixture.stateFile.path)
            }
        }
        #expect(fixture.cloud.calls.isEmpty)
    }

    @Test func temporaryFilesOfKilledWritesAreRemovedByTheNextRun() async throws {
        let fixture = try DeployFixture()
        defer { fixture.remove() }
        let stale = fixture.directory.appendingPathComponent(".env-state.json.4242.17.tmp")
        let staleStore = fixture.directory.appendingPathComponent(".env-vars-store.yml.skiff-tmp-4242")
        try Data("{".utf8).write(to: stale)
        try Data("x".utf8).write(to: staleStore)
        _ = try await fixture.deployer().createEnv()
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(!FileManager.default.fileExists(atPath: staleStore.path))
    }

    @Test func deleteEnvRemovesEverything() async throws {
        let fixture = try await deployed()
        defer { fixture.remove() }
        try await fixture.deleter().deleteEnv()
        #expect(fixture.cloud.census.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: fixture.stateFile.path))
    }
}
