import Crypto
import Foundation
import Testing

@testable import SkiffDeploy

@Suite("Downloading releases and stemcells")
struct DownloadTests {
    /// Serves `directory` over HTTP on a free loopback port with Python's http.server, for the test's duration.
    static func withServer<T>(_ directory: URL, _ body: (Int) async throws -> T) async throws -> T {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            """
            import http.server, functools, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """, directory.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let port = try #require(Int(String(decoding: line, as: UTF8.self)))
        return try await body(port)
    }

    @Test func fetchesVerifiesAndCaches() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("www"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        setenv("SKIFF_HOME", root.appendingPathComponent("home").path, 1)
        let content = Data("a release tarball".utf8)
        try content.write(to: root.appendingPathComponent("www/release.tgz"))
        let sha1 = Insecure.SHA1.hash(data: content).map { String(format: "%02x", $0) }.joined()
        let sha256 = "sha256:" + SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()

        try await Self.withServer(root.appendingPathComponent("www")) { port in
            let url = "http://127.0.0.1:\(port)/release.tgz"
            let file = try await Download.fetch(url, digest: sha1)
            #expect(try Data(contentsOf: file) == content)
            #expect(Download.cached(url, digest: sha1) == file)
            #expect(try Data(contentsOf: try await Download.fetch(url, digest: sha256)) == content)
            await #expect {
                try await Download.fetch(url, digest: String(repeating: "0", count: 40))
            } throws: { "\($0)".contains("downloaded file has digest \(sha1), but the manifest says 000") }
            await #expect {
                try await Download.fetch("http://127.0.0.1:\(port)/missing.tgz", digest: sha1)
            } throws: { "\($0)".contains("HTTP 404") }
        }
    }
}
