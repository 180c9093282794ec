/// Lower-case hexadecimal text of bytes: digests, fingerprints, tokens.
public enum Hex {
    /// `bytes` as two lower-case hex digits each, with `separator` between bytes (`"ab:cd"` for `":"`).
    public static func string(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
        let digits = Array("0123456789abcdef".utf8)
        let between = Array(separator.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * (2 + between.count))
        for byte in bytes {
            if !out.isEmpty { out += between }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
