import AsyncHTTPClient
import Foundation

/// `fake_imds.py` on a free loopback port: an IMDSv2-only metadata service handing out one role's keys.
final class FakeIMDS: @unchecked Sendable {
    let port: Int
    private let process: Process

    /// The endpoint, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// Starts the server handing out `key`/`secret` for `role`.
    static func start(role: String, key: String, secret: String, expiration: String? = nil) async throws -> FakeIMDS {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-fake-imds-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        var arguments = "'\(portFile)' '\(role)' '\(key)' '\(secret)'"
        if let expiration { arguments += " '\(expiration)'" }
        let process = try MotoServer.launch(
            "python3 '\(supportDirectory)/fake_imds.py' \(arguments)", environment: ProcessInfo.processInfo.environment)
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while true {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                try? FileManager.default.removeItem(atPath: portFile)
                return FakeIMDS(port: port, process: process)
            }
            guard ContinuousClock.now < deadline, process.isRunning else {
                MotoServer.terminate(process)
                throw FixtureError("the fake metadata service did not start")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// `METHOD PATH token|no-token` for every request served.
    func log() async throws -> [String] {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "\(endpoint)/_log"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONDecoder().decode([String].self, from: Data(String(buffer: body).utf8))
    }

    /// Stops the server by PID.
    func stop() { MotoServer.terminate(process) }
}

/// Runs `body` with a fake metadata service, stopping it afterwards even when `body` throws.
func withFakeIMDS<T>(
    role: String = "skiff-role", key: String = "ASIAFAKEIMDS", secret: String = "imds-secret",
    expiration: String? = nil, _ body: (FakeIMDS) async throws -> T
) async throws -> T {
    let imds = try await FakeIMDS.start(role: role, key: key, secret: secret, expiration: expiration)
    do {
        let result = try await body(imds)
        imds.stop()
        return result
    } catch {
        imds.stop()
        throw error
    }
}
