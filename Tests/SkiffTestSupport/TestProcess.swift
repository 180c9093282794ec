import Foundation
import SkiffCore

/// What one run of a program printed and returned.
public struct ProcessResult: Sendable {
    /// The exit status (or 128 + the signal number, for a killed process).
    public let status: Int32
    /// Everything written to standard output.
    public let stdout: String
    /// Everything written to standard error.
    public let stderr: String
}

/// Runs programs for tests, and finds the `skiff` binary and the repository the tests were built from.
public enum TestProcess {
    /// The repository root.
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `skiff` binary: the test runner lives in the same build folder.
    public static var skiffBinary: URL {
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("skiff")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue
            {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
        return repository.appendingPathComponent(".build/debug/skiff")
    }

    /// Runs `executable` with `arguments`, feeding `stdin` (none: /dev/null), and waits for it
    /// (``ProcessRunner``).
    public static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil
    ) throws -> ProcessResult {
        let command = ProcessCommand(
            executable, arguments, environment: environment, input: stdin.map { Data($0.utf8) })
        let output = try ProcessRunner.runBlocking(command).get()
        return ProcessResult(
            status: output.status, stdout: output.stdoutText, stderr: String(decoding: output.stderr, as: UTF8.self))
    }

    /// Runs the built `skiff`.
    public static func skiff(
        _ arguments: [String], stdin: String = "", environment: [String: String]? = nil
    ) throws -> ProcessResult {
        try run(skiffBinary.path, arguments, stdin: stdin, environment: environment)
    }
}
