import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// One XML element of an EC2 answer, with namespaces dropped: a local name, its text, and its children.
public struct XMLTree: Sendable, Hashable {
    /// The element's local name (`vpcId`, `item`).
    public var name: String
    /// The element's own text, whitespace-trimmed.
    public var text: String
    /// Child elements in document order.
    public var children: [XMLTree]

    /// Creates an element.
    public init(name: String, text: String = "", children: [XMLTree] = []) {
        self.name = name
        self.text = text
        self.children = children
    }

    /// Parses a document; nil when the bytes are not well-formed XML (moto's HTML error pages, for instance).
    public static func parse(_ bytes: [UInt8]) -> XMLTree? {
        let builder = Builder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    /// The first child named `name`.
    public func child(_ name: String) -> XMLTree? { children.first { $0.name == name } }

    /// The element at a `/`-separated path of child names, e.g. `ipv6CidrBlockState/state`.
    public func at(_ path: String) -> XMLTree? {
        var node: XMLTree? = self
        for part in path.split(separator: "/") {
            node = node?.child(String(part))
        }
        return node
    }

    /// The text at `path`, or nil if the element is missing or empty.
    public func string(_ path: String) -> String? {
        guard let text = at(path)?.text, !text.isEmpty else { return nil }
        return text
    }

    /// The boolean at `path` (`true`/`false`).
    public func bool(_ path: String) -> Bool? { string(path).map { $0.lowercased() == "true" } }

    /// The integer at `path`.
    public func int(_ path: String) -> Int? { string(path).flatMap { Int($0) } }

    /// The `item` children of the set at `path` (`vpcSet`, `tagSet`); empty when the set is absent.
    public func items(_ path: String) -> [XMLTree] { at(path)?.children.filter { $0.name == "item" } ?? [] }

    /// The first descendant (depth first, self included) named `name`.
    public func first(named name: String) -> XMLTree? {
        if self.name == name { return self }
        for child in children {
            if let found = child.first(named: name) { return found }
        }
        return nil
    }

    /// The `tagSet` of a resource as a dictionary.
    public var tags: [String: String] {
        var out: [String: String] = [:]
        for item in items("tagSet") {
            if let key = item.string("key") { out[key] = item.at("value")?.text ?? "" }
        }
        return out
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
        ) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(XMLTree(name: local))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
        ) {
            guard var node = stack.popLast() else { return }
            node.text = node.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if stack.isEmpty {
                root = node
            } else {
                stack[stack.count - 1].children.append(node)
            }
        }
    }
}

extension EC2Error {
    /// Decodes an error answer of any shape EC2 or moto sends: `Response/Errors/Error`, `ErrorResponse/Error`,
    /// `ErrorResponse/Errors/Error`; falls back to the HTTP status when the body is not XML (an HTML page).
    public static func decode(status: Int, body: [UInt8], action: String) -> EC2Error {
        if let tree = XMLTree.parse(body), let error = tree.first(named: "Error"), let code = error.string("Code") {
            let requestID =
                tree.string("RequestID") ?? tree.string("RequestId") ?? tree.string("requestId")
                ?? tree.first(named: "RequestID")?.text ?? tree.first(named: "RequestId")?.text
            return EC2Error(
                code: code, message: error.string("Message") ?? "", requestID: requestID, status: status,
                action: action)
        }
        let code: String
        switch status {
        case 500: code = "InternalError"
        case 502: code = "BadGateway"
        case 503: code = "ServiceUnavailable"
        case 504: code = "GatewayTimeout"
        case 401: code = "AuthFailure"
        case 403: code = "UnauthorizedOperation"
        default: code = "HTTP\(status)"
        }
        let snippet = String(decoding: body.prefix(300), as: UTF8.self)
        let message =
            snippet.contains("<html") || snippet.contains("<!doctype") || snippet.contains("<!DOCTYPE")
            ? "the endpoint answered with an HTML page, not an EC2 XML error" : EC2Error.oneLine(snippet)
        return EC2Error(code: code, message: message, requestID: nil, status: status, action: action)
    }
}
