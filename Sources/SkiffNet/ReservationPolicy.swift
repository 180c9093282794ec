/// A cloud's rules for which addresses of a subnet cannot be given to a VM, and which subnets it accepts.
public enum ReservationPolicy: String, Sendable, Hashable, CaseIterable {
    /// No reserved addresses: every address of the subnet may be assigned.
    case none
    /// AWS: the first four and the last address of every subnet, IPv4 and IPv6 alike, are reserved
    /// (network, VPC router, DNS, future use, and the last); an IPv6 subnet must be a /64.
    case aws

    /// The reserved addresses of `subnet`, ascending.
    public func reserved<Address>(in subnet: IPNetwork<Address>) -> [Address] {
        switch self {
        case .none:
            return []
        case .aws:
            var result: [Address] = (0..<4).compactMap { subnet.address(at: UInt128($0)) }
            if !result.contains(subnet.last) { result.append(subnet.last) }
            return result
        }
    }

    /// True if the policy keeps `address` from being assigned to a VM on `subnet`.
    public func isReserved<Address>(_ address: Address, in subnet: IPNetwork<Address>) -> Bool {
        reserved(in: subnet).contains(address)
    }

    /// The first address of `subnet` a VM may be given.
    public func firstAssignable<Address>(in subnet: IPNetwork<Address>) -> Address? {
        subnet.nextFree(policy: self)
    }

    /// Refuses a subnet the cloud would not accept: for AWS, an IPv6 subnet that is not a /64, or an IPv4 subnet
    /// outside /16 to /28.
    public func validate<Address>(subnet: IPNetwork<Address>) throws(AddressError) {
        guard self == .aws else { return }
        switch Address.family {
        case .ipv6 where subnet.length != 64:
            throw AddressError(
                .unsupportedSubnet, input: "\(subnet)",
                reason: "an AWS IPv6 subnet must be a /64, not a /\(subnet.length)")
        case .ipv4 where !(16...28).contains(subnet.length):
            throw AddressError(
                .unsupportedSubnet, input: "\(subnet)",
                reason: "an AWS IPv4 subnet must be between /16 and /28, not a /\(subnet.length)")
        default:
            return
        }
    }

    /// Refuses an address a VM cannot have on `subnet`: outside it, or reserved by the policy.
    public func validate<Address>(address: Address, in subnet: IPNetwork<Address>) throws(AddressError) {
        guard subnet.contains(address) else {
            throw AddressError(.outOfRange, input: "\(address)", reason: "is outside the subnet \(subnet)")
        }
        if isReserved(address, in: subnet) {
            let list = reserved(in: subnet).map(\.description).joined(separator: ", ")
            throw AddressError(
                .outOfRange, input: "\(address)",
                reason: "is reserved by \(rawValue.uppercased()) in \(subnet) (reserved: \(list))")
        }
    }
}
