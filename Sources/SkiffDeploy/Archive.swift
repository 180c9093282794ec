import Foundation
import SkiffCore

/// Gzipped tar archives, made and unpacked with the system's `tar` (present on every BOSH stemcell too).
enum Archive {
    /// Unpacks `archive` into `directory`, which is created if missing.
    static func extract(_ archive: URL, into directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try runTar(["-xzf", archive.path, "-C", directory.path], describing: archive.path)
    }

    /// Packs the named `entries` of `directory` (paths relative to it) into a gzipped tar at `archive`.
    /// Entries are stored `./`-prefixed, in the order given, with owner and timestamps normalised so the
    /// same inputs make the same bytes.
    static func create(_ archive: URL, from directory: URL, entries: [String]) throws {
        let arguments =
            [
                "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-czf", archive.path,
                "-C", directory.path,
            ] + (entries.isEmpty ? ["--files-from=/dev/null"] : entries.map { "./" + $0 })
        try runTar(arguments, describing: archive.path, environment: ["GZIP": "-n"])
    }

    private static func runTar(_ arguments: [String], describing path: String, environment: [String: String] = [:])
        throws
    {
        guard let tar = ProcessRunner.find("tar") else { throw DeployError(.io, "cannot run tar: not found", at: path) }
        let command = ProcessCommand(
            tar, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            stdout: .discard)
        let output: ProcessOutput
        do {
            output = try ProcessRunner.runBlocking(command).get()
        } catch {
            throw DeployError(.io, "cannot run tar: \(error.message)", at: path)
        }
        guard output.status == 0 else {
            let text = output.stderrText.split(separator: "\n").first.map(String.init) ?? ""
            throw DeployError(.io, "tar failed: \(text)", at: path)
        }
    }
}
