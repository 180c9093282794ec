import ArgumentParser
import Foundation
import SkiffDeploy

/// `skiff create-env`: deploys the one VM a manifest describes, or does nothing when nothing changed.
struct CreateEnv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-env",
        abstract: "Create or update the environment a BOSH create-env manifest describes.",
        discussion: """
            Reads the manifest (with ops files and variables as `skiff interpolate` does), uploads the stemcell, \
            creates the VM through the manifest's CPI, applies the jobs through the agent, waits until they run, \
            checks the instance answers, and records everything in the state file. Re-running with nothing \
            changed does nothing. Ends by printing the instance's URL (IPv6 literals in brackets).
            """
    )

    @Argument(help: "The manifest (a BOSH create-env manifest).", completion: .file())
    var manifest: String

    @OptionGroup var vars: VarsOptions
    @OptionGroup var environment: EnvironmentFlags

    @Flag(name: .customLong("recreate"), help: "Recreate the VM even if nothing changed.")
    var recreate = false

    @Flag(
        name: .customLong("recreate-persistent-disks"),
        help: "Recreate the persistent disk (its content migrated by the agent) even if nothing changed.")
    var recreatePersistentDisks = false

    @Flag(
        name: .customLong("dry-run"),
        help: "Print what create-env would do (stemcell, VM, disk, jobs, manifest diff) and change nothing.")
    var dryRun = false

    func run() async throws {
        let options = EnvironmentOptions(
            manifestPath: manifest, statePath: environment.state, opsFiles: vars.opsFiles, variables: vars.flags,
            recreate: recreate, recreatePersistentDisks: recreatePersistentDisks, skipDrain: environment.skipDrain,
            skiffExecutable: skiffExecutablePath)
        let sink = environment.sink
        if dryRun {
            try await Self.dryRun(EnvironmentDeployer(options: options, sink: sink), sink: sink)
            return
        }
        let result = try await reportingErrors {
            try await cancellableOnSignals { try await EnvironmentDeployer(options: options, sink: sink).createEnv() }
        }
        if let json = sink as? JSONProgress {
            json.emit(["event": "succeeded", "skipped": result.skipped, "urls": result.urls, "vm_cid": result.vmCID])
        } else {
            sink.line("")
            sink.line("Succeeded")
            let ipv6 = result.urls.filter { $0.contains("[") }
            for url in ipv6.isEmpty ? result.urls : ipv6 { sink.line(url) }
        }
    }

    /// `--dry-run`: computes the plan and prints it (a JSON event, or the plan's text on `output`). Printing a plan
    /// is the dry run's success (exit 0), whatever the plan says: a disk migration create-env would refuse is a line
    /// of the plan (`Disk: refuse to migrate ...`), not a failure of the preview. Throws ``ExitCode/failure``, with
    /// the error on stderr, when no plan could be made.
    static func dryRun(
        _ deployer: EnvironmentDeployer, sink: any ProgressSink,
        output: (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
    ) async throws {
        let plan = try await reportingErrors { try await deployer.plan() }
        if let json = sink as? JSONProgress {
            json.emit(["event": "plan", "plan": plan.json])
        } else {
            sink.line("")
            output(plan.text)
        }
    }
}
