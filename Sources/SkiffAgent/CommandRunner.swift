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
}

/// Runs programs for the agent: packaging scripts, lifecycle scripts, tar, monit start/stop programs.
enum CommandRunner {
    /// The PATH given to scripts, as monit and bosh-agent do.
    static let defaultPath = "/var/vcap/bosh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs `executable` with `arguments` to completion and captures its output (stdout and stderr interleaved,
    /// appended to `logPath` too when given).
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
        let start = (try? FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int) ?? 0
        let command = ProcessCommand(
            executable, arguments, environment: environment ?? ["PATH": defaultPath], directory: directory,
            stdout: .file(capture), stderr: .standardOutput, timeout: timeout)
        let output: ProcessOutput
        do {
            output = try await ProcessRunner.run(command)
        } catch {
            throw AgentError(.commandFailed, error.message)
        }
        let data = FileManager.default.contents(atPath: capture) ?? Data()
        let own = data.count > start ? data.suffix(from: start) : Data()
        let tail = own.count > 65536 ? own.suffix(65536) : own
        return CommandResult(status: output.status, output: String(decoding: tail, as: UTF8.self))
    }

    /// Runs a program with stdout and stderr appended to separate files (drain scripts print their answer).
    static func runSplit(
        _ executable: String, _ arguments: [String], environment: [String: String], stdoutPath: String,
        stderrPath: String, timeout: Duration? = nil
    ) async throws(AgentError) -> Int32 {
        for path in [stdoutPath, stderrPath] {
            try? FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        let command = ProcessCommand(
            executable, arguments, environment: environment, stdout: .file(stdoutPath), stderr: .file(stderrPath),
            timeout: timeout)
        do {
            return try await ProcessRunner.run(command).status
        } catch {
            throw AgentError(.commandFailed, error.message)
        }
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

    /// Starts a program without waiting for it (monit `start program`); returns the process for reaping.
    static func spawn(_ commandLine: String, logPath: String, environment: [String: String]) throws(AgentError)
        -> Process
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", commandLine]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        do {
            if !FileManager.default.fileExists(atPath: logPath) {
                _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            _ = try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            try? handle.close()
        } catch {
            throw AgentError(.commandFailed, "cannot start '\(commandLine)': \(error.localizedDescription)")
        }
        return process
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

    /// Writes the contents of `directory` into a gzip tarball at `archive`, with `./` entries as bosh does.
    static func tar(_ directory: String, to archive: String) async throws(AgentError) {
        try await check("/bin/tar", ["-czf", archive, "-C", directory, "."], what: "archiving '\(directory)'")
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
