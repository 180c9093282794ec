import Crypto
import Foundation
import SkiffCore
import SkiffNet
import SwiftASN1
import X509

/// Makes TLS key pairs for the mbus listener: a CA-issued one (what a vars store holds) or a self-signed one.
public enum MbusCertificates {
    /// A CA and a leaf certificate it issued for `ipAddresses`; the leaf's `ca` field holds the CA certificate.
    public static func issue(
        commonName: String = "skiff-mbus", ipAddresses: [IPAddress], validFor days: Int = 365
    ) throws(AgentError) -> (ca: AgentSettings.CertificateKeyPair, leaf: AgentSettings.CertificateKeyPair) {
        do {
            let caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName { CommonName("skiff-mbus-ca") }
            let now = Date()
            let caCertificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(86400 * Double(days)),
                issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(caKey))
            let leafKey = P256.Signing.PrivateKey()
            let leaf = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(86400 * Double(days)),
                issuer: caName, subject: try DistinguishedName { CommonName(commonName) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try leafExtensions(ipAddresses: ipAddresses),
                issuerPrivateKey: .init(caKey))
            let caPEM = try caCertificate.serializeAsPEM().pemString
            return (
                AgentSettings.CertificateKeyPair(
                    ca: caPEM, certificate: caPEM, privateKey: caKey.pemRepresentation),
                AgentSettings.CertificateKeyPair(
                    ca: caPEM, certificate: try leaf.serializeAsPEM().pemString,
                    privateKey: leafKey.pemRepresentation)
            )
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.invalidCertificate, "cannot make the mbus certificate: \(error)")
        }
    }

    /// A self-signed certificate for `ipAddresses` (used when the settings carry none).
    public static func selfSigned(
        commonName: String = "skiff-mbus", ipAddresses: [IPAddress], validFor days: Int = 365
    ) throws(AgentError) -> AgentSettings.CertificateKeyPair {
        do {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName(commonName) }
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: now.addingTimeInterval(86400 * Double(days)),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try leafExtensions(ipAddresses: ipAddresses),
                issuerPrivateKey: .init(key))
            let pem = try certificate.serializeAsPEM().pemString
            return AgentSettings.CertificateKeyPair(ca: pem, certificate: pem, privateKey: key.pemRepresentation)
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.invalidCertificate, "cannot make a self-signed mbus certificate: \(error)")
        }
    }

    private static func leafExtensions(ipAddresses: [IPAddress]) throws -> Certificate.Extensions {
        let names = ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: bytes(of: $0)[...])) }
        return try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(names)
        }
    }

    /// The network-order bytes of an address: 4 for IPv4, 16 for IPv6.
    static func bytes(of address: IPAddress) -> [UInt8] {
        let count = address.family == .ipv4 ? 4 : 16
        return (0..<count).map { UInt8(truncatingIfNeeded: address.bits >> (8 * (count - 1 - $0))) }
    }
}
