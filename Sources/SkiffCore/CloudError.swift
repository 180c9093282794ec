/// The `type` of a CPI error, as the Ruby CPI library names its error classes (`Bosh::Clouds::VMNotFound`…).
///
/// External CPIs may answer any type; the known ones are constants here.
public struct CloudErrorType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Creates a type from its wire name.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The base class of CPI failures.
    public static let cpiError = CloudErrorType("Bosh::Clouds::CpiError")
    /// The usual failure: bad input or an IaaS operation that did not work.
    public static let cloudError = CloudErrorType("Bosh::Clouds::CloudError")
    /// The CPI does not implement the method.
    public static let notImplemented = CloudErrorType("Bosh::Clouds::NotImplemented")
    /// The CPI implements the method but not for these arguments.
    public static let notSupported = CloudErrorType("Bosh::Clouds::NotSupported")
    /// The caller asked for a CPI API version the CPI does not speak.
    public static let apiVersionNotSupported = CloudErrorType("Bosh::Clouds::CPIAPIVersionNotSupported")
    /// No VM has the given cid.
    public static let vmNotFound = CloudErrorType("Bosh::Clouds::VMNotFound")
    /// No disk has the given cid.
    public static let diskNotFound = CloudErrorType("Bosh::Clouds::DiskNotFound")
    /// No stemcell has the given cid.
    public static let stemcellNotFound = CloudErrorType("Bosh::Clouds::StemcellNotFound")
    /// The disk is not attached to the VM.
    public static let diskNotAttached = CloudErrorType("Bosh::Clouds::DiskNotAttached")
    /// There is no room for the disk.
    public static let noDiskSpace = CloudErrorType("Bosh::Clouds::NoDiskSpace")
    /// The VM could not be created.
    public static let vmCreationFailed = CloudErrorType("Bosh::Clouds::VMCreationFailed")
    /// A retriable failure.
    public static let retriableCloudError = CloudErrorType("Bosh::Clouds::RetriableCloudError")
    /// The request itself was not a valid CPI call (Ruby CPI library name).
    public static let invalidCall = CloudErrorType("InvalidCall")
    /// Any other failure (Ruby CPI library name).
    public static let unknown = CloudErrorType("Unknown")

    public var description: String { rawValue }
}

/// A CPI failure: the `error` member of a CPI response, and the Swift error every ``CloudProvider`` throws.
public struct CloudError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The error class, e.g. `Bosh::Clouds::VMNotFound`.
    public var type: CloudErrorType
    /// What went wrong, naming the value at fault.
    public var message: String
    /// True if the caller may try the same call again.
    public var okToRetry: Bool

    /// Creates an error of `type` with `message`.
    public init(_ type: CloudErrorType, _ message: String, okToRetry: Bool = false) {
        self.type = type
        self.message = message
        self.okToRetry = okToRetry
    }

    enum CodingKeys: String, CodingKey {
        case type, message
        case okToRetry = "ok_to_retry"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(CloudErrorType.self, forKey: .type)
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
        okToRetry = try container.decodeIfPresent(Bool.self, forKey: .okToRetry) ?? false
    }

    /// `Bosh::Clouds::CloudError` with `message`.
    public static func cloud(_ message: String) -> CloudError { CloudError(.cloudError, message) }

    /// `Bosh::Clouds::NotImplemented` for `method`, worded like the Ruby CPI library.
    public static func notImplemented(_ method: String) -> CloudError {
        CloudError(.notImplemented, "Method is not known, got: '\(method)'")
    }

    /// `Bosh::Clouds::VMNotFound` naming `cid`.
    public static func vmNotFound(_ cid: String) -> CloudError { CloudError(.vmNotFound, "VM '\(cid)' not found") }

    /// `Bosh::Clouds::DiskNotFound` naming `cid`.
    public static func diskNotFound(_ cid: String) -> CloudError {
        CloudError(.diskNotFound, "Disk '\(cid)' not found")
    }

    /// `Bosh::Clouds::StemcellNotFound` naming `cid`.
    public static func stemcellNotFound(_ cid: String) -> CloudError {
        CloudError(.stemcellNotFound, "Stemcell '\(cid)' not found")
    }

    /// `Bosh::Clouds::VMCreationFailed` with `message`.
    public static func vmCreationFailed(_ message: String, okToRetry: Bool = false) -> CloudError {
        CloudError(.vmCreationFailed, message, okToRetry: okToRetry)
    }

    /// The JSON object of a CPI response's `error` member.
    public var json: JSONValue {
        ["type": .string(type.rawValue), "message": .string(message), "ok_to_retry": .bool(okToRetry)]
    }

    /// `Type: message`, one line.
    public var description: String { "\(type.rawValue): \(message)" }
}
