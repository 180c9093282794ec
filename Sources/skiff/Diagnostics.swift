import ArgumentParser
import Foundation

/// Writes one line to standard error.
func printError(_ message: String) {
    var line = message
    if !line.hasSuffix("\n") { line += "\n" }
    FileHandle.standardError.write(Data(line.utf8))
}

/// Runs `body`; any error becomes one line on stderr, prefixed `skiff: `, and exit status 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch is CancellationError {
        printError(
            "skiff: interrupted; the state file records what was made: run create-env again to finish, or delete-env")
        throw ExitCode.failure
    } catch {
        printError("skiff: \(error)")
        throw ExitCode.failure
    }
}
