import Foundation
import SkiffTestSupport
import Testing

/// The flagship example end to end, as root, on real namespaces, dnsmasq, dhclient and nginx.
@Suite("create-env and delete-env of the IPv6 nginx example", .serialized, .enabled(if: Environment.canRunLocalCloud))
struct NginxIPv6Tests {
    @Test func deploysAnswersOverIPv6SkipsWhenUnchangedAndDeletesEverything() throws {
        let env = try Environment(slot: 71)
        defer { env.tearDown() }
        try NginxFlows.deployAnswerSkipDelete(env)
    }

    @Test("killed between any two steps, a re-run converges and delete-env cleans up", arguments: [2, 4, 5, 6, 7, 8])
    func crashBetweenSteps(saves: Int) throws {
        let env = try Environment(slot: 72 + saves)
        defer { env.tearDown() }
        try NginxFlows.crashAndConverge(env, saves: saves)
    }

    @Test func killedWhileTheVMIsBeingCreatedTheVMIsNotLeaked() throws {
        let env = try Environment(slot: 81)
        defer { env.tearDown() }
        let process = Process()
        process.executableURL = Environment.skiffBinary
        process.arguments = ["create-env", env.manifest.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let vms = env.cloudState.appendingPathComponent("vms")
        let deadline = Date().addingTimeInterval(60)
        func recorded() -> Bool {
            ((try? FileManager.default.contentsOfDirectory(atPath: vms.path)) ?? []).contains {
                FileManager.default.fileExists(atPath: vms.appendingPathComponent("\($0)/vm.json").path)
            }
        }
        while Date() < deadline, process.isRunning, !recorded() {
            usleep(2_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let orphaned = (try? FileManager.default.contentsOfDirectory(atPath: vms.path)) ?? []
        try #require(orphaned.count == 1, "the VM should exist while create_vm was running")

        let rerun = try env.skiff(["create-env", env.manifest.path])
        #expect(rerun.status == 0, "re-run failed: \(rerun.stderr)")
        #expect(rerun.stdout.contains("Deleting VM '\(orphaned[0])'"))
        let deleted = try env.skiff(["delete-env", env.manifest.path])
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(try env.leftovers().isEmpty)
    }

    @Test func ctrlCStopsAfterTheCurrentStepWithStateWritten() throws {
        let env = try Environment(slot: 82)
        defer { env.tearDown() }
        let process = Process()
        process.executableURL = Environment.skiffBinary
        process.arguments = ["create-env", env.manifest.path]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning,
            !((try? String(contentsOf: env.stateFile, encoding: .utf8))?.contains("skiff-vm-") ?? false)
        {
            usleep(2_000)
        }
        kill(process.processIdentifier, SIGINT)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message.contains("interrupted"))
        let state = try String(contentsOf: env.stateFile, encoding: .utf8)
        #expect(state.contains("\"current_vm_cid\": \"skiff-vm-"))
        #expect(state.contains("\"current_manifest_sha\": \"\""))

        let rerun = try env.skiff(["create-env", env.manifest.path])
        #expect(rerun.status == 0, "re-run failed: \(rerun.stderr)")
        let deleted = try env.skiff(["delete-env", env.manifest.path])
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(try env.leftovers().isEmpty)
    }

    @Test func aChangedManifestReplacesTheVMAndKeepsTheDisk() throws {
        let env = try Environment(slot: 83)
        defer { env.tearDown() }
        try NginxFlows.updateKeepsDisk(env)
    }

    @Test func aCPIReleaseIsInstalledAndDrivenAsAnExternalCPI() throws {
        let env = try Environment(slot: 84)
        defer { env.tearDown() }
        let fixture = TestProcess.repository.appendingPathComponent(
            "Tests/SkiffEndToEndTests/Fixtures/test-cpi-release")
        var text = try String(contentsOf: env.manifest, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "releases:\n", with: "releases:\n- name: test-cpi\n  url: file://\(fixture.path)\n"
        )
        .replacingOccurrences(
            of: "    name: local_cpi\n    release: skiff", with: "    name: test_cpi\n    release: test-cpi"
        )
        .replacingOccurrences(
            of: "    local:\n      state_dir:",
            with: "    skiff_binary: \(TestProcess.skiffBinary.path)\n    local:\n      state_dir:")
        try text.write(to: env.manifest, atomically: true, encoding: .utf8)
        let home = ["SKIFF_HOME": env.directory.appendingPathComponent("home").path]

        let created = try env.skiff(["create-env", env.manifest.path], extraEnvironment: home)
        #expect(created.status == 0, "create-env failed: \(created.stderr)")
        #expect(created.stdout.contains("Started installing CPI"))
        #expect(created.stdout.contains("Compiling package 'cpi-runner/"))
        #expect(created.stdout.contains("Installing job 'test_cpi'"))
        let page = try Environment.run(
            "/usr/bin/curl", ["-sg", "-6", "--max-time", "5", "http://[fd53:6b69:6666:\(env.slot)::4]/"])
        #expect(page.stdout.contains("Your address is fd53:6b69:6666:\(env.slot)::1"))
        let state = try String(contentsOf: env.stateFile, encoding: .utf8)
        #expect(state.contains("\"cpi\": \"release:test-cpi/test_cpi\""))

        let deleted = try env.skiff(["delete-env", env.manifest.path], extraEnvironment: home)
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(deleted.stdout.contains("Skipped [Package already compiled]"))
        #expect(try env.leftovers().isEmpty)
        let installations = env.directory.appendingPathComponent("home/installations")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: installations.path)) ?? []).isEmpty)
    }

    @Test func badManifestGetsOneLineNamingFileLineAndField() throws {
        let env = try Environment(slot: 90)
        defer { env.tearDown() }
        let text = try String(contentsOf: env.manifest, encoding: .utf8)
            .replacingOccurrences(of: "static_ips: [fd53:6b69:6666:90::4]", with: "static_ips: [fd53:6b69:6666:91::4]")
        try text.write(to: env.manifest, atomically: true, encoding: .utf8)
        let result = try env.skiff(["create-env", env.manifest.path])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.contains("local.yml:"))
        #expect(
            result.stderr.contains(
                "jobs[0].networks[1].static_ips[0]: static ip 'fd53:6b69:6666:91::4' must be within the subnet range 'fd53:6b69:6666:90::/64'"
            ))
        #expect(try env.leftovers().isEmpty)
    }
}
