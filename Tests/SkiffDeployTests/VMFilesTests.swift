import Foundation
import SkiffCloud
import SkiffLocalCloud
import Testing

@testable import SkiffDeploy

@Suite("Errors that name files inside a local VM say where they are on the host")
struct VMFilesTests {
    let cloud = LocalCloud(config: LocalCloudConfig(stateDirectory: "/tmp/skiff-vmfiles-state"))

    @Test func aJobLogInsideTheVMIsLocatedOnTheHost() {
        let message = "pre-start exited with status 1; see /var/vcap/sys/log/enable_ipv6/pre-start.stderr.log"
        #expect(
            VMFiles.note(for: message, vmCID: "skiff-vm-abcd1234", cloud: cloud)
                == "(those paths are inside the VM; on this host under /tmp/skiff-vmfiles-state/vms/skiff-vm-abcd1234/root)"
        )
    }

    @Test func messagesWithoutVMPathsAndUnsafeIDsGetNoNote() {
        #expect(VMFiles.note(for: "connection refused", vmCID: "skiff-vm-abcd1234", cloud: cloud) == nil)
        #expect(VMFiles.note(for: "see /var/vcap/sys/log/x.log", vmCID: "../etc", cloud: cloud) == nil)
    }

    @Test func aFailedStepKeepsItsNameAndGainsTheNote() async {
        do {
            try await VMFiles.locating(vmCID: "skiff-vm-abcd1234", cloud: cloud) {
                throw StageError(
                    stage: "Updating instance 'nginx/0'", cause: DeployError(.agent, "see /var/vcap/sys/log/a.log"))
            }
            Issue.record("expected an error")
        } catch let error as StageError {
            #expect(error.stage == "Updating instance 'nginx/0'")
            #expect("\(error.cause)".contains("/tmp/skiff-vmfiles-state/vms/skiff-vm-abcd1234/root"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
