import Foundation

/// What a finished child process left behind.
public struct ProcessOutput: Sendable, Hashable {
    /// The exit status (or 128 + signal number when it was killed by a signal).
    public var status: Int32
    /// Everything it wrote to stdout.
    public var stdout: Data
    /// Everything it wrote to stderr.
    public var stderr: Data

    /// stdout as UTF-8 text.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr as UTF-8 text, trimmed.
    public var stderrText: String {
        String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs child processes without blocking Swift's cooperative threads.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`, feeding `input` on stdin, and collects stdout and stderr.
    ///
    /// `environment` nil inherits this process's environment. Throws only when the process cannot be started.
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        directory: String? = nil
    ) async throws(CloudError) -> ProcessOutput {
        let result: Result<ProcessOutput, CloudError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    returning: runBlocking(
                        executable, arguments, input: input, environment: environment, directory: directory))
            }
        }
        return try result.get()
    }

    /// The blocking implementation of ``run(_:_:input:environment:directory:)``.
    public static func runBlocking(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
        directory: String? = nil
    ) -> Result<ProcessOutput, CloudError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        do {
            try process.run()
        } catch {
            return .failure(CloudError.cloud("cannot run '\(executable)': \(error.localizedDescription)"))
        }
        let group = DispatchGroup()
        let collected = Collected()
        group.enter()
        DispatchQueue.global().async {
            collected.setStdout(stdoutPipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            collected.setStderr(stderrPipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        if let input {
            let handle = stdinPipe.fileHandleForWriting
            try? handle.write(contentsOf: input)
            try? handle.close()
        }
        group.wait()
        process.waitUntilExit()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        let (stdout, stderr) = collected.values
        return .success(ProcessOutput(status: status, stdout: stdout, stderr: stderr))
    }

    /// Finds `name` on `PATH` (and in the sbin directories root's tools live in); nil if absent.
    public static func find(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let searchPath = path ?? ProcessInfo.processInfo.environment["PATH"] ?? ""
        var directories = searchPath.split(separator: ":").map(String.init)
        directories += ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// stdout and stderr gathered by two reader threads.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var stdout = Data()
    private var stderr = Data()

    func setStdout(_ data: Data) { lock.withLock { stdout = data } }
    func setStderr(_ data: Data) { lock.withLock { stderr = data } }
    var values: (Data, Data) { lock.withLock { (stdout, stderr) } }
}
