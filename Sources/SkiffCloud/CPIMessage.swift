import Foundation

/// The `context` member of a CPI request: who is calling and which stemcell API the VM speaks.
///
/// Members skiff does not model (a Director sends CPI properties here) are kept in ``other``.
public struct CPIContext: Sendable, Hashable {
    /// The caller's director UUID (for create-env, the state file's `director_id`).
    public var directorUUID: String?
    /// A request id; the Director sends one, the BOSH CLI does not.
    public var requestID: String?
    /// `context.vm.stemcell.api_version`: the stemcell.MF `api_version`.
    public var stemcellAPIVersion: Int?
    /// Every other member, as sent.
    public var other: [String: JSONValue]

    /// Creates a context.
    public init(
        directorUUID: String? = nil, requestID: String? = nil, stemcellAPIVersion: Int? = nil,
        other: [String: JSONValue] = [:]
    ) {
        self.directorUUID = directorUUID
        self.requestID = requestID
        self.stemcellAPIVersion = stemcellAPIVersion
        self.other = other
    }

    /// Reads a context object; wrong member types answer a `CloudError` naming the member.
    public init(json: JSONValue) throws(CloudError) {
        guard var members = json.objectValue else {
            throw CloudError.cloud("context must be an object, not \(json.typeName)")
        }
        func string(_ key: String) throws(CloudError) -> String? {
            guard let value = members.removeValue(forKey: key), !value.isNull else { return nil }
            guard let text = value.stringValue else {
                throw CloudError.cloud("context.\(key) must be a string, not \(value.typeName)")
            }
            return text
        }
        directorUUID = try string("director_uuid")
        requestID = try string("request_id")
        stemcellAPIVersion = nil
        if let vm = members["vm"] {
            let version = vm["stemcell"]?["api_version"]
            if let version, !version.isNull {
                guard let number = version.intValue else {
                    throw CloudError.cloud(
                        "context.vm.stemcell.api_version must be an integer, not \(version.typeName)")
                }
                stemcellAPIVersion = number
                var vmMembers = vm.objectValue ?? [:]
                var stemcell = vmMembers["stemcell"]?.objectValue ?? [:]
                stemcell.removeValue(forKey: "api_version")
                if stemcell.isEmpty {
                    vmMembers.removeValue(forKey: "stemcell")
                } else {
                    vmMembers["stemcell"] = .object(stemcell)
                }
                if vmMembers.isEmpty { members.removeValue(forKey: "vm") } else { members["vm"] = .object(vmMembers) }
            }
        }
        other = members
    }

    /// The context as the JSON object a CPI receives.
    public var json: JSONValue {
        var members = other
        if let directorUUID { members["director_uuid"] = .string(directorUUID) }
        if let requestID { members["request_id"] = .string(requestID) }
        if let stemcellAPIVersion {
            var vm = members["vm"]?.objectValue ?? [:]
            var stemcell = vm["stemcell"]?.objectValue ?? [:]
            stemcell["api_version"] = .int(stemcellAPIVersion)
            vm["stemcell"] = .object(stemcell)
            members["vm"] = .object(vm)
        }
        return .object(members)
    }

    /// The context of the CPI request being handled by the current task, set by ``CPIDispatcher``;
    /// ``ExternalCPI`` sends it on when it is set.
    @TaskLocal public static var current: CPIContext?
}

/// One CPI call: `{"method", "arguments", "context", "api_version"}`.
public struct CPIRequest: Sendable, Hashable {
    /// The method name, e.g. `create_vm`.
    public var method: String
    /// The positional arguments.
    public var arguments: [JSONValue]
    /// Who is calling.
    public var context: CPIContext
    /// The CPI API version the caller speaks; nil when the request did not say.
    public var apiVersion: Int?

    /// Creates a request.
    public init(method: String, arguments: [JSONValue] = [], context: CPIContext = CPIContext(), apiVersion: Int? = nil)
    {
        self.method = method
        self.arguments = arguments
        self.context = context
        self.apiVersion = apiVersion
    }

    /// Reads a request from JSON text; anything malformed answers a `CloudError` naming the problem.
    public init(parsing data: Data) throws(CloudError) {
        try self.init(json: JSONValue(parsing: data))
    }

    /// Reads a request from a JSON value.
    public init(json: JSONValue) throws(CloudError) {
        guard let members = json.objectValue else {
            throw CloudError.cloud("a CPI request must be a JSON object, not \(json.typeName)")
        }
        guard let methodValue = members["method"] else {
            throw CloudError.cloud("the CPI request has no 'method'")
        }
        guard let method = methodValue.stringValue else {
            throw CloudError.cloud("the CPI request's 'method' must be a string, not \(methodValue.typeName)")
        }
        self.method = method
        switch members["arguments"] {
        case nil, .null?:
            arguments = []
        case .array(let values)?:
            arguments = values
        case let other?:
            throw CloudError.cloud("the CPI request's 'arguments' must be an array, not \(other.typeName)")
        }
        switch members["context"] {
        case nil, .null?: context = CPIContext()
        case let value?: context = try CPIContext(json: value)
        }
        switch members["api_version"] {
        case nil, .null?:
            apiVersion = nil
        case let value?:
            guard let version = value.intValue else {
                throw CloudError.cloud("the CPI request's 'api_version' must be an integer, not \(value.typeName)")
            }
            apiVersion = version
        }
    }

    /// The request as a JSON object.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "method": .string(method), "arguments": .array(arguments), "context": context.json,
        ]
        if let apiVersion { members["api_version"] = .int(apiVersion) }
        return .object(members)
    }

    /// The request as compact JSON text.
    public func encoded() -> Data { json.encoded() }
}

/// One CPI answer: `{"result", "error", "log"}`.
public struct CPIResponse: Sendable, Hashable {
    /// The method's result; `null` on error.
    public var result: JSONValue
    /// The failure, if the call failed.
    public var error: CloudError?
    /// Free text for the caller's debug log.
    public var log: String

    /// Creates a response.
    public init(result: JSONValue = .null, error: CloudError? = nil, log: String = "") {
        self.result = result
        self.error = error
        self.log = log
    }

    /// Reads a response from JSON text.
    public init(parsing data: Data) throws(CloudError) {
        try self.init(json: JSONValue(parsing: data))
    }

    /// Reads a response from a JSON value.
    public init(json: JSONValue) throws(CloudError) {
        guard let members = json.objectValue else {
            throw CloudError.cloud("a CPI response must be a JSON object, not \(json.typeName)")
        }
        result = members["result"] ?? .null
        switch members["log"] {
        case .string(let text)?: log = text
        default: log = ""
        }
        switch members["error"] {
        case nil, .null?:
            error = nil
        case .object(let fields)?:
            guard let type = fields["type"]?.stringValue else {
                throw CloudError.cloud("the CPI response's error has no string 'type'")
            }
            error = CloudError(
                CloudErrorType(type), fields["message"]?.stringValue ?? "",
                okToRetry: fields["ok_to_retry"]?.boolValue ?? false)
        case let other?:
            throw CloudError.cloud("the CPI response's 'error' must be an object or null, not \(other.typeName)")
        }
    }

    /// The response as a JSON object; `error` is always present, `null` on success.
    public var json: JSONValue {
        ["result": result, "error": error?.json ?? .null, "log": .string(log)]
    }

    /// The response as compact JSON text.
    public func encoded() -> Data { json.encoded() }
}
