import AsyncHTTPClient
import Foundation
import NIOCore
import SkiffNet

/// `health_check` of an instance group (a skiff extension the BOSH CLI ignores): an HTTP GET that must answer
/// on every static address of the instance, IPv4 and IPv6, before create-env succeeds.
public struct HealthCheckSpec: Sendable, Hashable {
    public var scheme: String
    public var port: Int
    public var path: String
    /// How long each address may take to answer.
    public var timeout: Duration

    public init(scheme: String = "http", port: Int = 80, path: String = "/", timeout: Duration = .seconds(60)) {
        self.scheme = scheme
        self.port = port
        self.path = path
        self.timeout = timeout
    }

    /// The URL for one address, the port left out when it is the scheme's default.
    public func url(for address: IPAddress) -> String {
        let defaultPort = scheme == "https" ? 443 : 80
        return address.url(scheme: scheme, port: port == defaultPort ? nil : port, path: path)
    }
}

enum HealthCheck {
    /// Checks every address; returns the URLs that answered, IPv6 ones last.
    static func run(_ manifest: DeploymentManifest, stages: Stages) async throws -> [String] {
        guard let spec = manifest.healthCheck else { return [] }
        let addresses = manifest.staticAddresses.filter { address in
            manifest.networks.first { network in network.subnet?.range.contains(address) ?? false }?.type != .vip
        }
        var urls: [String] = []
        for address in addresses {
            let url = spec.url(for: address)
            try await stages.step("Checking that '\(url)' answers") {
                try await probe(url, address: address, port: spec.port, timeout: spec.timeout)
            }
            urls.append(url)
        }
        return urls
    }

    /// Asks until `url` answers 2xx or 3xx. First the port must accept a TCP connection: each try is a new socket
    /// given 100 ms, then twice as long as the one before, up to 2 s — a first SYN that a new neighbour drops (the
    /// guest's address still being set up) is followed by a new connection at once instead of the kernel's
    /// retransmission a whole second later, and a slow network still gets its time. Then an HTTP GET.
    static func probe(_ url: String, address: IPAddress, port: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError = "no answer"
        var attempt: Int64 = 100
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            let started = ContinuousClock.now
            let allowed = Duration.milliseconds(attempt)
            let open = await Task.detached { TCPProbe.connects(to: address, port: port, timeout: allowed) }.value
            guard open else {
                lastError = "port \(port) does not accept connections"
                attempt = min(attempt * 2, 2000)
                // A refused connection returns at once: wait out the rest of the try before the next.
                let spent = ContinuousClock.now - started
                if spent < .milliseconds(20) { try await Task.sleep(for: .milliseconds(20) - spent) }
                continue
            }
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .GET
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
                _ = try await response.body.collect(upTo: 1 << 20)
                if (200..<400).contains(Int(response.status.code)) { return }
                lastError = "HTTP \(response.status.code)"
            } catch {
                lastError = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DeployError(
            .health,
            "no healthy answer from \(url) (\(address.family), port \(port)) within \(timeout): \(lastError)")
    }
}
