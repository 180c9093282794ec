import Foundation
import SkiffCloud
import Yams

/// The AWS CPI as a ``CloudProvider``: ``AWSCPI`` behind SkiffCloud's CPI protocol, with every failure turned into
/// a ``CloudError`` (an EC2 error keeps its code and request id in the message; keys never appear).
public struct AWSCloudProvider: CloudProvider {
    /// The EC2 side.
    public let cpi: AWSCPI

    /// Wraps a CPI.
    public init(cpi: AWSCPI) { self.cpi = cpi }

    /// Creates the provider from a config.
    public init(config: AWSCPIConfig) { self.init(cpi: AWSCPI(config: config)) }

    /// Creates the provider from a manifest's `cloud_provider.properties` (the `aws:` and `agent:` blocks).
    public init(properties: [String: JSONValue]) throws(CloudError) {
        do {
            self.init(config: try AWSCPIConfig(properties: .object(properties)))
        } catch {
            throw CloudError(.cpiError, error.message)
        }
    }

    /// Reads `cloud_provider.properties` (YAML or JSON; the `aws:`/`agent:` block, bare or wrapped) from a file.
    public static func config(file: String) throws(CloudError) -> AWSCPIConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CloudError(.cpiError, "cannot read the AWS CPI config \(file)")
        }
        let value: JSONValue
        do {
            value = try JSONValue(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw CloudError(.cpiError, "\(file): \(error)")
        }
        do {
            return try AWSCPIConfig(properties: value)
        } catch {
            throw CloudError(.cpiError, "\(file): \(error.message)")
        }
    }

    /// Runs `body`, translating errors into ``CloudError``.
    func translating<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AWSCPIError {
            throw CloudError(CloudErrorType(error.kind.rawValue), error.message, okToRetry: error.okToRetry)
        } catch let error as EC2Error {
            throw CloudError(.cloudError, error.description, okToRetry: error.isRetryable)
        } catch let error as EC2TransportError {
            throw CloudError(.cloudError, error.description, okToRetry: true)
        } catch let error as CloudError {
            throw error
        } catch {
            throw CloudError(.cloudError, "\(error)")
        }
    }

    public func info() async throws -> CPIInfo { CPIInfo(apiVersion: 2, stemcellFormats: ["aws-light"]) }

    public func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String {
        try await translating {
            try await cpi.createStemcell(imagePath: imagePath, cloudProperties: .object(cloudProperties))
        }
    }

    public func deleteStemcell(_ stemcellCID: String) async throws {
        try await translating { try await cpi.deleteStemcell(stemcellCID) }
    }

    public func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM {
        let networkJSON = try JSONValue(encoding: networks)
        let (cid, _) = try await translating {
            try await cpi.createVM(
                agentID: agentID, stemcellCID: stemcellCID, cloudProperties: .object(cloudProperties),
                networks: networkJSON, diskCIDs: diskCIDs, env: .object(env))
        }
        return CreatedVM(cid: cid, networks: networks)
    }

    public func deleteVM(_ vmCID: String) async throws { try await translating { try await cpi.deleteVM(vmCID) } }

    public func hasVM(_ vmCID: String) async throws -> Bool { try await translating { try await cpi.hasVM(vmCID) } }

    public func rebootVM(_ vmCID: String) async throws { try await translating { try await cpi.rebootVM(vmCID) } }

    public func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {
        try await translating { try await cpi.setVMMetadata(vmCID, .object(metadata.mapValues { .string($0) })) }
    }

    public func setDiskMetadata(_ diskCID: String, metadata: [String: String]) async throws {
        try await translating {
            try await cpi.client.createTags([diskCID], metadata.keys.sorted().map { EC2Tag($0, metadata[$0] ?? "") })
        }
    }

    public func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String {
        try await translating {
            try await cpi.createDisk(sizeMiB: sizeMiB, cloudProperties: .object(cloudProperties), vmCID: vmCID)
        }
    }

    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        try await translating { try await cpi.attachDisk(vmCID: vmCID, diskCID: diskCID) }
    }

    public func detachDisk(vmCID: String, diskCID: String) async throws {
        try await translating { try await cpi.detachDisk(vmCID: vmCID, diskCID: diskCID) }
    }

    public func deleteDisk(_ diskCID: String) async throws {
        try await translating { try await cpi.deleteDisk(diskCID) }
    }

    public func hasDisk(_ diskCID: String) async throws -> Bool {
        try await translating { try await cpi.hasDisk(diskCID) }
    }

    public func getDisks(vmCID: String) async throws -> [String] {
        try await translating { try await cpi.getDisks(vmCID: vmCID) }
    }
}
