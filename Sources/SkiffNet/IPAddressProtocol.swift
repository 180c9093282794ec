/// The address family of an address or prefix.
public enum IPFamily: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ipv4
    case ipv6

    /// The family as people write it: `IPv4` or `IPv6`.
    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }

    /// How many bits an address of this family has.
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }
}

/// What IPv4 and IPv6 addresses share: a fixed number of bits, an order, and a canonical text form.
///
/// Prefix math in ``IPNetwork`` is written once against this protocol.
public protocol IPAddressProtocol: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The family of every address of this type.
    static var family: IPFamily { get }
    /// The address as an unsigned number, right-aligned in 128 bits.
    var bits: UInt128 { get }
    /// Creates the address whose number is `bits`; bits above the family's width are dropped.
    init(bits: UInt128)
    /// Parses the address from text, throwing an ``AddressError`` that names the input.
    init(parsing text: some StringProtocol) throws(AddressError)
}

extension IPAddressProtocol {
    /// The number of bits in an address of this family.
    public static var bitWidth: Int { family.bitWidth }

    /// All bits of this family set.
    static var allOnes: UInt128 { bitWidth == 128 ? .max : (UInt128(1) << bitWidth) - 1 }

    /// Orders addresses by their numeric value.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.bits < rhs.bits }

    /// The address `offset` places after this one, or nil past the end of the address space.
    public func advanced(by offset: UInt128) -> Self? {
        let (sum, overflow) = bits.addingReportingOverflow(offset)
        guard !overflow, sum <= Self.allOnes else { return nil }
        return Self(bits: sum)
    }

    /// Creates an address from text, or returns nil if it is not one.
    public init?(_ text: some StringProtocol) {
        guard let parsed = try? Self(parsing: text) else { return nil }
        self = parsed
    }
}
