import Foundation
import SkiffCloud
import SkiffNet

#if canImport(Glibc)
    import Glibc
#endif

/// The host programs the local cloud runs, found once on `PATH`.
struct HostTools: Sendable {
    /// A program the local cloud needs, and the Debian package that ships it.
    static let required: [(name: String, package: String)] = [
        ("ip", "iproute2"), ("dnsmasq", "dnsmasq-base"), ("nsenter", "util-linux"), ("sh", "dash"),
        ("mount", "mount"), ("umount", "mount"), ("runc", "runc"),
    ]

    let paths: [String: String]

    /// Finds every required program on `searchPath`; the error names the first one missing and its package.
    init(searchPath: String?) throws(CloudError) {
        var found: [String: String] = [:]
        for (name, package) in Self.required {
            guard let path = ProcessRunner.find(name, path: searchPath ?? Self.defaultPath) else {
                throw CloudError.cloud(
                    "the local cloud needs '\(name)' (Debian package \(package)), which is not on PATH")
            }
            found[name] = path
        }
        paths = found
    }

    static var defaultPath: String {
        let inherited = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return inherited + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }

    func path(_ name: String) -> String { paths[name] ?? "/usr/sbin/\(name)" }

    /// Runs a host program; a non-zero exit is a `CloudError` quoting the command and its stderr.
    @discardableResult
    func run(_ name: String, _ arguments: [String], input: String? = nil) async throws(CloudError) -> ProcessOutput {
        let output = try await ProcessRunner.run(path(name), arguments, input: input.map { Data($0.utf8) })
        guard output.status == 0 else {
            throw CloudError.cloud(
                "'\(([name] + arguments).joined(separator: " "))' failed (exit \(output.status)): \(output.stderrText)")
        }
        return output
    }

    /// Runs `ip -batch -` with one command per line.
    func ipBatch(_ commands: [String], force: Bool = false, netns: String? = nil) async throws(CloudError) {
        guard !commands.isEmpty else { return }
        let output = try await ProcessRunner.run(
            path("ip"), (netns.map { ["-n", $0] } ?? []) + (force ? ["-force", "-batch", "-"] : ["-batch", "-"]),
            input: Data((commands.joined(separator: "\n") + "\n").utf8))
        guard output.status == 0 || force else {
            throw CloudError.cloud("'ip' failed (exit \(output.status)): \(output.stderrText)")
        }
    }
}

/// Facts about the host read straight from the kernel, without running programs.
enum Host {
    /// The effective user id of this process.
    static var effectiveUserID: UInt32 { UInt32(geteuid()) }

    /// True if a network interface of this name exists.
    static func linkExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/sys/class/net/\(name)")
    }

    /// True if a named network namespace exists.
    static func netnsExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(name)")
    }

    /// The PIDs of every process whose network namespace is the named one (`ip netns pids`, without a fork).
    static func pids(inNetns name: String) -> [Int32] {
        var info = stat()
        guard stat("/run/netns/\(name)", &info) == 0 else { return [] }
        let wanted = "net:[\(info.st_ino)]"
        let own = getpid()
        var result: [Int32] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != own else { continue }
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"),
                link == wanted
            {
                result.append(pid)
            }
        }
        return result
    }

    /// True while `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// The command line of `pid`, arguments joined by spaces; nil if it is gone.
    static func commandLine(_ pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// Sends SIGKILL to every pid and waits (up to `timeout`) until they are gone.
    static func killAndWait(_ pids: [Int32], timeout: Duration = .seconds(3)) async {
        for pid in pids { kill(pid, SIGKILL) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while pids.contains(where: isAlive), clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Writes a value to `/proc/sys/...` for one of our own interfaces.
    static func writeSysctl(_ path: String, _ value: String) throws(CloudError) {
        do {
            try value.write(toFile: "/proc/sys/" + path, atomically: false, encoding: .utf8)
        } catch {
            throw CloudError.cloud("cannot set /proc/sys/\(path) to \(value): \(error.localizedDescription)")
        }
    }

    /// The destinations of the host's IPv4 and IPv6 routes in every table, default routes and multicast left out.
    static func routes(tools: HostTools) async throws(CloudError) -> [(prefix: IPPrefix, device: String)] {
        var result: [(IPPrefix, String)] = []
        for family in ["-4", "-6"] {
            let output = try await tools.run("ip", ["-j", family, "route", "show", "table", "all"])
            let json = try JSONValue(parsing: output.stdout)
            for route in json.arrayValue ?? [] {
                guard let destination = route["dst"]?.stringValue, destination != "default" else { continue }
                let type = route["type"]?.stringValue ?? "unicast"
                guard ["unicast", "local", "blackhole", "unreachable", "prohibit"].contains(type) else { continue }
                let text = destination.contains("/") ? destination : destination + (family == "-4" ? "/32" : "/128")
                guard let prefix = try? IPPrefix(parsing: text) else { continue }
                result.append((prefix, route["dev"]?.stringValue ?? ""))
            }
        }
        return result
    }
}

/// An exclusive lock on the state directory (flock), held by one CPI process or task at a time.
final class StateLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Waits for the lock on `path` without blocking a thread.
    static func acquire(_ path: String) async throws(CloudError) -> StateLock {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CloudError.cloud("cannot open lock file '\(path)': \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(descriptor)
                throw CloudError.cloud("cannot lock '\(path)': \(String(cString: strerror(errno)))")
            }
            do {
                try await Task.sleep(for: .milliseconds(3))
            } catch {
                close(descriptor)
                throw CloudError(.cloudError, "cancelled while waiting for '\(path)'", okToRetry: true)
            }
        }
        return StateLock(descriptor: descriptor)
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// Small deterministic hashes for names and prefixes.
enum Naming {
    /// FNV-1a, 64 bits.
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        return value
    }

    /// `count` lowercase hex digits of `value`.
    static func hex(_ value: UInt64, _ count: Int) -> String {
        let digits = String(value, radix: 16)
        let padded = String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        return String(padded.suffix(count))
    }

    /// Eight random hex digits.
    static func randomID() -> String { hex(UInt64.random(in: 0...UInt64(UInt32.max)), 8) }

    /// Quotes `text` for a POSIX shell.
    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
