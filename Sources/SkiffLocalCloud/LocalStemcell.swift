import Foundation
import SkiffCloud

/// The local cloud's stemcell image: a directory, or a tarball of one, holding `skiff-image.json` (how to start the
/// agent) and `root/`, the root filesystem every VM of the stemcell boots (Debian, with tini, the BOSH directory
/// layout and the agent). `skiff stemcell build` makes one.
public struct LocalStemcellImage: Sendable, Hashable, Codable {
    /// The stemcell format the local cloud accepts, as `info` reports it.
    public static let format = "skiff-local"
    /// Files an image's root must have: the VM's init, and the script it runs.
    static let requiredFiles = ["usr/bin/tini", "var/vcap/bosh/bin/skiff-init", "bin/sh"]
    /// The file in an image directory that says its root belongs to VM ids already (its value is the id base).
    static let shiftMarker = ".skiff-ids"

    /// How the agent starts.
    public struct Agent: Sendable, Hashable, Codable {
        /// The `settings` value of an agent that reads user data from instance metadata (the real bosh-agent).
        public static let instanceMetadata = "instance-metadata"

        /// The agent's command line, run inside the VM.
        public var command: [String]
        /// Where the agent reads its settings: `file` (`/var/vcap/bosh/settings.json`, written by the local cloud;
        /// the default) or `instance-metadata` (user data from the VM's metadata service, as on EC2).
        public var settings: String?
    }

    /// Always `skiff-local`.
    public var format: String
    /// The agent.
    public var agent: Agent
    /// Directories that get a file system of the VM's own (see ``VMContainer/configuration``).
    public var tmpfs: [String]?
    /// Directories that are mount points of their own in a VM (see ``VMContainer/configuration``).
    public var ownMounts: [String]?

    enum CodingKeys: String, CodingKey {
        case format, agent, tmpfs
        case ownMounts = "own_mounts"
    }

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

    /// The folder beside a cached image where the stemcells using it in place leave a hold.
    static func holds(of image: String) -> String {
        (image as NSString).deletingLastPathComponent + "/.holds"
    }

    /// Records that the stemcell at `stemcell` (a local cloud's record folder) uses the cached `image` in place.
    static func hold(_ image: String, by stemcell: String) throws(CloudError) {
        try Files.makeDirectory(holds(of: image), mode: 0o700)
        try Files.write(stemcell + "\n", to: holds(of: image) + "/" + Naming.hex(Naming.hash(stemcell), 16))
    }

    /// Drops the hold of the stemcell at `stemcell` on the cached image it uses, if it uses one.
    static func release(_ stemcell: String) {
        guard let image = try? FileManager.default.destinationOfSymbolicLink(atPath: stemcell + "/image") else {
            return
        }
        Files.remove(holds(of: image) + "/" + Naming.hex(Naming.hash(stemcell), 16))
    }

    /// True while some stemcell that still exists uses the cached image of the folder `cached` in place.
    static func isHeld(_ cached: String) -> Bool {
        Files.list(cached + "/.holds").contains { name in
            guard let text = try? String(contentsOfFile: cached + "/.holds/" + name, encoding: .utf8) else {
                return false
            }
            return Files.exists(text.trimmingCharacters(in: .whitespacesAndNewlines) + "/stemcell.json")
        }
    }
}
