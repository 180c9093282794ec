/// gzip (RFC 1952) over DEFLATE (RFC 1951) for `Zlib::GzipReader`, `Zlib.gunzip`, `Zlib::GzipWriter` and
/// `Zlib.gzip` in templates. Reading handles every block type; writing emits stored (uncompressed) blocks, which
/// any gzip reader accepts (Ruby's own output differs anyway: it stamps the current time in the header).
enum Gzip {
    struct Failure: Error {
        var message: String
    }

    /// The decompressed bytes of one or more concatenated gzip members.
    static func decompress(_ data: [UInt8]) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var offset = 0
        repeat {
            offset = try member(data, from: offset, into: &output)
        } while offset + 18 <= data.count && data[offset] == 0x1F && data[offset + 1] == 0x8B
        return output
    }

    private static func member(_ data: [UInt8], from start: Int, into output: inout [UInt8]) throws(Failure) -> Int {
        guard data.count >= start + 18, data[start] == 0x1F, data[start + 1] == 0x8B else {
            throw Failure(message: "not in gzip format")
        }
        guard data[start + 2] == 8 else { throw Failure(message: "unknown compression method") }
        let flags = data[start + 3]
        var offset = start + 10
        if flags & 0x04 != 0 {
            guard offset + 2 <= data.count else { throw Failure(message: "unexpected end of file") }
            offset += 2 + Int(data[offset]) + Int(data[offset + 1]) << 8
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {
            while offset < data.count, data[offset] != 0 { offset += 1 }
            offset += 1
        }
        if flags & 0x02 != 0 { offset += 2 }
        guard offset <= data.count else { throw Failure(message: "unexpected end of file") }
        let begin = output.count
        var reader = BitReader(data: data, position: offset)
        try inflate(&reader, into: &output)
        var end = reader.bytePosition
        guard end + 8 <= data.count else { throw Failure(message: "footer is not found") }
        let expectedCRC =
            UInt32(data[end]) | UInt32(data[end + 1]) << 8 | UInt32(data[end + 2]) << 16
            | UInt32(data[end + 3]) << 24
        guard crc32(output[begin...]) == expectedCRC else {
            throw Failure(message: "invalid compressed data -- crc error")
        }
        end += 8
        return end
    }

    /// Inflates a raw DEFLATE stream (as inside a zlib stream after its two-byte header).
    static func inflateRaw(_ data: [UInt8]) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var reader = BitReader(data: data, position: 0)
        try inflate(&reader, into: &output)
        return output
    }

    /// One gzip member holding `data` in stored blocks (header mtime 0, OS unknown).
    static func compress(_ data: [UInt8]) -> [UInt8] {
        var output: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var offset = 0
        repeat {
            let length = min(65535, data.count - offset)
            let final: UInt8 = offset + length == data.count ? 1 : 0
            output.append(final)
            output += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            output += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        let crc = crc32(data[...])
        let size = UInt32(truncatingIfNeeded: data.count)
        for value in [crc, size] {
            output += [
                UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24),
            ]
        }
        return output
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    // MARK: - DEFLATE

    private struct BitReader {
        let data: [UInt8]
        var position: Int
        var bitBuffer: UInt32 = 0
        var bitCount = 0

        init(data: [UInt8], position: Int) {
            self.data = data
            self.position = position
        }

        mutating func bits(_ count: Int) throws(Failure) -> Int {
            while bitCount < count {
                guard position < data.count else { throw Failure(message: "unexpected end of file") }
                bitBuffer |= UInt32(data[position]) << UInt32(bitCount)
                position += 1
                bitCount += 8
            }
            let value = Int(bitBuffer & ((1 << UInt32(count)) - 1))
            bitBuffer >>= UInt32(count)
            bitCount -= count
            return value
        }

        mutating func alignToByte() {
            bitBuffer = 0
            bitCount = 0
        }

        /// The position of the next unread byte (after the final block).
        var bytePosition: Int { position - bitCount / 8 }
    }

    /// A canonical Huffman decoding table: symbol counts per code length and symbols in code order.
    private struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []

        init(lengths: [Int]) throws(Failure) {
            for length in lengths { counts[length] += 1 }
            counts[0] = 0
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<16 { offsets[length] = offsets[length - 1] + counts[length - 1] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
        }

        func decode(_ reader: inout BitReader) throws(Failure) -> Int {
            var code = 0
            var first = 0
            var index = 0
            for length in 1..<16 {
                code |= try reader.bits(1)
                let count = counts[length]
                if code - count < first { return symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure(message: "invalid compressed data -- invalid code")
        }
    }

    private static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    private static let lengthExtra = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    private static let distanceExtra = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    /// The largest output a template may inflate (a guard against compression bombs).
    static let outputLimit = 64 << 20

    private static func inflate(_ reader: inout BitReader, into output: inout [UInt8]) throws(Failure) {
        var final = 0
        repeat {
            final = try reader.bits(1)
            switch try reader.bits(2) {
            case 0:
                reader.alignToByte()
                let position = reader.position
                guard position + 4 <= reader.data.count else { throw Failure(message: "unexpected end of file") }
                let length = Int(reader.data[position]) | Int(reader.data[position + 1]) << 8
                guard position + 4 + length <= reader.data.count else {
                    throw Failure(message: "unexpected end of file")
                }
                output += reader.data[(position + 4)..<(position + 4 + length)]
                reader.position = position + 4 + length
            case 1:
                var lengths = [Int](repeating: 8, count: 288)
                for symbol in 144..<256 { lengths[symbol] = 9 }
                for symbol in 256..<280 { lengths[symbol] = 7 }
                let distances = try Huffman(lengths: [Int](repeating: 5, count: 30))
                try codes(&reader, &output, try Huffman(lengths: lengths), distances)
            case 2:
                let literalCount = try reader.bits(5) + 257
                let distanceCount = try reader.bits(5) + 1
                let codeCount = try reader.bits(4) + 4
                let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                var codeLengths = [Int](repeating: 0, count: 19)
                for index in 0..<codeCount { codeLengths[order[index]] = try reader.bits(3) }
                let lengthCode = try Huffman(lengths: codeLengths)
                var lengths: [Int] = []
                while lengths.count < literalCount + distanceCount {
                    let symbol = try lengthCode.decode(&reader)
                    switch symbol {
                    case 0..<16: lengths.append(symbol)
                    case 16:
                        guard let previous = lengths.last else { throw Failure(message: "invalid bit length repeat") }
                        lengths += [Int](repeating: previous, count: 3 + (try reader.bits(2)))
                    case 17: lengths += [Int](repeating: 0, count: 3 + (try reader.bits(3)))
                    default: lengths += [Int](repeating: 0, count: 11 + (try reader.bits(7)))
                    }
                }
                guard lengths.count == literalCount + distanceCount else {
                    throw Failure(message: "invalid bit length repeat")
                }
                try codes(
                    &reader, &output, try Huffman(lengths: Array(lengths[..<literalCount])),
                    try Huffman(lengths: Array(lengths[literalCount...])))
            default:
                throw Failure(message: "invalid block type")
            }
        } while final == 0
    }

    private static func codes(
        _ reader: inout BitReader, _ output: inout [UInt8], _ literals: Huffman, _ distances: Huffman
    ) throws(Failure) {
        while true {
            let symbol = try literals.decode(&reader)
            if symbol < 256 {
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < lengthBase.count else { throw Failure(message: "invalid literal/length code") }
                let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
                let distanceSymbol = try distances.decode(&reader)
                guard distanceSymbol < distanceBase.count else { throw Failure(message: "invalid distance code") }
                let distance = distanceBase[distanceSymbol] + (try reader.bits(distanceExtra[distanceSymbol]))
                guard distance <= output.count else { throw Failure(message: "invalid distance too far back") }
                guard output.count + length <= outputLimit else { throw Failure(message: "output too large") }
                let start = output.count - distance
                for offset in 0..<length { output.append(output[start + offset]) }
            }
            if output.count > outputLimit { throw Failure(message: "output too large") }
        }
    }
}
