/// An address of either family, for places that accept both (manifests, command lines).
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses IPv4 dotted decimal or any IPv6 text form; the error names the family the text looked like.
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        if input.contains(":") {
            self = .v6(try IPv6Address(parsing: input))
        } else if input.contains(".") {
            self = .v4(try IPv4Address(parsing: input))
        } else {
            throw AddressError(.invalidAddress, input: input, reason: "neither an IPv4 nor an IPv6 address")
        }
    }

    /// Creates an address from text, or returns nil if it is not one.
    public init?(_ text: some StringProtocol) {
        guard let parsed = try? Self(parsing: text) else { return nil }
        self = parsed
    }

    /// The address's family.
    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The address as a number right-aligned in 128 bits.
    public var bits: UInt128 {
        switch self {
        case .v4(let address): address.bits
        case .v6(let address): address.bits
        }
    }

    /// The IPv4 address, if this is one.
    public var ipv4: IPv4Address? {
        if case .v4(let address) = self { address } else { nil }
    }

    /// The IPv6 address, if this is one.
    public var ipv6: IPv6Address? {
        if case .v6(let address) = self { address } else { nil }
    }

    /// Canonical text: dotted decimal or RFC 5952.
    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }

    /// Fully expanded text: eight four-digit groups for IPv6, dotted decimal for IPv4.
    public var expanded: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.expanded
        }
    }

    /// IPv4 addresses sort before IPv6 ones; within a family, by numeric value.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
