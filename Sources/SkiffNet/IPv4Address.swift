/// An IPv4 address, read and written in dotted decimal.
public struct IPv4Address: IPAddressProtocol {
    /// Always ``IPFamily/ipv4``.
    public static let family = IPFamily.ipv4

    /// The address as a 32-bit number in host order.
    public let value: UInt32

    /// Creates the address whose number is `value`.
    public init(_ value: UInt32) { self.value = value }

    /// Creates the address from its four octets, most significant first.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public init(bits: UInt128) { value = UInt32(truncatingIfNeeded: bits) }

    public var bits: UInt128 { UInt128(value) }

    /// The four octets, most significant first.
    public var octets: [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }

    /// Parses dotted decimal: four decimal octets from 0 to 255, no leading zeros (they read as octal elsewhere).
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        func fail(_ reason: String) -> AddressError { AddressError(.invalidIPv4, input: input, reason: reason) }
        let parts = input.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw fail("expected 4 octets separated by '.', found \(parts.count)")
        }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty else { throw fail("empty octet") }
            guard part.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw fail("octet '\(String(decoding: part, as: UTF8.self))' is not a decimal number")
            }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else {
                throw fail("octet '\(String(decoding: part, as: UTF8.self))' has a leading zero (ambiguous octal)")
            }
            guard part.count <= 3 else {
                throw fail("octet '\(String(decoding: part, as: UTF8.self))' is greater than 255")
            }
            let octet = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard octet <= 255 else { throw fail("octet '\(octet)' is greater than 255") }
            result = result << 8 | octet
        }
        value = result
    }

    /// Dotted decimal, the only text form an IPv4 address has.
    public var description: String { octets.map(String.init).joined(separator: ".") }
}
