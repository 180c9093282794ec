/// A problem found while reading an address, prefix or subnet, in words a manifest author understands.
public struct AddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is, stable enough to test against.
    public enum Code: String, Sendable, Hashable {
        case invalidIPv4
        case invalidIPv6
        case invalidAddress
        case invalidPrefix
        case hostBitsSet
        case invalidLength
        case outOfRange
        case familyMismatch
        case unsupportedSubnet
    }

    /// The kind of problem.
    public let code: Code
    /// The text the user gave, exactly as given.
    public let input: String
    /// What is wrong with it.
    public let reason: String

    /// Creates an error about `input`.
    public init(_ code: Code, input: String, reason: String) {
        self.code = code
        self.input = input
        self.reason = reason
    }

    /// One line: the input, quoted, and what is wrong with it.
    public var description: String {
        switch code {
        case .invalidIPv4: "invalid IPv4 address '\(input)': \(reason)"
        case .invalidIPv6: "invalid IPv6 address '\(input)': \(reason)"
        case .invalidAddress: "invalid IP address '\(input)': \(reason)"
        case .invalidPrefix, .hostBitsSet, .invalidLength: "invalid prefix '\(input)': \(reason)"
        case .outOfRange, .familyMismatch, .unsupportedSubnet: "'\(input)': \(reason)"
        }
    }
}
