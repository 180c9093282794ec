import Foundation
import SkiffCloud
import Yams

/// The local cloud's configuration file: YAML whose `state_dir` names where everything is recorded.
///
/// Unknown keys are ignored, so one file can configure more than the local cloud.
public struct LocalCloudConfig: Sendable, Hashable {
    /// Where the local cloud keeps its networks, VMs, disks and stemcells.
    public static let defaultStateDirectory = "/var/lib/skiff/local"

    /// The state directory.
    public var stateDirectory: String
    /// The agent command a stemcell names is started with this instead, when set (`agent_command`).
    public var agentCommand: [String]?
    /// The mbus URL written into agent settings (`mbus`), e.g. `https://mbus:PASSWORD@0.0.0.0:6868`.
    public var mbus: String?
    /// NTP servers written into agent settings (`ntp`).
    public var ntp: [String] = []
    /// The skiff program that serves a VM's instance metadata (`skiff local metadata-server`), for stemcells whose
    /// agent reads its settings from there; nil: this very program.
    public var skiffExecutable: String?

    /// Creates a configuration.
    public init(
        stateDirectory: String = LocalCloudConfig.defaultStateDirectory, agentCommand: [String]? = nil,
        mbus: String? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.agentCommand = agentCommand
        self.mbus = mbus
    }

    /// Reads the YAML text of a configuration file; `file` names it in errors.
    public init(yaml text: String, file: String) throws(CloudError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw CloudError.cloud("\(file): not valid YAML: \(error)")
        }
        self.init()
        guard let node else { return }
        guard let mapping = node.mapping else {
            throw CloudError.cloud("\(file): expected a mapping with 'state_dir'")
        }
        if let value = mapping["state_dir"] {
            guard let text = value.string, !text.isEmpty, value.scalar != nil else {
                throw CloudError.cloud("\(file):\(value.mark.map { "\($0.line)" } ?? "?"): state_dir must be a path")
            }
            stateDirectory = text
        }
        if let value = mapping["agent_command"] {
            if let list = value.sequence {
                agentCommand = list.compactMap(\.string)
            } else if let text = value.string {
                agentCommand = text.split(separator: " ").map(String.init)
            }
        }
        if let value = mapping["mbus"], let text = value.string { mbus = text }
        if let value = mapping["ntp"]?.sequence { ntp = value.compactMap(\.string) }
    }

    /// Reads a configuration file.
    public init(file: String) throws(CloudError) {
        guard let handle = FileHandle(forReadingAtPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "it is not readable" : "it does not exist"
            throw CloudError.cloud("cannot read config file '\(file)': \(reason)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw CloudError.cloud("cannot read config file '\(file)': \(error.localizedDescription)")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), file: file)
    }
}
