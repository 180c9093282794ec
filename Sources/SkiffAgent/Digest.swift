import Crypto
import Foundation
import SkiffCore

/// A BOSH multi-digest: `HEX` (SHA-1), `sha256:HEX`, or several joined by `;`.
public struct BlobDigest: Hashable, Sendable, CustomStringConvertible {
    /// A hash algorithm BOSH names in digests.
    public enum Algorithm: String, Sendable, Hashable, Comparable {
        case sha1, sha256, sha512

        var rank: Int {
            switch self {
            case .sha1: 1
            case .sha256: 2
            case .sha512: 3
            }
        }

        public static func < (lhs: Algorithm, rhs: Algorithm) -> Bool { lhs.rank < rhs.rank }
    }

    /// The digests, by algorithm, as lowercase hex.
    public let values: [Algorithm: String]

    /// Parses a digest string; an empty string or an unknown algorithm is an error.
    public init(parsing text: String) throws(AgentError) {
        var values: [Algorithm: String] = [:]
        for part in text.split(separator: ";") {
            let piece = part.trimmingCharacters(in: .whitespaces)
            if piece.isEmpty { continue }
            if let colon = piece.firstIndex(of: ":") {
                let name = piece[..<colon].lowercased()
                guard let algorithm = Algorithm(rawValue: name) else {
                    throw AgentError(.digestMismatch, "unknown digest algorithm '\(name)' in '\(text)'")
                }
                values[algorithm] = piece[piece.index(after: colon)...].lowercased()
            } else {
                values[.sha1] = piece.lowercased()
            }
        }
        guard !values.isEmpty else { throw AgentError(.digestMismatch, "empty digest") }
        self.values = values
    }

    /// A single digest.
    public init(_ algorithm: Algorithm, hex: String) {
        values = [algorithm: hex.lowercased()]
    }

    /// The strongest algorithm present.
    public var strongest: (Algorithm, String) {
        values.max { $0.key < $1.key }.map { ($0.key, $0.value) } ?? (.sha1, "")
    }

    /// Bosh's text: plain hex for SHA-1 alone, else `algo:hex` parts joined by `;`.
    public var description: String {
        if values.count == 1, let sha1 = values[.sha1] { return sha1 }
        return values.sorted { $0.key < $1.key }.map { "\($0.key.rawValue):\($0.value)" }.joined(separator: ";")
    }

    /// Hashes a file with `algorithm`, returning lowercase hex.
    public static func hash(file path: String, algorithm: Algorithm) throws(AgentError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AgentError(.io, "cannot read '\(path)' to hash it")
        }
        defer { try? handle.close() }
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        var sha512 = SHA512()
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw AgentError(.io, "cannot read '\(path)' to hash it: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            switch algorithm {
            case .sha1: sha1.update(data: chunk)
            case .sha256: sha256.update(data: chunk)
            case .sha512: sha512.update(data: chunk)
            }
        }
        let bytes: [UInt8] =
            switch algorithm {
            case .sha1: Array(sha1.finalize())
            case .sha256: Array(sha256.finalize())
            case .sha512: Array(sha512.finalize())
            }
        return Hex.string(bytes)
    }

    /// Checks a file against the strongest digest present; the error names the blob and both digests.
    public func verify(file path: String, blob: String) throws(AgentError) {
        let (algorithm, expected) = strongest
        let actual = try Self.hash(file: path, algorithm: algorithm)
        guard actual == expected else {
            throw AgentError(
                .digestMismatch,
                "blob '\(blob)': expected \(algorithm.rawValue) digest '\(expected)', got '\(actual)'"
            )
        }
    }
}
