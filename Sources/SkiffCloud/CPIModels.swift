import SkiffNet

/// The answer to `info`: which stemcell formats and which CPI API version the CPI supports.
public struct CPIInfo: Sendable, Hashable {
    /// The CPI API version (2 for a current CPI).
    public var apiVersion: Int
    /// Stemcell formats the CPI accepts, e.g. `aws-light`, `skiff-local`.
    public var stemcellFormats: [String]

    /// Creates the info answer.
    public init(apiVersion: Int = 2, stemcellFormats: [String]) {
        self.apiVersion = apiVersion
        self.stemcellFormats = stemcellFormats
    }

    /// The `info` result object.
    public var json: JSONValue {
        ["api_version": .int(apiVersion), "stemcell_formats": .array(stemcellFormats.map(JSONValue.string))]
    }

    /// Reads an `info` result the way the BOSH CLI does: a missing api_version means 1, a higher one is capped at 2,
    /// missing stemcell_formats is an error.
    public init(json: JSONValue) throws(CloudError) {
        guard let formats = json["stemcell_formats"]?.arrayValue else {
            throw CloudError.cloud("the 'info' result has no 'stemcell_formats' array: \(json)")
        }
        stemcellFormats = formats.compactMap(\.stringValue)
        apiVersion = min(json["api_version"]?.intValue ?? 1, 2)
    }
}

/// The result of `create_vm`: the VM's cid and, for CPI API v2, the networks as the CPI configured them.
public struct CreatedVM: Sendable, Hashable {
    /// The new VM's cid.
    public var cid: String
    /// The networks, possibly with details the CPI added (a MAC address).
    public var networks: [String: CPINetwork]

    /// Creates the result.
    public init(cid: String, networks: [String: CPINetwork]) {
        self.cid = cid
        self.networks = networks
    }
}
