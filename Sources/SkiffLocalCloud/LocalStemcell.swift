import Foundation
import SkiffCloud

/// The local cloud's stemcell image: a directory, or a tarball of one, holding `skiff-image.json` (how to start the
/// agent) and `root/`, the root filesystem every VM of the stemcell boots (Debian, with tini, the BOSH directory
/// layout and the agent). `skiff stemcell build` makes one.
public struct LocalStemcellImage: Sendable, Hashable, Codable {
    /// The stemcell format the local cloud accepts, as `info` reports it.
    public static let format = "skiff-local"
    /// The agent command of the stemcells `skiff stemcell build` makes.
    public static let defaultAgentCommand = ["/var/vcap/bosh/bin/skiff-agent"]
    /// Files an image's root must have: the VM's init, and the script it runs.
    static let requiredFiles = ["usr/bin/tini", "var/vcap/bosh/bin/skiff-init", "bin/sh"]
    /// The file in an image directory that says its root belongs to VM ids already (its value is the id base).
    static let shiftMarker = ".skiff-ids"

    /// How the agent starts.
    public struct Agent: Sendable, Hashable, Codable {
        /// The agent's command line, run inside the VM.
        public var command: [String]
    }

    /// Always `skiff-local`.
    public var format: String
    /// The agent.
    public var agent: Agent

    /// Reads `skiff-image.json` from an extracted image directory and checks that `root/` is a bootable root.
    static func read(directory: String, reportingAs image: String) throws(CloudError) -> LocalStemcellImage {
        let path = directory + "/skiff-image.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudError.cloud("stemcell image '\(image)' has no skiff-image.json; it is not a skiff-local image")
        }
        let value = try JSONValue(parsing: data)
        let result = try value.decode(LocalStemcellImage.self)
        guard result.format == format else {
            throw CloudError.cloud("stemcell image '\(path)' has format '\(result.format)', expected '\(format)'")
        }
        guard !result.agent.command.isEmpty else {
            throw CloudError.cloud("stemcell image '\(path)' names an empty agent command")
        }
        for file in requiredFiles where !Files.existsNoFollow(directory + "/root/" + file) {
            throw CloudError.cloud(
                "stemcell image '\(image)' has no root filesystem with /\(file) (an image from an older skiff?); "
                    + "make one with 'skiff stemcell build'")
        }
        return result
    }

    /// True if the image directory's root already belongs to VM ids (a cached `skiff://local` stemcell).
    static func isShifted(_ directory: String) -> Bool {
        (try? String(contentsOfFile: directory + "/" + shiftMarker, encoding: .utf8)) == "\(VMContainer.hostIDBase)\n"
    }

    /// Gives the image directory's root to VM ids and marks it so.
    static func shift(_ directory: String) throws(CloudError) {
        guard Files.exists(directory + "/root") else { return }
        try VMContainer.shiftOwnership(of: directory + "/root")
        try Files.write("\(VMContainer.hostIDBase)\n", to: directory + "/" + shiftMarker)
    }
}
