import Foundation
import SkiffCloud

/// The local cloud's stemcell image: a directory, or a gzipped tarball of one, holding `skiff-image.json`
/// (how to start the agent) and `root/` (files copied into every VM's own root: `/etc/sysctl.d`, `/var/vcap`).
public struct LocalStemcellImage: Sendable, Hashable, Codable {
    /// The stemcell format the local cloud accepts, as `info` reports it.
    public static let format = "skiff-local"
    /// The agent command a stemcell names unless it says otherwise.
    public static let defaultAgentCommand = ["skiff", "agent", "--settings", "/var/vcap/bosh/settings.json"]

    /// How the agent starts.
    public struct Agent: Sendable, Hashable, Codable {
        /// The agent's command line, run inside the VM.
        public var command: [String]
    }

    /// Always `skiff-local`.
    public var format: String
    /// The agent.
    public var agent: Agent

    /// Reads `skiff-image.json` from an extracted image directory.
    static func read(directory: String, reportingAs image: String) throws(CloudError) -> LocalStemcellImage {
        let path = directory + "/skiff-image.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudError.cloud("stemcell image '\(image)' has no skiff-image.json; it is not a skiff-local image")
        }
        let value = try JSONValue(parsing: data)
        let image = try value.decode(LocalStemcellImage.self)
        guard image.format == format else {
            throw CloudError.cloud("stemcell image '\(path)' has format '\(image.format)', expected '\(format)'")
        }
        guard !image.agent.command.isEmpty else {
            throw CloudError.cloud("stemcell image '\(path)' names an empty agent command")
        }
        return image
    }
}

/// Builds the local cloud's stemcell tarball (BOSH layout: `stemcell.MF` beside `image`) from a source directory
/// such as the repository's `stemcells/local`.
public enum LocalStemcellBuilder {
    /// Packs `source/image` into `image` (a gzipped tarball) and writes `output`, a tarball of `stemcell.MF` and
    /// `image`. Returns the output path.
    @discardableResult
    public static func build(source: String, output: String) async throws(CloudError) -> String {
        guard let tar = ProcessRunner.find("tar") else { throw CloudError.cloud("building a stemcell needs 'tar'") }
        guard Files.exists(source + "/stemcell.MF"), Files.exists(source + "/image/skiff-image.json") else {
            throw CloudError.cloud("'\(source)' is not a local stemcell source (stemcell.MF, image/skiff-image.json)")
        }
        let work = NSTemporaryDirectory() + "skiff-stemcell-\(Naming.randomID())"
        try Files.makeDirectory(work)
        defer { Files.remove(work) }
        let steps: [[String]] = [
            ["-czf", work + "/image", "-C", source + "/image", "."],
            ["-czf", output, "-C", work, "stemcell.MF", "image"],
        ]
        do {
            try FileManager.default.copyItem(atPath: source + "/stemcell.MF", toPath: work + "/stemcell.MF")
        } catch {
            throw CloudError.cloud("cannot copy '\(source)/stemcell.MF': \(error.localizedDescription)")
        }
        for arguments in steps {
            let result = try await ProcessRunner.run(tar, ["--owner=0", "--group=0"] + arguments)
            guard result.status == 0 else { throw CloudError.cloud("tar failed: \(result.stderrText)") }
        }
        return output
    }
}
