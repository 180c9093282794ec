/// A prefix (`2600:1f16:a62:5c00::/56`, `10.0.0.0/24`): a network address with no host bits set, and a length.
public struct IPNetwork<Address: IPAddressProtocol>: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the prefix; its host bits are zero.
    public let address: Address
    /// The number of leading bits that identify the network.
    public let length: Int

    /// Creates a prefix, refusing a length out of range or an address with host bits set.
    public init(address: Address, length: Int) throws(AddressError) {
        let input = "\(address)/\(length)"
        guard (0...Address.bitWidth).contains(length) else {
            throw AddressError(.invalidLength, input: input, reason: "length must be 0 to \(Address.bitWidth)")
        }
        let mask = Self.mask(length)
        guard address.bits & ~mask == 0 else {
            let network = Address(bits: address.bits & mask)
            throw AddressError(
                .hostBitsSet, input: input, reason: "host bits are set (the network is \(network)/\(length))")
        }
        self.address = address
        self.length = length
    }

    /// The prefix of the given length that contains `address`, with its host bits cleared.
    public init(containing address: Address, length: Int) throws(AddressError) {
        guard (0...Address.bitWidth).contains(length) else {
            throw AddressError(
                .invalidLength, input: "\(address)/\(length)", reason: "length must be 0 to \(Address.bitWidth)")
        }
        try self.init(address: Address(bits: address.bits & Self.mask(length)), length: length)
    }

    /// The prefix an interface is on, from its address and netmask (`ffff:ffff:ffff:ffff::`, `255.255.255.0`),
    /// as BOSH passes them to a CPI.
    public init(address: Address, netmask: Address) throws(AddressError) {
        let length = netmask.bits.nonzeroBitCount
        guard netmask.bits == Self.mask(length) else {
            throw AddressError(.invalidPrefix, input: "\(netmask)", reason: "netmask bits are not contiguous")
        }
        try self.init(containing: address, length: length)
    }

    /// Parses `address/length`; the address must have no host bits set.
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        let pieces = input.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 2 else {
            throw AddressError(.invalidPrefix, input: input, reason: "expected ADDRESS/LENGTH")
        }
        let lengthText = pieces[1]
        guard !lengthText.isEmpty, lengthText.allSatisfy(\.isASCII), lengthText.allSatisfy(\.isNumber),
            lengthText.count <= 3, let length = Int(lengthText)
        else {
            throw AddressError(.invalidLength, input: input, reason: "length '\(lengthText)' is not a number")
        }
        guard length <= Address.bitWidth else {
            throw AddressError(
                .invalidLength, input: input, reason: "length \(length) is longer than \(Address.bitWidth)")
        }
        let address: Address
        do {
            address = try Address(parsing: pieces[0])
        } catch {
            throw AddressError(.invalidPrefix, input: input, reason: error.description)
        }
        let mask = Self.mask(length)
        guard address.bits & ~mask == 0 else {
            let network = Address(bits: address.bits & mask)
            throw AddressError(
                .hostBitsSet, input: input, reason: "host bits are set (the network is \(network)/\(length))")
        }
        self.address = address
        self.length = length
    }

    static func mask(_ length: Int) -> UInt128 {
        guard length > 0 else { return 0 }
        let width = Address.bitWidth
        return (Address.allOnes >> (width - length)) << (width - length)
    }

    /// The netmask as an address (`ffff:ffff:ffff:ffff::` for a /64).
    public var netmask: Address { Address(bits: Self.mask(length)) }

    /// The first address of the prefix (the network address).
    public var first: Address { address }

    /// The last address of the prefix.
    public var last: Address { Address(bits: address.bits | (Address.allOnes & ~Self.mask(length))) }

    /// The number of host bits.
    public var hostBits: Int { Address.bitWidth - length }

    /// The number of addresses in the prefix, or nil for an IPv6 /0 (2^128 does not fit).
    public var size: UInt128? { hostBits == 128 ? nil : UInt128(1) << hostBits }

    /// True if `candidate` lies inside the prefix.
    public func contains(_ candidate: Address) -> Bool { candidate.bits & Self.mask(length) == address.bits }

    /// True if `other` lies wholly inside this prefix.
    public func contains(_ other: IPNetwork<Address>) -> Bool { other.length >= length && contains(other.address) }

    /// True if the two prefixes share any address.
    public func overlaps(_ other: IPNetwork<Address>) -> Bool { contains(other.address) || other.contains(address) }

    /// The address at `offset` from the start of the prefix, or nil if that is outside it.
    public func address(at offset: UInt128) -> Address? {
        if let size, offset >= size { return nil }
        return Address(bits: address.bits | offset)
    }

    /// How many subnets of `newLength` the prefix holds, or nil if the count does not fit in 128 bits.
    public func subnetCount(length newLength: Int) throws(AddressError) -> UInt128? {
        try checkSubnetLength(newLength)
        let bits = newLength - length
        return bits >= 128 ? nil : UInt128(1) << bits
    }

    /// The `index`-th subnet of `newLength` (index 0 is the first), e.g. a /64 carved from a /56.
    public func subnet(length newLength: Int, index: UInt128) throws(AddressError) -> IPNetwork<Address> {
        if let count = try subnetCount(length: newLength), index >= count {
            throw AddressError(
                .outOfRange, input: "\(self)",
                reason: "has \(count) subnets of length /\(newLength); index \(index) is past the end")
        }
        let shift = Address.bitWidth - newLength
        let start = address.bits | (shift >= 128 ? 0 : index << shift)
        return try IPNetwork(address: Address(bits: start), length: newLength)
    }

    /// The subnets of `newLength`, in order, lazily (a /48 holds 65,536 /64s).
    public func subnets(length newLength: Int) throws(AddressError) -> SubnetSequence<Address> {
        let count = try subnetCount(length: newLength)
        return SubnetSequence(parent: self, length: newLength, count: count)
    }

    private func checkSubnetLength(_ newLength: Int) throws(AddressError) {
        guard newLength >= length, newLength <= Address.bitWidth else {
            throw AddressError(
                .invalidLength, input: "\(self)",
                reason: "subnet length /\(newLength) must be between /\(length) and /\(Address.bitWidth)")
        }
    }

    /// The first address at or after `start` (default: the first host address the policy allows) that is not in
    /// `used` and not reserved by `policy`, or nil if the prefix is full.
    public func nextFree(
        after start: Address? = nil, used: Set<Address> = [], policy: ReservationPolicy = .none
    ) -> Address? {
        let reserved = Set(policy.reserved(in: self))
        var candidate = start.flatMap { $0.advanced(by: 1) } ?? address
        while contains(candidate) {
            if !reserved.contains(candidate) && !used.contains(candidate) { return candidate }
            guard let next = candidate.advanced(by: 1) else { return nil }
            candidate = next
        }
        return nil
    }

    /// `address/length` in canonical text.
    public var description: String { "\(address)/\(length)" }
}

/// The subnets of one length inside a prefix, in ascending order.
public struct SubnetSequence<Address: IPAddressProtocol>: Sequence, Sendable {
    let parent: IPNetwork<Address>
    let length: Int
    let count: UInt128?

    /// Iterates the subnets from the first.
    public struct Iterator: IteratorProtocol {
        let sequence: SubnetSequence<Address>
        var index: UInt128 = 0
        var done = false

        public mutating func next() -> IPNetwork<Address>? {
            guard !done else { return nil }
            if let count = sequence.count, index >= count { return nil }
            let subnet = try? sequence.parent.subnet(length: sequence.length, index: index)
            if index == .max { done = true } else { index += 1 }
            return subnet
        }
    }

    public func makeIterator() -> Iterator { Iterator(sequence: self) }
}

/// An IPv4 prefix.
public typealias IPv4Network = IPNetwork<IPv4Address>
/// An IPv6 prefix.
public typealias IPv6Network = IPNetwork<IPv6Address>

/// A prefix of either family, for places that accept both.
public enum IPPrefix: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Network)
    case v6(IPv6Network)

    /// Parses `address/length` of either family.
    public init(parsing text: some StringProtocol) throws(AddressError) {
        let input = String(text)
        let host = input.split(separator: "/", maxSplits: 1).first.map(String.init) ?? input
        if host.contains(":") {
            self = .v6(try IPv6Network(parsing: input))
        } else if host.contains(".") {
            self = .v4(try IPv4Network(parsing: input))
        } else {
            throw AddressError(.invalidPrefix, input: input, reason: "expected an IPv4 or IPv6 ADDRESS/LENGTH")
        }
    }

    /// The prefix's family.
    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// True if `address` lies inside the prefix (always false across families).
    public func contains(_ address: IPAddress) -> Bool {
        switch (self, address) {
        case (.v4(let network), .v4(let a)): network.contains(a)
        case (.v6(let network), .v6(let a)): network.contains(a)
        default: false
        }
    }

    /// True if the two prefixes share any address (always false across families).
    public func overlaps(_ other: IPPrefix) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)): a.overlaps(b)
        case (.v6(let a), .v6(let b)): a.overlaps(b)
        default: false
        }
    }

    /// The first address of the prefix.
    public var first: IPAddress {
        switch self {
        case .v4(let network): .v4(network.first)
        case .v6(let network): .v6(network.first)
        }
    }

    /// The last address of the prefix.
    public var last: IPAddress {
        switch self {
        case .v4(let network): .v4(network.last)
        case .v6(let network): .v6(network.last)
        }
    }

    /// The netmask as an address (`255.255.255.0`, `ffff:ffff:ffff:ffff::`).
    public var netmask: IPAddress {
        switch self {
        case .v4(let network): .v4(network.netmask)
        case .v6(let network): .v6(network.netmask)
        }
    }

    /// The prefix length.
    public var length: Int {
        switch self {
        case .v4(let network): network.length
        case .v6(let network): network.length
        }
    }

    /// `address/length` in canonical text.
    public var description: String {
        switch self {
        case .v4(let network): network.description
        case .v6(let network): network.description
        }
    }
}
