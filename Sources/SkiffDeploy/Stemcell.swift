import Foundation
import SkiffCloud
import Yams

/// A stemcell as create-env uploads it: `stemcell.MF` facts and the path of its `image`.
public struct StemcellArchive: Sendable {
    public var name: String
    public var version: String
    public var apiVersion: Int
    public var operatingSystem: String
    public var cloudProperties: [String: JSONValue]
    /// The `image` file or directory handed to `create_stemcell`.
    public var imagePath: String

    /// Reads a stemcell tarball, or a directory with `stemcell.MF` and `image`, unpacking into `workDirectory`.
    public static func read(at url: URL, workDirectory: URL) throws -> StemcellArchive {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DeployError(.stemcell, "stemcell not found", at: url.path)
        }
        var root = url
        if !isDirectory.boolValue {
            root = workDirectory.appendingPathComponent("stemcell")
            try? FileManager.default.removeItem(at: root)
            try Archive.extract(url, into: root)
        }
        let manifestURL = root.appendingPathComponent("stemcell.MF")
        guard let text = try? String(contentsOf: manifestURL, encoding: .utf8) else {
            throw DeployError(.stemcell, "not a stemcell: it has no stemcell.MF", at: url.path)
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw DeployError(.stemcell, "stemcell.MF is not valid YAML: \(error)", at: url.path)
        }
        guard let fields = parsed as? [String: Any], let name = fields["name"] as? String, fields["version"] != nil else {
            throw DeployError(.stemcell, "stemcell.MF must have a name and a version", at: url.path)
        }
        let properties = (try? JSONValue(encoding: AnyEncodable(fields["cloud_properties"] ?? [String: Any]())))?.objectValue
        return StemcellArchive(
            name: name, version: "\(fields["version"] ?? "")", apiVersion: fields["api_version"] as? Int ?? 1,
            operatingSystem: fields["operating_system"] as? String ?? "", cloudProperties: properties ?? [:],
            imagePath: root.appendingPathComponent("image").path)
    }
}

/// Wraps the untyped values Yams returns so they can be re-encoded as JSON.
struct AnyEncodable: Encodable {
    let value: Any

    init(_ value: Any) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case let v as Bool: try container.encode(v)
        case let v as Int: try container.encode(v)
        case let v as Double: try container.encode(v)
        case let v as String: try container.encode(v)
        case let v as [Any]: try container.encode(v.map(AnyEncodable.init))
        case let v as [String: Any]: try container.encode(v.mapValues(AnyEncodable.init))
        default: try container.encodeNil()
        }
    }
}
