import _CryptoExtras

/// RSA private keys made ahead of an evaluation, one per variable that will generate a certificate, `rsa` or
/// `ssh` value, so that the slow part of generation (finding primes) runs on every core at once.
///
/// The evaluation itself stays sequential and in bosh's order (CAs before the certificates they sign); it only
/// takes the key made for a variable's name instead of making one. Values are random either way, so the output
/// has the same shape and order as without the pool.
public struct KeyPool: Sendable {
    /// One key to make: the variable it is for and its size.
    public struct Request: Sendable, Hashable {
        /// The variable's name.
        public var name: String
        /// The key size in bits (2048, 3072 or 4096).
        public var bits: Int

        /// Creates a request.
        public init(name: String, bits: Int) {
            self.name = name
            self.bits = bits
        }
    }

    private var keys: [String: _RSA.Signing.PrivateKey]

    /// An empty pool: every key is generated when needed.
    public init() { keys = [:] }

    /// Number of keys in the pool.
    public var count: Int { keys.count }

    /// The key made for `name`, if there is one of `bits` bits (any size when `bits` is nil).
    func key(for name: String, bits: Int?) -> _RSA.Signing.PrivateKey? {
        guard let key = keys[name] else { return nil }
        if let bits, key.keySizeInBits != bits { return nil }
        return key
    }

    /// The keys an evaluation of `document` (ops already applied) will generate: every typed `certificate`,
    /// `rsa` or `ssh` definition whose value is neither given nor stored, when there is a vars store to generate
    /// into. A `key_length` that is not a literal integer is left to generation time.
    public static func requests(for document: ManifestValue, variables: VariableSources) -> [Request] {
        guard let store = variables.store, case .list(let items)? = document["variables"] else { return [] }
        var requests: [Request] = []
        var seen: Set<String> = []
        for item in items {
            guard case .map(let map) = item, case .string(let name)? = map["name"],
                case .string(let type)? = map["type"], !seen.contains(name),
                variables.staticValues[name] == nil, store.value(name) == nil
            else { continue }
            let bits: Int
            switch type {
            case "rsa", "ssh": bits = 2048
            case "certificate":
                switch map["options"]?["key_length"] {
                case nil, .null?: bits = 3072
                case .int(let length)? where [2048, 3072, 4096].contains(length): bits = length
                default: continue
                }
            default: continue
            }
            seen.insert(name)
            requests.append(Request(name: name, bits: bits))
        }
        return requests
    }

    /// Makes the requested keys concurrently (a task group, one child task per key). A key that fails to be
    /// made is left out: generation then makes it in place and reports the error there.
    public static func generate(_ requests: [Request]) async -> KeyPool {
        var pool = KeyPool()
        guard !requests.isEmpty else { return pool }
        await withTaskGroup(of: (String, _RSA.Signing.PrivateKey?).self) { group in
            for request in requests {
                group.addTask {
                    (request.name, try? VariableGenerator.newKey(bits: request.bits))
                }
            }
            for await (name, key) in group {
                if let key { pool.keys[name] = key }
            }
        }
        return pool
    }
}
