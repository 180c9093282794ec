/// A go-patch pointer (`/key`, `/key?`, `/0`, `/-1`, `/-`, `/name=value`, `/name=value?`, `:prev`, `:next`,
/// `:before`, `:after`, `~0`, `~1`, `~7` escapes).
public struct Pointer: Sendable, Hashable, CustomStringConvertible {
    /// A modifier on an index or matching token.
    public enum Modifier: String, Sendable, Hashable {
        case prev, next, before, after

        /// The Go type name go-patch prints for this modifier.
        var goTypeName: String {
            switch self {
            case .prev: "patch.PrevModifier"
            case .next: "patch.NextModifier"
            case .before: "patch.BeforeModifier"
            case .after: "patch.AfterModifier"
            }
        }
    }

    /// One step of a pointer.
    public enum Token: Sendable, Hashable {
        /// A map key; `optional` when it or an earlier token had `?`.
        case key(String, optional: Bool)
        /// An array index (negative counts from the end).
        case index(Int, modifiers: [Modifier])
        /// The position after the last array element (`-`).
        case afterLast
        /// The one array item that is a map with `key` equal to the string `value`.
        case matching(key: String, value: String, optional: Bool, modifiers: [Modifier])
    }

    /// The tokens after the root.
    public var tokens: [Token]

    /// A pointer from tokens.
    public init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// Parses go-patch pointer text.
    public init(parsing text: String) throws(ManifestError) {
        tokens = []
        if text.isEmpty { return }
        guard text.hasPrefix("/") else { throw ManifestError(.invalidFlag, "Expected to start with '/'") }
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var optional = false
        let lastIndex = pieces.count - 1
        for (position, rawPiece) in pieces.enumerated() {
            let isLast = position == lastIndex
            var modifiers: [Modifier] = []
            var piece = Substring(rawPiece)
            let parts = rawPiece.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count > 1 {
                piece = parts[0]
                for part in parts.dropFirst() {
                    guard let modifier = Modifier(rawValue: String(part)) else {
                        throw ManifestError(
                            .invalidFlag,
                            "Expected to find one of the following modifiers: 'prev', 'next', 'before', or 'after' "
                                + "but found '\(parts[1])'")
                    }
                    modifiers.append(modifier)
                }
            }
            let token = Pointer.unescape(piece)
            if isLast && token == "-" {
                guard modifiers.isEmpty else {
                    throw ManifestError(.invalidFlag, "Expected not to find any modifiers with after last index token")
                }
                tokens.append(.afterLast)
                continue
            }
            if let index = Pointer.goAtoi(token) {
                tokens.append(.index(index, modifiers: modifiers))
                continue
            }
            if token.hasSuffix("?") { optional = true }
            if let equals = token.firstIndex(of: "=") {
                var value = String(token[token.index(after: equals)...])
                if value.hasSuffix("?") { value.removeLast() }
                tokens.append(
                    .matching(key: String(token[..<equals]), value: value, optional: optional, modifiers: modifiers))
                continue
            }
            guard modifiers.isEmpty else {
                throw ManifestError(.invalidFlag, "Expected not to find any modifiers with key token")
            }
            var key = token
            if key.hasSuffix("?") { key.removeLast() }
            tokens.append(.key(key, optional: optional))
        }
    }

    /// The pointer made of the first `count` tokens.
    public func prefix(_ count: Int) -> Pointer { Pointer(tokens: Array(tokens.prefix(count))) }

    /// The pointer as go-patch prints it (`?` only on the first optional token).
    public var description: String {
        var parts = [""]
        var optionalShown = false
        for token in tokens {
            switch token {
            case .key(let key, let optional):
                var text = Pointer.escape(key)
                if optional && !optionalShown {
                    text += "?"
                    optionalShown = true
                }
                parts.append(text)
            case .index(let index, let modifiers):
                parts.append(String(index) + modifiers.map { ":" + $0.rawValue }.joined())
            case .afterLast:
                parts.append("-")
            case .matching(let key, let value, let optional, let modifiers):
                var valueText = Pointer.escape(value)
                if optional && !optionalShown {
                    valueText += "?"
                    optionalShown = true
                }
                parts.append(Pointer.escape(key) + "=" + valueText + modifiers.map { ":" + $0.rawValue }.joined())
            }
        }
        return parts.joined(separator: "/")
    }

    static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "~" || $0 == "/" || $0 == ":" }) else { return text }
        var out = ""
        for character in text {
            switch character {
            case "~": out += "~0"
            case "/": out += "~1"
            case ":": out += "~7"
            default: out.append(character)
            }
        }
        return out
    }

    static func unescape(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "~")) else { return String(text) }
        var out = ""
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                out.append(character)
                continue
            }
            guard let next = iterator.next() else {
                out.append("~")
                break
            }
            switch next {
            case "0": out.append("~")
            case "1": out.append("/")
            case "7": out.append(":")
            default:
                out.append("~")
                out.append(next)
            }
        }
        return out
    }

    /// Go's `strconv.Atoi`: optional sign and decimal digits only.
    static func goAtoi(_ text: String) -> Int? {
        var body = Substring(text)
        if body.hasPrefix("+") || body.hasPrefix("-") { body = body.dropFirst() }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }
}
