import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Counts EC2 calls by action; hand its ``observe(_:)`` to ``EC2Client`` as the observer.
public final class EC2CallCounter: Sendable {
    private let state = Mutex<[EC2CallRecord]>([])

    /// Creates an empty counter.
    public init() {}

    /// Records one exchange.
    public func observe(_ record: EC2CallRecord) { state.withLock { $0.append(record) } }

    /// Every exchange so far, in order.
    public var records: [EC2CallRecord] { state.withLock { $0 } }

    /// The number of HTTP exchanges (retries included).
    public var total: Int { records.count }

    /// Exchanges whose action changes something (not `Describe…`).
    public var mutating: Int { records.filter { !$0.action.hasPrefix("Describe") }.count }

    /// Exchanges per action.
    public var byAction: [String: Int] { records.reduce(into: [:]) { $0[$1.action, default: 0] += 1 } }
}

/// Writes files that may hold secrets: mode 0600 from the start, written to a temporary file and renamed into
/// place, so a reader never sees half a file and nobody else ever can read it.
public enum PrivateFile {
    /// Writes `contents` to `path` atomically with mode 0600.
    public static func write(_ contents: String, to path: String) throws(AWSConfigurationError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).skiff-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw AWSConfigurationError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard result > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw AWSConfigurationError("cannot write \(path): \(reason)")
            }
            written += result
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw AWSConfigurationError("cannot write \(path): \(reason)")
        }
    }
}
