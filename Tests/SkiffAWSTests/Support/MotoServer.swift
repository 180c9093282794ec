import AsyncHTTPClient
import Foundation
import NIOCore
import SkiffAWS
import SkiffCore

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the test fixtures themselves (moto would not start, python3 missing).
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The directory of this file's support scripts.
let supportDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

/// What a child process printed and returned.
struct ChildResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `executable` with `arguments`, feeding `input` on stdin; stdout and stderr are read concurrently.
func runChild(_ executable: String, _ arguments: [String], input: String = "", environment: [String: String]? = nil)
    throws -> ChildResult
{
    let command = ProcessCommand(executable, arguments, environment: environment, input: Data(input.utf8))
    let output = try ProcessRunner.runBlocking(command).get()
    return ChildResult(
        status: output.status, stdout: output.stdoutText, stderr: String(decoding: output.stderr, as: UTF8.self))
}

/// Runs `python3 script` with `input` on stdin and returns stdout; throws with stderr on failure.
func runPython(_ script: String, input: String) throws -> String {
    let result = try runChild("/usr/bin/env", ["python3", "\(supportDirectory)/\(script)"], input: input)
    guard result.status == 0 else { throw FixtureError("python3 \(script) failed: \(result.stderr)") }
    return result.stdout
}

/// The built `skiff` executable, found by walking up from the test runner's folder.
var skiffExecutable: String {
    var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while folder.path != "/" {
        let candidate = folder.appendingPathComponent("skiff").path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
            return candidate
        }
        folder = folder.deletingLastPathComponent()
    }
    return ".build/debug/skiff"
}

/// A free TCP port on 127.0.0.1, found by binding port 0.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw FixtureError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One logged request of the proxy.
struct ProxyRecord: Decodable {
    let action: String
    let params: [String: String]
    let status: Int
    let injected: Bool
}

/// A fault the proxy injects.
struct Fault: Encodable {
    var action: String = "*"
    var status: Int
    var code: String
    var times: Int = 1
    var body: String?
    var skip: Int = 0
}

/// `moto_server` on a free loopback port behind the recording, fault-injecting proxy; both stopped by PID.
final class MotoServer: @unchecked Sendable {
    let motoPort: Int
    let proxyPort: Int
    private let moto: Process
    private let proxy: Process

    /// The process ids of moto and the proxy.
    var pids: [Int32] { [moto.processIdentifier, proxy.processIdentifier] }

    /// The endpoint clients use: the proxy.
    var endpoint: String { "http://127.0.0.1:\(proxyPort)" }
    /// moto directly, for control calls.
    var motoURL: String { "http://127.0.0.1:\(motoPort)" }

    private init(motoPort: Int, proxyPort: Int, moto: Process, proxy: Process) {
        self.motoPort = motoPort
        self.proxyPort = proxyPort
        self.moto = moto
        self.proxy = proxy
    }

    /// Starts `command` through `/bin/sh -c 'exec …'` with its output discarded; the PID is the command's own.
    static func launch(_ command: String, environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \(command) </dev/null >/dev/null 2>&1"]
        process.environment = environment
        try process.run()
        return process
    }

    /// Starts moto with extra environment variables and the proxy in front of it.
    static func start(environment extra: [String: String] = [:]) async throws -> MotoServer {
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("AWS_") || key.hasPrefix("MOTO_") {
            environment[key] = nil
        }
        environment.merge(extra) { $1 }
        let moto = try launch("python3 -m moto.server -H 127.0.0.1 -p \(port)", environment: environment)
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-ec2-proxy-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        let proxy: Process
        do {
            proxy = try launch(
                "python3 '\(supportDirectory)/ec2_proxy.py' \(port) '\(portFile)' \(moto.processIdentifier)",
                environment: environment)
        } catch {
            terminate(moto)
            throw error
        }
        let server = MotoServer(motoPort: port, proxyPort: 0, moto: moto, proxy: proxy)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        var proxyPort = 0
        while proxyPort == 0 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let value = Int(text) {
                proxyPort = value
                try? FileManager.default.removeItem(atPath: portFile)
            } else {
                guard ContinuousClock.now < deadline, proxy.isRunning else {
                    server.stop()
                    throw FixtureError("the EC2 test proxy did not start")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let ready = MotoServer(motoPort: port, proxyPort: proxyPort, moto: moto, proxy: proxy)
        while true {
            if (try? await ready.control("GET", "/moto-api/data.json")) != nil { break }
            guard ContinuousClock.now < deadline, moto.isRunning else {
                ready.stop()
                throw FixtureError("moto_server did not start on port \(port)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // moto loads its EC2 backend on the first EC2 call (seconds on a busy machine): do it now, past the proxy,
        // so tests that time themselves do not pay for it.
        let warm = EC2Client(
            settings: AWSSettings(
                credentials: AWSCredentials(accessKeyID: "AKIDSKIFFTEST", secretAccessKey: "skiff-test-secret"),
                region: "us-east-1", endpoint: try? EC2Endpoint(parsing: ready.motoURL)))
        if extra["INITIAL_NO_AUTH_ACTION_COUNT"] == nil { _ = try? await warm.call("DescribeAvailabilityZones") }
        return ready
    }

    /// Sends SIGTERM to `process` by PID, then SIGKILL if it is still there after half a second.
    static func terminate(_ process: Process) {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        for _ in 0..<10 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
    }

    /// Stops the proxy and moto, by PID.
    func stop() {
        Self.terminate(proxy)
        Self.terminate(moto)
    }

    /// Sends a control request to moto (`/moto-api/...`) or the proxy (`/_skiff/...`).
    @discardableResult
    func control(_ method: String, _ path: String, body: String = "", contentType: String = "text/plain") async throws
        -> String
    {
        let base = path.hasPrefix("/_skiff") ? endpoint : motoURL
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Content-Type", value: contentType)
        if !body.isEmpty { request.body = .bytes(Array(body.utf8)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code < 300 else { throw FixtureError("\(method) \(path): HTTP \(response.status.code)") }
        return String(buffer: buffer)
    }

    /// The requests the proxy saw.
    func log() async throws -> [ProxyRecord] {
        try JSONDecoder().decode([ProxyRecord].self, from: Data(try await control("GET", "/_skiff/log").utf8))
    }

    /// Clears the proxy log.
    func resetLog() async throws { try await control("POST", "/_skiff/reset-log") }

    /// Queues faults.
    func inject(_ faults: [Fault]) async throws {
        let json = String(decoding: try JSONEncoder().encode(faults), as: UTF8.self)
        try await control("POST", "/_skiff/faults", body: json, contentType: "application/json")
    }

    /// Settings for a client talking to this server.
    func settings(region: String = "us-east-1", key: String = "AKIDSKIFFTEST", secret: String = "skiff-test-secret")
        -> AWSSettings
    {
        AWSSettings(
            credentials: AWSCredentials(accessKeyID: key, secretAccessKey: secret), region: region,
            endpoint: try? EC2Endpoint(parsing: endpoint))
    }

    /// A client with fast retries that counts its calls.
    func client(
        counter: EC2CallCounter = EC2CallCounter(), region: String = "us-east-1", key: String = "AKIDSKIFFTEST",
        secret: String = "skiff-test-secret"
    ) -> EC2Client {
        EC2Client(
            settings: settings(region: region, key: key, secret: secret),
            retry: RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(10), maxDelay: .milliseconds(100)),
            consistencyWait: .seconds(2), observer: { counter.observe($0) })
    }
}

/// Limits how many moto servers run at once: each costs a Python process and a second of CPU to start, and the
/// machine has two cores shared with the rest of the suite.
actor MotoSlots {
    static let shared = MotoSlots(limit: 3)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = limit }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// Runs `body` with a fresh moto behind the proxy, stopping both afterwards even when `body` throws.
func withMoto<T>(environment: [String: String] = [:], _ body: (MotoServer) async throws -> T) async throws -> T {
    await MotoSlots.shared.acquire()
    let server: MotoServer
    do {
        server = try await MotoServer.start(environment: environment)
    } catch {
        await MotoSlots.shared.release()
        throw error
    }
    do {
        let result = try await body(server)
        server.stop()
        await MotoSlots.shared.release()
        return result
    } catch {
        server.stop()
        await MotoSlots.shared.release()
        throw error
    }
}
