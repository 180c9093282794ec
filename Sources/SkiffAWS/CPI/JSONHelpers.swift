import Foundation
import SkiffCloud

extension JSONValue {
    /// Strings of an array, or a single string as a one-element list.
    public var stringList: [String] {
        switch self {
        case .string(let value): [value]
        case .array(let values): values.compactMap(\.stringValue)
        default: []
        }
    }

    /// Parses JSON text.
    public init(parsingText text: String) throws(CloudError) {
        try self.init(parsing: Data(text.utf8))
    }
}
