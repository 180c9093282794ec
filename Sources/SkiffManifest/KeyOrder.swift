/// The order in which gopkg.in/yaml.v2 writes map keys (its `keyList.Less`), which is the order bosh prints.
///
/// Numbers and booleans (as 0/1) come first by numeric value; other kinds follow Go's reflect kind order
/// (bool < int < float < nil < map < slice < string); strings compare rune by rune, a letter sorts after a
/// non-letter, and runs of digits compare numerically (`a2` < `a10`).
public enum KeyOrder {
    /// Whether `lhs` sorts before `rhs`.
    public static func less(_ lhs: ManifestValue, _ rhs: ManifestValue) -> Bool {
        if case .string(let a) = lhs, case .string(let b) = rhs { return lessStrings(a, b) }
        let numberA = numeric(lhs)
        let numberB = numeric(rhs)
        if let numberA, let numberB {
            if numberA != numberB { return numberA < numberB }
            let kindA = kind(lhs)
            let kindB = kind(rhs)
            if kindA != kindB { return kindA < kindB }
            switch (lhs, rhs) {
            case (.int(let a), .int(let b)): return a < b
            case (.float(let a), .float(let b)): return a < b
            case (.bool(let a), .bool(let b)): return !a && b
            default: return false
            }
        }
        return kind(lhs) < kind(rhs)
    }

    private static func numeric(_ value: ManifestValue) -> Double? {
        switch value {
        case .int(let number): Double(number)
        case .float(let number): number
        case .bool(let flag): flag ? 1 : 0
        default: nil
        }
    }

    /// Go reflect.Kind numbers for the kinds a YAML tree holds.
    private static func kind(_ value: ManifestValue) -> Int {
        switch value {
        case .bool: 1
        case .int: 2
        case .float: 14
        case .null: 20
        case .map: 21
        case .list: 23
        case .string: 24
        }
    }

    /// String comparison as yaml.v2 does it.
    public static func lessStrings(_ a: String, _ b: String) -> Bool {
        // Fast path: plain ASCII strings without digits compare like yaml.v2 when letters are compared
        // by code point and non-letters sort before letters.
        let ar = Array(a.unicodeScalars)
        let br = Array(b.unicodeScalars)
        var i = 0
        while i < ar.count && i < br.count {
            if ar[i] == br[i] {
                i += 1
                continue
            }
            let al = isLetter(ar[i])
            let bl = isLetter(br[i])
            if al && bl { return ar[i].value < br[i].value }
            if al || bl { return bl }
            var an: Int64 = 0
            var bn: Int64 = 0
            if ar[i] == "0" || br[i] == "0" {
                var j = i - 1
                while j >= 0 && isDigit(ar[j]) {
                    if ar[j] != "0" {
                        an = 1
                        bn = 1
                        break
                    }
                    j -= 1
                }
            }
            var ai = i
            while ai < ar.count && isDigit(ar[ai]) {
                an = an &* 10 &+ Int64(ar[ai].value) - 48
                ai += 1
            }
            var bi = i
            while bi < br.count && isDigit(br[bi]) {
                bn = bn &* 10 &+ Int64(br[bi].value) - 48
                bi += 1
            }
            if an != bn { return an < bn }
            if ai != bi { return ai < bi }
            return ar[i].value < br[i].value
        }
        return ar.count < br.count
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 65 && v <= 90) || (v >= 97 && v <= 122)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 48 && scalar.value <= 57 }
        return scalar.properties.generalCategory == .decimalNumber
    }
}
