import Crypto
import Foundation
import SkiffCore
import SkiffNet
import SwiftASN1
import X509
import _CryptoExtras

/// A CA that certificates can be signed with: a certificate and its RSA key.
public struct CertificateAuthority: Sendable {
    /// The CA certificate.
    public var certificate: Certificate
    /// The CA certificate in PEM form, as stored.
    public var certificatePEM: String
    /// The CA's private key.
    public var privateKey: _RSA.Signing.PrivateKey

    /// Loads a CA from a certificate variable's value (`certificate` and `private_key` in PEM).
    public init(variable name: String, value: ManifestValue) throws(ManifestError) {
        guard case .string(let certificatePEM)? = value["certificate"] else {
            throw ManifestError(
                .generationFailed, "Loading certificates: Expected to find variable '\(name)' with a certificate")
        }
        guard case .string(let keyPEM)? = value["private_key"] else {
            throw ManifestError(
                .generationFailed, "Loading certificates: Expected to find variable '\(name)' with a private key")
        }
        guard certificatePEM.contains("-----BEGIN") else {
            throw ManifestError(
                .generationFailed, "Loading certificates: Certificate did not contain PEM formatted block")
        }
        guard keyPEM.contains("-----BEGIN") else {
            throw ManifestError(
                .generationFailed, "Loading certificates: Private key did not contain PEM formatted block")
        }
        do {
            self.certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw ManifestError(.generationFailed, "Loading certificates: Parsing certificate")
        }
        do {
            self.privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw ManifestError(.generationFailed, "Loading certificates: Parsing private key")
        }
        self.certificatePEM = certificatePEM
    }
}

/// Generates vars-store values (`password`, `certificate`, `rsa`, `ssh`) in the shapes bosh writes.
public enum VariableGenerator {
    /// Generates a value of `type` with `options`; `loadCA` resolves a certificate's `ca:` option by name.
    ///
    /// A key already made for `name` in `keys` (of the right size) is used instead of generating one.
    public static func generate(
        type: String, options: ManifestValue?, keys: KeyPool = KeyPool(), name: String = "",
        loadCA: (String) throws(ManifestError) -> CertificateAuthority
    ) throws(ManifestError) -> ManifestValue {
        switch type {
        case "password": return try password(options: options)
        case "certificate":
            return try certificate(options: options, key: keys.key(for: name, bits: nil), loadCA: loadCA)
        case "rsa": return try rsa(key: keys.key(for: name, bits: 2048))
        case "ssh": return try ssh(key: keys.key(for: name, bits: 2048))
        default: throw ManifestError(.generationFailed, "Unsupported value type: \(type)")
        }
    }

    // MARK: password

    static let passwordAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    static func password(options: ManifestValue?) throws(ManifestError) -> ManifestValue {
        let map = try optionMap(options, allowed: ["length"], kind: "password")
        var length = 20
        if let raw = map["length"] {
            guard case .int(let number) = raw else {
                throw ManifestError(
                    .generationFailed,
                    "Failed to generate password, parameters are invalid: 'length' must be an integer")
            }
            if number < 0 {
                throw ManifestError(.generationFailed, "Failed to generate password, 'length' param cannot be negative")
            }
            if number > 0 { length = number }
        }
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(length)
        for _ in 0..<length {
            text.append(passwordAlphabet[Int.random(in: 0..<passwordAlphabet.count, using: &generator)])
        }
        return .string(text)
    }

    // MARK: rsa / ssh

    static func newKey(bits: Int) throws(ManifestError) -> _RSA.Signing.PrivateKey {
        let size: _RSA.Signing.KeySize
        switch bits {
        case 2048: size = .bits2048
        case 3072: size = .bits3072
        default: size = .bits4096
        }
        do {
            return try _RSA.Signing.PrivateKey(keySize: size)
        } catch {
            throw ManifestError(.generationFailed, "Generating RSA key: \(error)")
        }
    }

    static func rsa(key pregenerated: _RSA.Signing.PrivateKey? = nil) throws(ManifestError) -> ManifestValue {
        let key: _RSA.Signing.PrivateKey
        if let pregenerated { key = pregenerated } else { key = try newKey(bits: 2048) }
        return .map(
            ManifestMap([
                "private_key": .string(withNewline(key.pemRepresentation)),
                "public_key": .string(withNewline(key.publicKey.pemRepresentation)),
            ]))
    }

    static func ssh(key pregenerated: _RSA.Signing.PrivateKey? = nil) throws(ManifestError) -> ManifestValue {
        let key: _RSA.Signing.PrivateKey
        if let pregenerated { key = pregenerated } else { key = try newKey(bits: 2048) }
        let wire: [UInt8]
        do {
            let primitives = try key.publicKey.getKeyPrimitives()
            wire =
                sshString(Array("ssh-rsa".utf8)) + sshMPInt(Array(primitives.publicExponent))
                + sshMPInt(Array(primitives.modulus))
        } catch {
            throw ManifestError(.generationFailed, "Generating SSH key: \(error)")
        }
        let digest = Insecure.MD5.hash(data: wire)
        let fingerprint = Hex.string(digest, separator: ":")
        return .map(
            ManifestMap([
                "private_key": .string(withNewline(key.pemRepresentation)),
                "public_key": .string("ssh-rsa " + Data(wire).base64EncodedString() + "\n"),
                "public_key_fingerprint": .string(fingerprint),
            ]))
    }

    private static func sshString(_ bytes: [UInt8]) -> [UInt8] {
        let count = UInt32(bytes.count)
        return [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
            + bytes
    }

    private static func sshMPInt(_ bytes: [UInt8]) -> [UInt8] {
        var trimmed = ArraySlice(bytes)
        while let first = trimmed.first, first == 0 { trimmed = trimmed.dropFirst() }
        var body = Array(trimmed)
        if let first = body.first, first & 0x80 != 0 { body.insert(0, at: 0) }
        return sshString(body)
    }

    // MARK: certificate

    static let certificateOptions: Set<String> = [
        "common_name", "organization", "alternative_names", "is_ca", "ca", "extended_key_usage", "duration",
        "key_length",
    ]

    static func certificate(
        options: ManifestValue?, key pregenerated: _RSA.Signing.PrivateKey? = nil,
        loadCA: (String) throws(ManifestError) -> CertificateAuthority
    ) throws(ManifestError) -> ManifestValue {
        let map = try optionMap(options, allowed: certificateOptions, kind: "certificate")
        func invalid(_ detail: String) -> ManifestError {
            ManifestError(.generationFailed, "Failed to generate certificate, parameters are invalid: \(detail)")
        }
        func string(_ key: String) throws(ManifestError) -> String? {
            guard let value = map[key], value != .null else { return nil }
            switch value {
            case .string(let text): return text
            case .int(let number): return String(number)
            default: throw invalid("'\(key)' must be a string")
            }
        }
        func strings(_ key: String) throws(ManifestError) -> [String] {
            guard let value = map[key], value != .null else { return [] }
            guard case .list(let items) = value else { throw invalid("'\(key)' must be a list of strings") }
            var result: [String] = []
            for item in items {
                switch item {
                case .string(let text): result.append(text)
                case .int(let number): result.append(String(number))
                default: throw invalid("'\(key)' must be a list of strings")
                }
            }
            return result
        }
        var isCA = false
        if let raw = map["is_ca"], raw != .null {
            guard case .bool(let flag) = raw else { throw invalid("'is_ca' must be a boolean") }
            isCA = flag
        }
        var days = 365
        if let raw = map["duration"], raw != .null {
            guard case .int(let number) = raw else { throw invalid("'duration' must be an integer") }
            days = number
        }
        var keyLength = 3072
        if let raw = map["key_length"], raw != .null {
            guard case .int(let number) = raw, [2048, 3072, 4096].contains(number) else {
                throw ManifestError(
                    .generationFailed,
                    "Invalid key_length: \(raw.goDescription).  Must be one of: [2048 3072 4096]")
            }
            keyLength = number
        }
        let caName = try string("ca") ?? ""
        if !isCA && caName.isEmpty { throw ManifestError(.generationFailed, "Missing required CA name") }
        var usages: [ExtendedKeyUsage.Usage] = []
        for usage in try strings("extended_key_usage") {
            switch usage {
            case "client_auth": usages.append(.clientAuth)
            case "server_auth": usages.append(.serverAuth)
            default: throw ManifestError(.generationFailed, "Unsupported extended key usage value: \(usage)")
            }
        }
        if !isCA && usages.isEmpty { usages = [.serverAuth] }
        let commonName = try string("common_name") ?? ""
        let organization = try string("organization") ?? "Cloud Foundry"
        let alternativeNames = try strings("alternative_names")
        let signer: CertificateAuthority? = caName.isEmpty ? nil : try loadCA(caName)

        let key: _RSA.Signing.PrivateKey
        if let pregenerated, pregenerated.keySizeInBits == keyLength {
            key = pregenerated
        } else {
            key = try newKey(bits: keyLength)
        }
        do {
            let subject = try DistinguishedName {
                CountryName("US")
                OrganizationName(organization)
                CommonName(commonName)
            }
            let subjectKeyID = try keyIdentifier(of: key.publicKey)
            let issuerKeyID =
                try signer.map { (ca) throws -> [UInt8] in try keyIdentifier(of: ca.privateKey.publicKey) }
                ?? subjectKeyID
            var names: [GeneralName] = []
            for name in alternativeNames {
                if let address = try? IPAddress(parsing: name) {
                    let bytes: [UInt8]
                    switch address {
                    case .v4(let v4): bytes = v4.octets
                    case .v6(let v6):
                        if let mapped = v6.ipv4Mapped {
                            bytes = mapped.octets
                        } else {
                            bytes = v6.groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
                        }
                    }
                    names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
                } else {
                    names.append(.dnsName(name))
                }
            }
            let sans = names
            let ekus = usages
            let extensions = try Certificate.Extensions {
                Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : .notCertificateAuthority)
                if isCA {
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                } else {
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                }
                if !ekus.isEmpty {
                    try ExtendedKeyUsage(ekus)
                }
                SubjectKeyIdentifier(keyIdentifier: ArraySlice(subjectKeyID))
                AuthorityKeyIdentifier(keyIdentifier: ArraySlice(issuerKeyID))
                if !sans.isEmpty {
                    SubjectAlternativeNames(sans)
                }
            }
            var serial = [UInt8](repeating: 0, count: 16)
            var random = SystemRandomNumberGenerator()
            for index in serial.indices { serial[index] = UInt8.random(in: 0...255, using: &random) }
            serial[0] &= 0x7f
            if serial[0] == 0 { serial[0] = 1 }
            let now = Date()
            // Backdated a little: X.509 times have whole seconds, and a certificate must not look not-yet-valid to
            // a peer that checks it within the same second (create-env's agent does) or whose clock runs behind.
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(bytes: serial),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86_400),
                issuer: signer?.certificate.subject ?? subject,
                subject: subject,
                signatureAlgorithm: .sha256WithRSAEncryption,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(signer?.privateKey ?? key)
            )
            let certificatePEM = withNewline(try certificate.serializeAsPEM().pemString)
            return .map(
                ManifestMap([
                    "ca": .string(signer.map { withNewline($0.certificatePEM) } ?? certificatePEM),
                    "certificate": .string(certificatePEM),
                    "private_key": .string(withNewline(key.pemRepresentation)),
                ]))
        } catch let error as ManifestError {
            throw error
        } catch {
            throw ManifestError(.generationFailed, "Generating certificate: \(error)")
        }
    }

    /// SHA-1 of the modulus bytes, as bosh's generator computes SubjectKeyId.
    static func keyIdentifier(of key: _RSA.Signing.PublicKey) throws -> [UInt8] {
        let modulus = try key.getKeyPrimitives().modulus
        return Array(Insecure.SHA1.hash(data: modulus))
    }

    // MARK: helpers

    static func optionMap(_ options: ManifestValue?, allowed: Set<String>, kind: String) throws(ManifestError)
        -> ManifestMap
    {
        guard let options, options != .null else { return ManifestMap() }
        guard case .map(let map) = options else {
            throw ManifestError(.generationFailed, "Failed to generate \(kind), parameters are invalid: expected a map")
        }
        for entry in map.entries {
            let name = entry.key.stringValue ?? entry.key.goDescription
            if !allowed.contains(name) {
                throw ManifestError(
                    .generationFailed,
                    "Failed to generate \(kind), parameters are invalid: Unsupported parameter '\(name)'")
            }
        }
        return map
    }

    static func withNewline(_ text: String) -> String {
        text.hasSuffix("\n") ? text : text + "\n"
    }
}
