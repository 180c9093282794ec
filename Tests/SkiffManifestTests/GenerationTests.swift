import Crypto
import Foundation
import SkiffManifest
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@Suite("Vars store generation")
struct GenerationTests {
    static let manifest = """
        password: ((admin_password))
        ca: ((default_ca.certificate))
        variables:
        - name: admin_password
          type: password
        - name: short
          type: password
          options: {length: 8}
        - name: default_ca
          type: certificate
          options: {is_ca: true, common_name: ca}
        - name: server
          type: certificate
          options:
            ca: default_ca
            common_name: ((internal_ip))
            alternative_names: [((internal_ip)), 2600:1f16:a62:5c00::4, director.example]
            extended_key_usage: [server_auth, client_auth]
        - name: jumpbox_ssh
          type: ssh
        - name: signing
          type: rsa
        - name: untyped_given
        """

    func run(_ scratch: ScratchDirectory) throws -> (InterpolatedDocument, ManifestValue) {
        let store = try VarsStore(path: scratch.file("creds.yml"))
        let document = try evaluate(
            Self.manifest, vars: ["internal_ip": "10.0.0.6", "untyped_given": "x"], store: store)
        let stored = try YAMLReader.parse(
            String(contentsOfFile: scratch.file("creds.yml"), encoding: .utf8), fileName: "creds.yml")
        return (document, stored)
    }

    @Test("every type is generated in bosh's shape, into a 0600 store, and reused on the next run")
    func generateAndReuse() throws {
        let scratch = try ScratchDirectory()
        let (document, stored) = try run(scratch)
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.file("creds.yml"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        guard case .string(let password)? = stored["admin_password"] else {
            Issue.record("no password")
            return
        }
        #expect(password.count == 20)
        #expect(password.allSatisfy { $0.isLowercase || $0.isNumber })
        #expect(stored["short"]?.stringValue?.count == 8)
        #expect(document.value["password"] == .string(password))

        let ssh = try #require(stored["jumpbox_ssh"])
        #expect(ssh["private_key"]?.stringValue?.hasPrefix("-----BEGIN RSA PRIVATE KEY-----") == true)
        #expect(ssh["public_key"]?.stringValue?.hasPrefix("ssh-rsa AAAA") == true)
        #expect(ssh["public_key"]?.stringValue?.hasSuffix("\n") == true)
        let fingerprint = ssh["public_key_fingerprint"]?.stringValue ?? ""
        #expect(fingerprint.split(separator: ":").count == 16)

        let rsa = try #require(stored["signing"])
        #expect(rsa["private_key"]?.stringValue?.hasPrefix("-----BEGIN RSA PRIVATE KEY-----") == true)
        #expect(rsa["public_key"]?.stringValue?.hasPrefix("-----BEGIN PUBLIC KEY-----") == true)

        // Definitions that were resolved are removed; none remain.
        #expect(document.value["variables"] == .list([]))
        #expect(stored["untyped_given"] == nil)
        #expect(stored["internal_ip"] == nil)

        // Second run reuses everything.
        let (again, storedAgain) = try run(scratch)
        #expect(storedAgain == stored)
        #expect(again.value["password"] == .string(password))
        #expect(again.generatedVariables.isEmpty)
    }

    @Test("certificates: CA is self-signed, leaf is signed by it with IP (v4 and v6) and DNS SANs and EKUs")
    func certificates() throws {
        let scratch = try ScratchDirectory()
        let (document, stored) = try run(scratch)
        let ca = try Certificate(pemEncoded: try #require(stored["default_ca"]?["certificate"]?.stringValue))
        let server = try Certificate(pemEncoded: try #require(stored["server"]?["certificate"]?.stringValue))
        #expect(stored["server"]?["ca"] == stored["default_ca"]?["certificate"])
        #expect(stored["default_ca"]?["ca"] == stored["default_ca"]?["certificate"])
        #expect(document.value["ca"] == stored["default_ca"]?["certificate"])

        #expect(ca.issuer == ca.subject)
        #expect(server.issuer == ca.subject)
        #expect(try ca.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(try server.extensions.basicConstraints == .notCertificateAuthority)
        #expect(ca.publicKey.isValidSignature(server.signature, for: server))
        #expect(ca.publicKey.isValidSignature(ca.signature, for: ca))

        let names = try #require(try server.extensions.subjectAlternativeNames)
        let v6: [UInt8] = [0x26, 0x00, 0x1f, 0x16, 0x0a, 0x62, 0x5c, 0x00, 0, 0, 0, 0, 0, 0, 0, 4]
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 6]))))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(v6)))))
        #expect(names.contains(.dnsName("director.example")))
        let usages = try #require(try server.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth))
        #expect(usages.contains(.clientAuth))
        #expect("\(server.subject)".contains("CN=10.0.0.6"))
        #expect("\(server.subject)".contains("O=Cloud Foundry"))
        let days = server.notValidAfter.timeIntervalSince(server.notValidBefore) / 86_400
        #expect(abs(days - 365) < 0.01)
        let key = try _RSA.Signing.PrivateKey(
            pemRepresentation: try #require(stored["server"]?["private_key"]?.stringValue))
        #expect(key.keySizeInBits == 3072)
        #expect(Certificate.PublicKey(key.publicKey) == server.publicKey)
    }

    @Test("a certificate defined before its CA gets the CA generated first; --var-errs-unused sees store entries")
    func caOrder() throws {
        let scratch = try ScratchDirectory()
        let manifest = """
            leaf: ((leaf.certificate))
            variables:
            - name: leaf
              type: certificate
              options: {ca: late_ca, common_name: leaf, key_length: 2048}
            - name: late_ca
              type: certificate
              options: {is_ca: true, common_name: late, key_length: 2048}
            """
        let document = try evaluate(manifest, store: try VarsStore(path: scratch.file("creds.yml")))
        #expect(document.generatedVariables == ["late_ca", "leaf"])
        let store = try VarsStore(path: scratch.file("creds.yml"))
        let ca = try Certificate(pemEncoded: try #require(store.value("late_ca")?["certificate"]?.stringValue))
        let leaf = try Certificate(pemEncoded: try #require(store.value("leaf")?["certificate"]?.stringValue))
        #expect(leaf.issuer == ca.subject)
        #expect(ca.publicKey.isValidSignature(leaf.signature, for: leaf))

        let request = InterpolationRequest(
            manifest: SourceText(name: "m.yml", text: "only: ((leaf.private_key))\n"),
            variables: VariableSources(values: [:], store: store), expectAllVarsUsed: true)
        #expect(throws: ManifestError(.unusedVariables, "Expected to use variables: late_ca")) {
            try Interpolator.evaluate(request)
        }
    }

    @Test("nothing is written when an error prevents a complete result")
    func noPartialWrite() throws {
        let scratch = try ScratchDirectory()
        let manifest = "a: ((pw))\nb: ((missing))\nvariables:\n- name: pw\n  type: password\n"
        #expect(throws: ManifestError.self) {
            _ = try evaluate(manifest, store: try VarsStore(path: scratch.file("creds.yml")), varErrs: true)
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("creds.yml")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(leftovers.isEmpty)
    }

    @Test(
        "unsupported types and options get bosh's messages",
        arguments: [
            ("user", "", "Generating variable 'v': Unsupported value type: user"),
            ("password", "{length: -1}", "Failed to generate password, 'length' param cannot be negative"),
            (
                "password", "{bogus: 1}",
                "Failed to generate password, parameters are invalid: Unsupported parameter 'bogus'"
            ),
            ("certificate", "{common_name: x}", "Missing required CA name"),
            (
                "certificate", "{is_ca: true, extended_key_usage: [code_signing]}",
                "Unsupported extended key usage value: code_signing"
            ),
        ])
    func generationErrors(type: String, options: String, message: String) throws {
        let scratch = try ScratchDirectory()
        let manifest =
            "a: ((v))\nvariables:\n- name: v\n  type: \(type)\n" + (options.isEmpty ? "" : "  options: \(options)\n")
        #expect {
            _ = try evaluate(manifest, store: try VarsStore(path: scratch.file("creds.yml")))
        } throws: { error in
            "\(error)".contains(message)
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("creds.yml")))
    }
}
