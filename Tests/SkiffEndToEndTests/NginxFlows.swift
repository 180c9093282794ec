import Foundation
import SkiffTestSupport
import Testing

/// The end-to-end runs of the nginx example that both agents go through: skiff's own (``NginxIPv6Tests``) and the
/// real bosh-agent (``RealAgentTests``). Every agent method skiff's client sends is exercised: ping, apply,
/// compile_package, get_state, start, run_script, get_task, list_disk, mount_disk and add_persistent_disk on
/// create-env; stop and start on stop-env and start-env; drain, stop, unmount_disk and remove_persistent_disk on the
/// update and on delete-env.
enum NginxFlows {
    /// create-env answers over both families, an unchanged re-run skips, delete-env leaves nothing.
    static func deployAnswerSkipDelete(_ env: Environment) throws {
        let first = try env.skiff(["create-env", env.manifest.path])
        try #require(first.status == 0, "create-env failed: \(first.stderr)")
        let url = "http://[fd53:6b69:6666:\(env.slot)::4]/"
        #expect(first.stdout.hasSuffix("Succeeded\n\(url)\n"))
        #expect(first.stdout.contains("Creating VM for instance 'nginx/0'"))

        let page = try Environment.run("/usr/bin/curl", ["-sg", "-6", "--max-time", "5", url])
        #expect(page.stdout.contains("Your address is fd53:6b69:6666:\(env.slot)::1"))
        let page4 = try Environment.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://10.245.\(env.slot).7/"])
        #expect(page4.stdout.contains("Your address is ::ffff:10.245.\(env.slot).1"))
        // dhcpcd_ipv6 asked with its MAC-made client id (DUID-LL) and rapid commit: Solicit, then Reply at once.
        let dhcp = try env.dhcpLog()
        #expect(dhcp.contains("DHCPSOLICIT("))
        #expect(dhcp.contains("DHCPREPLY(") && dhcp.contains("fd53:6b69:6666:\(env.slot)::4 00:03:00:01:"))
        #expect(!dhcp.contains("DHCPADVERTISE("))

        let state = try String(contentsOf: env.stateFile, encoding: .utf8)
        #expect(state.contains("\"current_vm_cid\": \"skiff-vm-"))
        #expect(
            try FileManager.default.attributesOfItem(atPath: env.stateFile.path)[.posixPermissions] as? Int == 0o600)

        let again = try env.skiff(["create-env", env.manifest.path])
        #expect(again.status == 0)
        #expect(again.stdout.contains("No deployment, stemcell or release changes. Skipping deploy."))
        #expect(again.stdout.hasSuffix("\(url)\n"))

        // stop-env stops the jobs: dhcpcd gives its lease back and nginx no longer answers; start-env brings both back.
        let stopped = try env.skiff(["stop-env", env.manifest.path])
        #expect(stopped.status == 0, "stop-env failed: \(stopped.stderr)")
        #expect(try env.dhcpLog(eventually: "DHCPRELEASE("))
        let refused = try Environment.run("/usr/bin/curl", ["-sg", "-6", "--max-time", "2", url])
        #expect(!refused.stdout.contains("Your address is"))
        let started = try env.skiff(["start-env", env.manifest.path])
        #expect(started.status == 0, "start-env failed: \(started.stderr)")
        let back = try Environment.run(
            "/usr/bin/curl",
            [
                "-sg", "-6", "--max-time", "5", "--retry", "20",
                "--retry-delay", "0", "--retry-connrefused", url,
            ])
        #expect(back.stdout.contains("Your address is fd53:6b69:6666:\(env.slot)::1"))

        let deleted = try env.skiff(["delete-env", env.manifest.path])
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: env.stateFile.path))
        #expect(try env.leftovers().isEmpty)

        let nothing = try env.skiff(["delete-env", env.manifest.path])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("no deployment state file found"))
        #expect(try env.skiff(["delete-env", "--force", env.manifest.path]).status == 0)
    }

    /// Killed after save `saves`, a re-run converges and delete-env cleans up.
    static func crashAndConverge(_ env: Environment, saves: Int) throws {
        let killed = try env.skiff(
            ["create-env", env.manifest.path], extraEnvironment: ["SKIFF_FAULT_KILL_AFTER_SAVES": "\(saves)"])
        #expect(killed.status != 0)
        let rerun = try env.skiff(["create-env", env.manifest.path])
        #expect(rerun.status == 0, "re-run after a crash after save \(saves) failed: \(rerun.stderr)")
        let page = try Environment.run(
            "/usr/bin/curl", ["-sg", "-6", "--max-time", "5", "http://[fd53:6b69:6666:\(env.slot)::4]/"])
        #expect(page.stdout.contains("Your address is"))
        let deleted = try env.skiff(["delete-env", env.manifest.path])
        #expect(deleted.status == 0, "delete-env failed: \(deleted.stderr)")
        #expect(try env.leftovers().isEmpty)
    }

    /// A changed job property replaces the VM (drain, stop, unmount, detach, delete) and keeps the disk.
    static func updateKeepsDisk(_ env: Environment) throws {
        let first = try env.skiff(["create-env", env.manifest.path])
        try #require(first.status == 0, "create-env failed: \(first.stderr)")
        let stateBefore = try String(contentsOf: env.stateFile, encoding: .utf8)

        let text = try String(contentsOf: env.manifest, encoding: .utf8)
            .replacingOccurrences(of: "<h1>Your address is", with: "<h1>Changed. Your address is")
        try text.write(to: env.manifest, atomically: true, encoding: .utf8)
        let second = try env.skiff(["create-env", env.manifest.path])
        #expect(second.status == 0, "redeploy failed: \(second.stderr)")
        #expect(second.stdout.contains("Stopping jobs on instance 'unknown/0'"))
        #expect(second.stdout.contains("Deleting VM 'skiff-vm-"))
        #expect(!second.stdout.contains("Creating disk"))
        #expect(second.stdout.contains("Skipped [Stemcell already uploaded]"))
        let page = try Environment.run(
            "/usr/bin/curl", ["-sg", "-6", "--max-time", "5", "http://[fd53:6b69:6666:\(env.slot)::4]/"])
        #expect(page.stdout.contains("Changed. Your address is fd53:6b69:6666:\(env.slot)::1"))

        let stateAfter = try String(contentsOf: env.stateFile, encoding: .utf8)
        func field(_ name: String, _ text: String) -> String? {
            text.split(separator: "\n").first { $0.contains("\"\(name)\"") }.map(String.init)
        }
        #expect(field("current_disk_id", stateAfter) == field("current_disk_id", stateBefore))
        #expect(field("current_vm_cid", stateAfter) != field("current_vm_cid", stateBefore))
        #expect(try env.skiff(["delete-env", env.manifest.path]).status == 0)
        #expect(try env.leftovers().isEmpty)
    }
}
