import Testing

@testable import SkiffCore

struct HexTests {
    @Test func bytesBecomeTwoLowerCaseDigitsEach() {
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.string([0xde, 0xad, 0xbe, 0xef], separator: ":") == "de:ad:be:ef")
        #expect(Hex.string([0x7]) == "07")
        let all = (0...255).map { UInt8($0) }
        #expect(
            Hex.string(all)
                == all.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined())
    }
}
