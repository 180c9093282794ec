import Foundation
import SkiffCloud

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
        let fields: [String: JSONValue]
        do {
            fields = try JSONValue(yaml: text).objectValue ?? [:]
        } catch {
            throw DeployError(.stemcell, "stemcell.MF is not valid YAML: \(error)", at: url.path)
        }
        func scalarText(_ value: JSONValue?) -> String? {
            guard let value, !value.isNull else { return nil }
            return value.stringValue ?? value.description
        }
        guard let name = fields["name"]?.stringValue, let version = scalarText(fields["version"]) else {
            throw DeployError(.stemcell, "stemcell.MF must have a name and a version", at: url.path)
        }
        return StemcellArchive(
            name: name, version: version, apiVersion: fields["api_version"]?.intValue ?? 1,
            operatingSystem: fields["operating_system"]?.stringValue ?? "",
            cloudProperties: fields["cloud_properties"]?.objectValue ?? [:],
            imagePath: root.appendingPathComponent("image").path)
    }
}
