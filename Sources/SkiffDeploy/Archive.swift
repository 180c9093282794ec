import Foundation

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
        let arguments = [
            "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-czf", archive.path,
            "-C", directory.path,
        ] + (entries.isEmpty ? ["--files-from=/dev/null"] : entries.map { "./" + $0 })
        try runTar(arguments, describing: archive.path, environment: ["GZIP": "-n"])
    }

    private static func runTar(_ arguments: [String], describing path: String, environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar"] + arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw DeployError(.io, "cannot run tar: \(error.localizedDescription)", at: path)
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            throw DeployError(.io, "tar failed: \(text)", at: path)
        }
    }
}
