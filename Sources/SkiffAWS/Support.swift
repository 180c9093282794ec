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
