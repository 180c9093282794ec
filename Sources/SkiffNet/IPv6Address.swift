/// An IPv6 address (RFC 4291), printed in the canonical text form of RFC 5952.
public struct IPv6Address: IPAddressProtocol {
    /// Always ``IPFamily/ipv6``.
    public static let family = IPFamily.ipv6

    public let bits: UInt128

    public init(bits: UInt128) { self.bits = bits }

    /// Creates the address from eight 16-bit groups, most significant first; missing groups are zero.
    public init(groups: [UInt16]) {
        var value: UInt128 = 0
        for index in 0..<8 {
            value = value << 16 | UInt128(index < groups.count ? groups[index] : 0)
        }
        bits = value
    }

    /// The IPv4-mapped address `::ffff:a.b.c.d` of an IPv4 address.
    public init(ipv4Mapped address: IPv4Address) {
        bits = UInt128(0xffff) << 32 | UInt128(address.value)
    }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] { (0..<8).map { UInt16(truncatingIfNeeded: bits >> (112 - 16 * $0)) } }

    /// The embedded IPv4 address if this is an IPv4-mapped address (`::ffff:0:0/96`).
    public var ipv4Mapped: IPv4Address? {
        bits >> 32 == 0xffff ? IPv4Address(UInt32(truncatingIfNeeded: bits)) : nil
    }

    /// True for link-local unicast addresses (`fe80::/10`).
    public var isLinkLocal: Bool { bits >> 118 == 0x3fa }

    /// True for unique local addresses (`fc00::/7`), the IPv6 counterpart of private IPv4 ranges.
    public var isUniqueLocal: Bool { bits >> 121 == 0x7e }

    /// Parses any text form of RFC 4291 §2.2: full, with leading zeros, with `::`, in either case, and with a
    /// dotted IPv4 address in the last 32 bits. A zone (`%eth0`) is refused here; see ``ZonedIPv6Address``.
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        if input.contains("%") {
            throw AddressError(
                .invalidIPv6, input: input, reason: "has a zone ('%…'); a zone is not part of the address")
        }
        bits = try Self.parseBits(input, reportingAs: input)
    }

    static func parseBits(_ text: String, reportingAs input: String) throws(AddressError) -> UInt128 {
        func fail(_ reason: String) -> AddressError { AddressError(.invalidIPv6, input: input, reason: reason) }
        guard !text.isEmpty else { throw fail("empty address") }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { throw fail("expected at least 3 parts separated by ':'") }

        // A dotted IPv4 part may stand only last, for the low 32 bits.
        var tail: [UInt16] = []
        if let last = parts.last, last.contains(".") {
            let v4: IPv4Address
            do {
                v4 = try IPv4Address(parsing: last)
            } catch {
                throw fail("embedded IPv4 part '\(last)': \(error.reason)")
            }
            tail = [UInt16(truncatingIfNeeded: v4.value >> 16), UInt16(truncatingIfNeeded: v4.value)]
        }
        let hexParts = tail.isEmpty ? parts : Array(parts.dropLast())
        if let dotted = hexParts.first(where: { $0.contains(".") }) {
            throw fail("IPv4 part '\(dotted)' is only allowed in the last 32 bits")
        }
        guard parts.count <= 9 else {
            throw fail("too many groups (\(hexParts.count + tail.count)); an address has 8")
        }

        let innerEmpty = parts.indices.filter { $0 > 0 && $0 < parts.count - 1 && parts[$0].isEmpty }
        guard innerEmpty.count <= 1 else { throw fail("more than one '::'") }

        let available = 8 - tail.count
        var head: [String]
        var rest: [String]
        var skipped = 0
        if let gap = innerEmpty.first {
            head = Array(hexParts[..<gap])
            rest = Array(hexParts[(gap + 1)...])
            if head.first == "" {
                guard head.count == 1 else { throw fail("a leading ':' is only allowed as part of '::'") }
                head = []
            }
            if rest.last == "" {
                guard rest.count == 1, tail.isEmpty else {
                    throw fail("a trailing ':' is only allowed as part of '::'")
                }
                rest = []
            }
            skipped = available - head.count - rest.count
            guard skipped >= 1 else { throw fail("'::' must stand for at least one group; the address has too many") }
        } else {
            guard hexParts.count == available else {
                throw fail("expected 8 groups, found \(hexParts.count + tail.count)")
            }
            if hexParts.first == "" { throw fail("a leading ':' is only allowed as part of '::'") }
            if hexParts.last == "" { throw fail("a trailing ':' is only allowed as part of '::'") }
            head = hexParts
            rest = []
        }

        func hextet(_ group: String) throws(AddressError) -> UInt16 {
            guard !group.isEmpty else { throw fail("empty group") }
            guard group.utf8.count <= 4 else { throw fail("group '\(group)' has more than 4 hex digits") }
            guard let value = UInt16(group, radix: 16), group.allSatisfy(\.isHexDigit) else {
                throw fail("group '\(group)' is not hexadecimal")
            }
            return value
        }
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        for group in head { groups.append(try hextet(group)) }
        groups.append(contentsOf: repeatElement(0, count: skipped))
        for group in rest { groups.append(try hextet(group)) }
        groups.append(contentsOf: tail)
        return IPv6Address(groups: groups).bits
    }

    /// The canonical text of RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups
    /// shortened to `::` (the first such run on a tie), and IPv4-mapped addresses as `::ffff:192.0.2.128`.
    public var description: String {
        if let v4 = ipv4Mapped { return "::ffff:\(v4)" }
        let groups = self.groups
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        func hex(_ slice: ArraySlice<UInt16>) -> String {
            slice.map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(groups[...]) }
        return hex(groups[..<bestStart]) + "::" + hex(groups[(bestStart + bestLength)...])
    }

    /// All eight groups written out with four digits each, e.g. `2600:1f16:0a62:5c00:0000:0000:0000:0004`.
    public var expanded: String {
        groups.map { group in
            let digits = String(group, radix: 16)
            return String(repeating: "0", count: 4 - digits.count) + digits
        }.joined(separator: ":")
    }
}

/// An IPv6 address with a zone (`fe80::1%eth0`); the zone is kept beside the address, never inside it.
public struct ZonedIPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The address without its zone.
    public let address: IPv6Address
    /// The zone (interface name or index), if one was given.
    public let zone: String?

    /// Pairs an address with an optional zone.
    public init(address: IPv6Address, zone: String? = nil) {
        self.address = address
        self.zone = zone
    }

    /// Parses `address%zone` or a plain address.
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        guard let percent = input.firstIndex(of: "%") else {
            self.init(address: try IPv6Address(parsing: input))
            return
        }
        let zone = String(input[input.index(after: percent)...])
        guard !zone.isEmpty else { throw AddressError(.invalidIPv6, input: input, reason: "empty zone after '%'") }
        guard !zone.contains("%"), !zone.contains("/") else {
            throw AddressError(.invalidIPv6, input: input, reason: "zone '\(zone)' has a '%' or '/'")
        }
        let bits = try IPv6Address.parseBits(String(input[..<percent]), reportingAs: input)
        self.init(address: IPv6Address(bits: bits), zone: zone)
    }

    /// Canonical address text followed by `%zone`.
    public var description: String { zone.map { "\(address)%\($0)" } ?? address.description }

    /// Fully expanded address text followed by `%zone`.
    public var expanded: String { zone.map { "\(address.expanded)%\($0)" } ?? address.expanded }
}
