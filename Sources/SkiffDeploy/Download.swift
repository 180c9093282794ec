import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SkiffCore

/// Fetches release and stemcell tarballs named by `http(s)://` URLs into a local cache, checking their digest.
///
/// As in the BOSH CLI, a download is tried three times and kept under a name made from the URL and its digest, so
/// the next run finds it (`Skipped [Found in local cache]`).
public enum Download {
    /// skiff's own folder: `$SKIFF_HOME`, default `~/.skiff`.
    static var skiffHome: URL {
        ProcessInfo.processInfo.environment["SKIFF_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".skiff")
    }

    /// The cache folder: `$SKIFF_HOME/downloads`.
    static var cacheDirectory: URL { skiffHome.appendingPathComponent("downloads") }

    /// The cached file for `url` with `digest`, if a download already verified it.
    public static func cached(_ url: String, digest: String) -> URL? {
        let file = cacheFile(url, digest: digest)
        return FileManager.default.fileExists(atPath: file.path) ? file : nil
    }

    /// Downloads `url`, verifies `digest` (`HEX` SHA-1, or `sha256:HEX`), and returns the cached file.
    public static func fetch(_ url: String, digest: String) async throws -> URL {
        if let file = cached(url, digest: digest) { return file }
        let target = cacheFile(url, digest: digest)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        var lastError: any Error = DeployError(.io, "no attempt made", at: url)
        for attempt in 1...3 {
            try Task.checkCancellation()
            do {
                let partial = target.appendingPathExtension("part")
                try await download(url, to: partial)
                let actual = try Self.digest(of: partial, like: digest)
                guard actual == digest.lowercased() else {
                    try? FileManager.default.removeItem(at: partial)
                    throw DeployError(
                        .io, "downloaded file has digest \(actual), but the manifest says \(digest)", at: url)
                }
                try FileManager.default.moveItem(at: partial, to: target)
                return target
            } catch let error as DeployError where error.message.contains("digest") {
                throw error
            } catch {
                lastError = error
                if attempt < 3 { try await Task.sleep(for: .milliseconds(500)) }
            }
        }
        throw DeployError(.io, "download failed after 3 attempts: \(lastError)", at: url)
    }

    private static func download(_ url: String, to file: URL) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw DeployError(.io, "HTTP \(response.status.code)", at: url)
        }
        // A file that cannot be created fails on the next line, opening it, with the system's reason.
        _ = FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o644])
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        for try await chunk in response.body {
            try handle.write(contentsOf: Array(chunk.readableBytesView))
        }
    }

    static func cacheFile(_ url: String, digest: String) -> URL {
        let key = Hex.string(Insecure.SHA1.hash(data: Data(url.utf8)))
        let safeDigest = digest.lowercased().replacingOccurrences(of: ":", with: "-")
        return cacheDirectory.appendingPathComponent("\(key)-\(safeDigest)")
    }

    /// The file's digest in the form `expected` uses.
    static func digest(of file: URL, like expected: String) throws -> String {
        let data = try Data(contentsOf: file, options: .mappedIfSafe)
        if expected.lowercased().hasPrefix("sha256:") {
            return "sha256:" + Hex.string(SHA256.hash(data: data))
        }
        return Hex.string(Insecure.SHA1.hash(data: data))
    }
}
