import Foundation
import Synchronization

/// Free-text log lines a provider adds to the `log` member of the response being built.
public final class CPILog: Sendable {
    private let lines = Mutex<[String]>([])

    /// Creates an empty log.
    public init() {}

    /// Appends one line to the log of the request the current task is handling (no-op outside a request).
    public static func write(_ line: String) {
        current?.append(line)
    }

    /// Appends one line.
    public func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    /// Everything logged so far, one line each.
    public var text: String {
        lines.withLock { $0.map { $0 + "\n" }.joined() }
    }

    /// The log of the request being handled by the current task.
    @TaskLocal public static var current: CPILog?
}

/// Turns CPI requests into calls on a ``CloudProvider`` and their outcomes into CPI responses; never throws.
public struct CPIDispatcher: Sendable {
    /// The cloud that does the work.
    public let provider: any CloudProvider

    /// Creates a dispatcher for `provider`.
    public init(provider: any CloudProvider) {
        self.provider = provider
    }

    /// Handles one request given as JSON text; returns the response as JSON text.
    public func handle(_ data: Data) async -> Data {
        let request: CPIRequest
        do {
            request = try CPIRequest(parsing: data)
        } catch {
            return CPIResponse(error: error).encoded()
        }
        return await handle(request).encoded()
    }

    /// Handles one request; every failure becomes the response's `error`.
    public func handle(_ request: CPIRequest) async -> CPIResponse {
        let log = CPILog()
        do {
            let result = try await CPILog.$current.withValue(log) {
                try await CPIContext.$current.withValue(request.context) {
                    try await call(request)
                }
            }
            return CPIResponse(result: result, log: log.text)
        } catch let error as CloudError {
            return CPIResponse(error: error, log: log.text)
        } catch is CancellationError {
            return CPIResponse(error: CloudError(.cloudError, "'\(request.method)' was cancelled", okToRetry: true))
        } catch {
            return CPIResponse(error: CloudError(.unknown, "\(error)"), log: log.text)
        }
    }

    private func call(_ request: CPIRequest) async throws -> JSONValue {
        guard let method = CPIMethod(rawValue: request.method) else {
            throw CloudError.notImplemented(request.method)
        }
        let arguments = CPIArguments(method: request.method, values: request.arguments)
        switch method {
        case .info:
            return try await provider.info().json
        case .createStemcell:
            try arguments.expect(count: 2)
            let path = try arguments.string(0, "image_path")
            let properties = try arguments.object(1, "cloud_properties")
            return .string(try await provider.createStemcell(imagePath: path, cloudProperties: properties))
        case .deleteStemcell:
            try arguments.expect(count: 1)
            try await provider.deleteStemcell(try arguments.string(0, "stemcell_cid"))
            return .null
        case .createVM:
            try arguments.expect(count: 6)
            let agentID = try arguments.string(0, "agent_id")
            let stemcell = try arguments.string(1, "stemcell_cid")
            let properties = try arguments.object(2, "cloud_properties")
            let networks = try CPINetwork.networks(json: arguments.values[3], path: "create_vm networks")
            let disks = try arguments.stringList(4, "disk_cids")
            let env = try arguments.object(5, "env")
            let created = try await provider.createVM(
                agentID: agentID, stemcellCID: stemcell, cloudProperties: properties, networks: networks,
                diskCIDs: disks, env: env)
            if let version = request.apiVersion, version < 2 { return .string(created.cid) }
            return [.string(created.cid), CPINetwork.json(created.networks)]
        case .deleteVM:
            try arguments.expect(count: 1)
            try await provider.deleteVM(try arguments.string(0, "vm_cid"))
            return .null
        case .hasVM:
            try arguments.expect(count: 1)
            return .bool(try await provider.hasVM(try arguments.string(0, "vm_cid")))
        case .rebootVM:
            try arguments.expect(count: 1)
            try await provider.rebootVM(try arguments.string(0, "vm_cid"))
            return .null
        case .setVMMetadata:
            try arguments.expect(count: 2)
            try await provider.setVMMetadata(
                try arguments.string(0, "vm_cid"), metadata: try arguments.stringMap(1, "metadata"))
            return .null
        case .setDiskMetadata:
            try arguments.expect(count: 2)
            try await provider.setDiskMetadata(
                try arguments.string(0, "disk_cid"), metadata: try arguments.stringMap(1, "metadata"))
            return .null
        case .createDisk:
            try arguments.expect(count: 3)
            let size = try arguments.int(0, "size")
            guard size > 0 else { throw CloudError.cloud("create_disk size must be positive, not \(size)") }
            let properties = try arguments.object(1, "cloud_properties")
            let vm = try arguments.optionalString(2, "vm_cid")
            return .string(try await provider.createDisk(sizeMiB: size, cloudProperties: properties, vmCID: vm))
        case .attachDisk:
            try arguments.expect(count: 2)
            let hint = try await provider.attachDisk(
                vmCID: try arguments.string(0, "vm_cid"), diskCID: try arguments.string(1, "disk_cid"))
            if let version = request.apiVersion, version < 2 { return .null }
            return hint
        case .detachDisk:
            try arguments.expect(count: 2)
            try await provider.detachDisk(
                vmCID: try arguments.string(0, "vm_cid"), diskCID: try arguments.string(1, "disk_cid"))
            return .null
        case .deleteDisk:
            try arguments.expect(count: 1)
            try await provider.deleteDisk(try arguments.string(0, "disk_cid"))
            return .null
        case .hasDisk:
            try arguments.expect(count: 1)
            return .bool(try await provider.hasDisk(try arguments.string(0, "disk_cid")))
        case .getDisks:
            try arguments.expect(count: 1)
            return .array(try await provider.getDisks(vmCID: try arguments.string(0, "vm_cid")).map(JSONValue.string))
        }
    }
}

/// Typed access to a request's positional arguments; each accessor's error names the method and the argument.
struct CPIArguments {
    let method: String
    let values: [JSONValue]

    func expect(count: Int) throws(CloudError) {
        guard values.count >= count else {
            throw CloudError.cloud("\(method) takes \(count) arguments, got \(values.count)")
        }
    }

    private func wrong(_ index: Int, _ name: String, _ expected: String) -> CloudError {
        CloudError.cloud("\(method) argument \(index + 1) (\(name)) must be \(expected), not \(values[index].typeName)")
    }

    func string(_ index: Int, _ name: String) throws(CloudError) -> String {
        guard let text = values[index].stringValue else { throw wrong(index, name, "a string") }
        guard !text.isEmpty else { throw CloudError.cloud("\(method) argument \(index + 1) (\(name)) is empty") }
        return text
    }

    func optionalString(_ index: Int, _ name: String) throws(CloudError) -> String? {
        if values[index].isNull { return nil }
        return try string(index, name)
    }

    func int(_ index: Int, _ name: String) throws(CloudError) -> Int {
        guard let number = values[index].intValue else { throw wrong(index, name, "an integer") }
        return number
    }

    func object(_ index: Int, _ name: String) throws(CloudError) -> [String: JSONValue] {
        if values[index].isNull { return [:] }
        guard let object = values[index].objectValue else { throw wrong(index, name, "an object") }
        return object
    }

    func stringList(_ index: Int, _ name: String) throws(CloudError) -> [String] {
        if values[index].isNull { return [] }
        guard let list = values[index].arrayValue else { throw wrong(index, name, "an array of strings") }
        return try list.enumerated().map { (offset, element) throws(CloudError) in
            guard let text = element.stringValue else {
                throw CloudError.cloud(
                    "\(method) argument \(index + 1) (\(name))[\(offset)] must be a string, not \(element.typeName)")
            }
            return text
        }
    }

    func stringMap(_ index: Int, _ name: String) throws(CloudError) -> [String: String] {
        let object = try object(index, name)
        var result: [String: String] = [:]
        for (key, value) in object {
            switch value {
            case .string(let text): result[key] = text
            case .int, .double, .bool: result[key] = value.description
            default:
                throw CloudError.cloud(
                    "\(method) argument \(index + 1) (\(name)).\(key) must be a string, not \(value.typeName)")
            }
        }
        return result
    }
}
