import Foundation

/// A CPI executable (`bosh-aws-cpi`'s `bin/cpi`, `skiff cpi local`…) driven one process per call, JSON on stdin and
/// stdout, the way the BOSH CLI drives it.
public struct ExternalCPI: CloudProvider {
    /// What one call produced, besides its result: the response's `log` and the process's stderr.
    public struct Transcript: Sendable, Hashable {
        /// The request as sent.
        public var request: CPIRequest
        /// The response as received.
        public var response: CPIResponse
        /// The process's stderr.
        public var stderr: String
    }

    /// The executable's path.
    public var executable: String
    /// Arguments before the request (none for a BOSH CPI job's `bin/cpi`; `["cpi", "local"]` for skiff).
    public var arguments: [String]
    /// The child's environment; nil inherits this process's.
    public var environment: [String: String]?
    /// The context sent when the calling task has no ``CPIContext/current``.
    public var context: CPIContext
    /// The `api_version` sent with every method but `info` (which always goes with 1, as the BOSH CLI does).
    public var apiVersion: Int
    /// Called with every transcript, for a debug log. Never shown to users: requests may carry credentials.
    public var onCall: (@Sendable (Transcript) -> Void)?

    /// Creates a client for `executable`.
    public init(
        executable: String, arguments: [String] = [], environment: [String: String]? = nil,
        context: CPIContext = CPIContext(), apiVersion: Int = 2, onCall: (@Sendable (Transcript) -> Void)? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.context = context
        self.apiVersion = apiVersion
        self.onCall = onCall
    }

    /// Sends `method` with `arguments`; returns the result or throws the CPI's error.
    public func call(_ method: String, _ arguments: [JSONValue]) async throws(CloudError) -> JSONValue {
        let request = CPIRequest(
            method: method, arguments: arguments, context: CPIContext.current ?? context,
            apiVersion: method == CPIMethod.info.rawValue ? 1 : apiVersion)
        let transcript = try await send(request)
        if let error = transcript.response.error {
            throw Self.retyped(error, method: method)
        }
        return transcript.response.result
    }

    /// Sends one request and returns the full transcript, whether the CPI answered with a result or an error.
    public func send(_ request: CPIRequest) async throws(CloudError) -> Transcript {
        let output = try await ProcessRunner.run(
            executable, arguments, input: request.encoded(), environment: environment)
        let command = ([executable] + arguments).joined(separator: " ")
        guard output.status == 0 else {
            throw CloudError.cloud(
                "Executing external CPI command: '\(command)': exit status \(output.status), "
                    + "stdout: '\(output.stdoutText)', stderr: '\(output.stderrText)'")
        }
        let response: CPIResponse
        do {
            response = try CPIResponse(parsing: output.stdout)
        } catch {
            throw CloudError.cloud(
                "Unmarshalling external CPI command output: STDOUT: '\(output.stdoutText)', "
                    + "STDERR: '\(output.stderrText)': \(error.message)")
        }
        let transcript = Transcript(request: request, response: response, stderr: output.stderrText)
        onCall?(transcript)
        return transcript
    }

    /// The BOSH CLI's re-typing: old CPIs report an unknown method as a CloudError or an InvalidCall.
    static func retyped(_ error: CloudError, method: String) -> CloudError {
        if (error.type == .cloudError && error.message.hasPrefix("Invalid Method:"))
            || (error.type == .invalidCall && error.message.hasPrefix("Method is not known, got"))
        {
            return CloudError(
                .notImplemented, "CPI error '\(error.type)' with message '\(error.message)' in '\(method)' CPI method")
        }
        return error
    }

    public func info() async throws -> CPIInfo {
        try CPIInfo(json: try await call("info", []))
    }

    public func createStemcell(imagePath: String, cloudProperties: [String: JSONValue]) async throws -> String {
        try Self.string(
            await call("create_stemcell", [.string(imagePath), .object(cloudProperties)]), "create_stemcell")
    }

    public func deleteStemcell(_ stemcellCID: String) async throws {
        _ = try await call("delete_stemcell", [.string(stemcellCID)])
    }

    public func createVM(
        agentID: String, stemcellCID: String, cloudProperties: [String: JSONValue], networks: [String: CPINetwork],
        diskCIDs: [String], env: [String: JSONValue]
    ) async throws -> CreatedVM {
        let result = try await call(
            "create_vm",
            [
                .string(agentID), .string(stemcellCID), .object(cloudProperties), CPINetwork.json(networks),
                .array(diskCIDs.map(JSONValue.string)), .object(env),
            ])
        switch result {
        case .string(let cid):
            return CreatedVM(cid: cid, networks: networks)
        case .array(let pair) where pair.first?.stringValue != nil:
            let cid = pair[0].stringValue ?? ""
            let returned =
                pair.count > 1 ? try CPINetwork.networks(json: pair[1], path: "create_vm result networks") : networks
            return CreatedVM(cid: cid, networks: returned)
        default:
            throw CloudError.cloud("create_vm answered \(result), expected a cid or [cid, networks]")
        }
    }

    public func deleteVM(_ vmCID: String) async throws {
        _ = try await call("delete_vm", [.string(vmCID)])
    }

    public func hasVM(_ vmCID: String) async throws -> Bool {
        try Self.bool(await call("has_vm", [.string(vmCID)]), "has_vm")
    }

    public func rebootVM(_ vmCID: String) async throws {
        _ = try await call("reboot_vm", [.string(vmCID)])
    }

    public func setVMMetadata(_ vmCID: String, metadata: [String: String]) async throws {
        _ = try await call("set_vm_metadata", [.string(vmCID), .object(metadata.mapValues(JSONValue.string))])
    }

    public func setDiskMetadata(_ diskCID: String, metadata: [String: String]) async throws {
        _ = try await call("set_disk_metadata", [.string(diskCID), .object(metadata.mapValues(JSONValue.string))])
    }

    public func createDisk(sizeMiB: Int, cloudProperties: [String: JSONValue], vmCID: String?) async throws -> String {
        let vm: JSONValue = vmCID.map(JSONValue.string) ?? .null
        return try Self.string(
            await call("create_disk", [.int(sizeMiB), .object(cloudProperties), vm]), "create_disk")
    }

    public func attachDisk(vmCID: String, diskCID: String) async throws -> JSONValue {
        try await call("attach_disk", [.string(vmCID), .string(diskCID)])
    }

    public func detachDisk(vmCID: String, diskCID: String) async throws {
        _ = try await call("detach_disk", [.string(vmCID), .string(diskCID)])
    }

    public func deleteDisk(_ diskCID: String) async throws {
        _ = try await call("delete_disk", [.string(diskCID)])
    }

    public func hasDisk(_ diskCID: String) async throws -> Bool {
        try Self.bool(await call("has_disk", [.string(diskCID)]), "has_disk")
    }

    public func getDisks(vmCID: String) async throws -> [String] {
        let result = try await call("get_disks", [.string(vmCID)])
        guard let list = result.arrayValue else {
            throw CloudError.cloud("get_disks answered \(result), expected an array of disk cids")
        }
        return list.compactMap(\.stringValue)
    }

    private static func string(_ value: JSONValue, _ method: String) throws(CloudError) -> String {
        guard let text = value.stringValue else {
            throw CloudError.cloud("\(method) answered \(value), expected a string cid")
        }
        return text
    }

    private static func bool(_ value: JSONValue, _ method: String) throws(CloudError) -> Bool {
        guard let flag = value.boolValue else {
            throw CloudError.cloud("\(method) answered \(value), expected true or false")
        }
        return flag
    }
}
