import Crypto
import Foundation
import SkiffCore

/// AWS Signature Version 4 for the EC2 Query API: POST form bodies, service `ec2`.
public struct SigV4Signer: Sendable {
    /// The keys to sign with.
    public let credentials: AWSCredentials
    /// The region in the credential scope.
    public let region: String
    /// The service in the credential scope.
    public let service: String

    /// Creates a signer.
    public init(credentials: AWSCredentials, region: String, service: String = "ec2") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The parts of a signature, exposed so tests can compare them with a reference implementation.
    public struct Signature: Sendable, Hashable {
        /// The canonical request text.
        public let canonicalRequest: String
        /// The string to sign.
        public let stringToSign: String
        /// The hex signature.
        public let signature: String
        /// Header name/value pairs to send, including `Authorization`, `X-Amz-Date` and the token if any.
        public let headers: [(String, String)]

        public static func == (lhs: Signature, rhs: Signature) -> Bool {
            lhs.canonicalRequest == rhs.canonicalRequest && lhs.signature == rhs.signature
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(signature) }
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` for `date`, in UTC.
    public static func amzDate(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Signs a request whose URL path is `path`, query is empty, with `headers` (which must include `Host`
    /// and may include `Content-Type`) and `body`, at `date`.
    public func sign(
        method: String = "POST", path: String = "/", query: String = "", headers: [(String, String)], body: [UInt8],
        date: Date = Date()
    ) -> Signature {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        var all = headers
        all.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { all.append(("X-Amz-Security-Token", token)) }

        var canonical: [String: String] = [:]
        for (name, value) in all {
            let key = name.lowercased()
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            canonical[key] = canonical[key].map { "\($0),\(trimmed)" } ?? trimmed
        }
        let names = canonical.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let canonicalHeaders = names.map { "\($0):\(canonical[$0] ?? "")\n" }.joined()
        let payloadHash = Hex.string(SHA256.hash(data: body))
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, query, canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, Hex.string(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        let kDate = Self.hmac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        let kRegion = Self.hmac(key: kDate, region)
        let kService = Self.hmac(key: kRegion, service)
        let kSigning = Self.hmac(key: kService, "aws4_request")
        let signature = Hex.string(Self.hmac(key: kSigning, stringToSign))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
            + "Signature=\(signature)"
        var out = all
        out.append(("Authorization", authorization))
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature, headers: out)
    }

    static func hmac(key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }

}

/// Ordered EC2 query parameters and their form encoding.
public struct EC2Parameters: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// Wire name/value pairs, in the order they were added.
    public private(set) var pairs: [(String, String)] = []

    /// Creates an empty list.
    public init() {}

    /// Creates a list from literal pairs.
    public init(dictionaryLiteral elements: (String, String)...) { pairs = elements }

    public static func == (lhs: EC2Parameters, rhs: EC2Parameters) -> Bool {
        lhs.pairs.map { "\($0.0)=\($0.1)" } == rhs.pairs.map { "\($0.0)=\($0.1)" }
    }

    public func hash(into hasher: inout Hasher) { for (key, value) in pairs { hasher.combine(key + "=" + value) } }

    /// Sets `key` to `value`, replacing an earlier value.
    public mutating func set(_ key: String, _ value: String?) {
        guard let value else { return }
        if let index = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[index].1 = value
        } else {
            pairs.append((key, value))
        }
    }

    /// Sets a boolean as `true`/`false`.
    public mutating func set(_ key: String, _ value: Bool?) { set(key, value.map { $0 ? "true" : "false" }) }

    /// Sets an integer.
    public mutating func set(_ key: String, _ value: Int?) { set(key, value.map(String.init)) }

    /// Adds a flattened list: `Prefix.1`, `Prefix.2`, … (or `Prefix.1.Suffix` when a suffix is given).
    public mutating func list(_ prefix: String, _ values: [String], suffix: String? = nil) {
        for (index, value) in values.enumerated() {
            set("\(prefix).\(index + 1)" + (suffix.map { ".\($0)" } ?? ""), value)
        }
    }

    /// Adds `Filter.N.Name` / `Filter.N.Value.M`, continuing after filters already present.
    public mutating func filters(_ filters: [EC2Filter]) {
        let start = pairs.filter { $0.0.hasPrefix("Filter.") && $0.0.hasSuffix(".Name") }.count
        for (offset, filter) in filters.enumerated() {
            let index = start + offset + 1
            set("Filter.\(index).Name", filter.name)
            list("Filter.\(index).Value", filter.values)
        }
    }

    /// Adds `TagSpecification.N.ResourceType` and its `Tag.M.Key`/`Tag.M.Value`.
    public mutating func tagSpecification(_ resourceType: String, _ tags: [EC2Tag]) {
        guard !tags.isEmpty else { return }
        let index = pairs.filter { $0.0.hasPrefix("TagSpecification.") && $0.0.hasSuffix(".ResourceType") }.count + 1
        set("TagSpecification.\(index).ResourceType", resourceType)
        for (offset, tag) in tags.enumerated() {
            set("TagSpecification.\(index).Tag.\(offset + 1).Key", tag.key)
            set("TagSpecification.\(index).Tag.\(offset + 1).Value", tag.value)
        }
    }

    /// The value of `key`, if set.
    public subscript(key: String) -> String? { pairs.first { $0.0 == key }?.1 }

    /// The form body `Action=…&Version=2016-11-15&…`, encoded the way Python's `urlencode` does, which is
    /// what AWS and moto's signature check expect.
    public func formBody(action: String, version: String = EC2Client.apiVersion) -> String {
        ([("Action", action), ("Version", version)] + pairs)
            .map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }
            .joined(separator: "&")
    }

    /// `quote_plus`: letters, digits and `_.-~` stay, a space becomes `+`, every other byte `%XX` (upper-case hex).
    public static func formEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: " "):
                out.append("+")
            default:
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return out
    }
}

/// A `Name`/`Value.N` filter on a Describe call.
public struct EC2Filter: Sendable, Hashable {
    /// The filter name, e.g. `tag:skiff:env`, `vpc-id`.
    public let name: String
    /// The accepted values.
    public let values: [String]

    /// Creates a filter.
    public init(_ name: String, _ values: [String]) {
        self.name = name
        self.values = values
    }

    /// Creates a filter with one value.
    public init(_ name: String, _ value: String) { self.init(name, [value]) }

    /// Matches resources carrying tag `key` = `value`.
    public static func tag(_ key: String, _ value: String) -> EC2Filter { EC2Filter("tag:\(key)", value) }
}

/// A resource tag.
public struct EC2Tag: Sendable, Hashable, Codable {
    /// The key.
    public let key: String
    /// The value.
    public let value: String

    /// Creates a tag.
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}
