import Foundation
import SkiffCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a finished command left behind.
public struct CommandResult: Sendable, Hashable {
    /// The exit status, or 128 + signal when it was killed.
    public var status: Int32
    /// Standard output and error, interleaved, cut to the last 64 KiB.
    public var output: String
    /// True when it ran past its timeout and was stopped (`status` is then 124, as coreutils' `timeout` reports).
    public var timedOut = false
}

/// Runs programs for the agent: packaging scripts, lifecycle scripts, tar, monit start/stop programs.
///
/// Every program is started by SkiffCore's ``ProcessRunner`` as bosh-agent starts scripts: in a process group of
/// its own, stdin on /dev/null, stdout and stderr appended to files, no descriptor of the agent's, an empty signal
/// mask and default signal dispositions. It is reaped when it exits, so waiting never depends on its output
/// reaching end-of-file: a background process it leaves behind holding its output cannot hang the agent.
enum CommandRunner {
    /// The PATH given to scripts, as monit and bosh-agent do, for an agent whose root is `/var/vcap`.
    static let defaultPath = AgentPaths().searchPath

    /// Starts `executable` with `arguments` and exactly `environment`, writing stdout to the file `stdout` and
    /// stderr to `stderr` (the same file when nil), both appended to and created 0640; `directory` is the working
    /// directory.
    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String? = nil,
        stdout: String, stderr: String? = nil
    ) throws(AgentError) -> ChildProcess {
        var errors = ProcessStream.standardOutput
        if let stderr, stderr != stdout { errors = .file(stderr, append: true, mode: 0o640) }
        let command = ProcessCommand(
            executable, arguments, environment: environment, directory: directory,
            stdout: .file(stdout, append: true, mode: 0o640), stderr: errors, newProcessGroup: true)
        do {
            return try ProcessRunner.start(command)
        } catch {
            throw AgentError(.commandFailed, error.message)
        }
    }

    /// Runs `executable` with `arguments` to completion and captures its output (appended to `logPath` if given).
    ///
    /// With a `timeout`, a program still running then is stopped (SIGTERM, then SIGKILL, to its process group)
    /// and the status is nil.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: String? = nil, logPath: String? = nil, timeout: Duration? = nil
    ) async throws(AgentError) -> CommandResult {
        let capture =
            logPath
            ?? (NSTemporaryDirectory() as NSString).appendingPathComponent(
                "skiff-agent-\(UUID().uuidString).out")
        let removeCapture = logPath == nil
        defer { if removeCapture { try? FileManager.default.removeItem(atPath: capture) } }
        let offset = (try? FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int) ?? 0
        let child = try start(
            executable, arguments, environment: environment ?? ["PATH": defaultPath], directory: directory,
            stdout: capture)
        var status: Int32? = nil
        if let timeout {
            status = await child.wait(timeout: timeout)
        } else {
            status = await child.wait()
        }
        let data = FileManager.default.contents(atPath: capture) ?? Data()
        let own = data.count > offset ? data.suffix(from: data.startIndex + offset) : Data()
        let tail = own.count > 65536 ? own.suffix(65536) : own
        return CommandResult(
            status: status ?? 124, output: String(decoding: tail, as: UTF8.self), timedOut: status == nil)
    }

    /// Runs a program with stdout and stderr going to separate files (scripts, as bosh-agent logs them); nil when
    /// `timeout` passed first and the program was stopped.
    static func runSplit(
        _ executable: String, _ arguments: [String], environment: [String: String], stdoutPath: String,
        stderrPath: String, timeout: Duration
    ) async throws(AgentError) -> Int32? {
        for path in [stdoutPath, stderrPath] {
            try Files.createDirectory((path as NSString).deletingLastPathComponent)
        }
        let child = try start(
            executable, arguments, environment: environment, stdout: stdoutPath, stderr: stderrPath)
        return await child.wait(timeout: timeout)
    }

    /// Runs a command and fails with its output when it exits non-zero.
    @discardableResult
    static func check(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        what: String
    ) async throws(AgentError) -> CommandResult {
        let result = try await run(executable, arguments, environment: environment, directory: directory)
        guard result.status == 0 else {
            let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            let tail = output.split(separator: "\n").suffix(5).joined(separator: " | ")
            throw AgentError(.commandFailed, "\(what) failed with exit status \(result.status): \(tail)")
        }
        return result
    }

    /// Starts a program without waiting for it (monit `start program`); returns the child, reaped when it exits.
    static func spawn(_ commandLine: String, logPath: String, environment: [String: String]) throws(AgentError)
        -> ChildProcess
    {
        try start("/bin/sh", ["-c", commandLine], environment: environment, directory: "/", stdout: logPath)
    }

    /// Extracts a gzip tarball into `directory` (created if needed).
    static func untar(_ archive: String, into directory: String) async throws(AgentError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AgentError(.io, "cannot create '\(directory)': \(error.localizedDescription)")
        }
        try await check("/bin/tar", ["-xzf", archive, "-C", directory], what: "extracting '\(archive)'")
    }

    /// Writes the contents of `directory` into a gzip tarball at `archive`, with `./` entries as bosh does. gzip's
    /// fastest level: a compiled package only travels within the VM (blobstore to `data/packages`), and level 6
    /// took three times as long for a 10% smaller nginx.
    static func tar(_ directory: String, to archive: String) async throws(AgentError) {
        try await check(
            "/bin/tar", ["--use-compress-program=gzip -1", "-cf", archive, "-C", directory, "."],
            what: "archiving '\(directory)'")
    }
}

/// Process liveness by PID: alive and not a zombie.
enum ProcessProbe {
    /// Whether `pid` names a live (non-zombie) process.
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("Z") || rest.hasPrefix("X") { return false }
        }
        return true
    }

    /// Sends `signal` to `pid` only.
    static func signal(_ pid: Int32, _ signal: Int32) {
        guard pid > 0 else { return }
        _ = kill(pid, signal)
    }

    /// Reads a PID file: the first integer in it.
    static func readPidfile(_ path: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").first ?? "")
    }

    /// Whether we run as root.
    static var isRoot: Bool { geteuid() == 0 }
}
