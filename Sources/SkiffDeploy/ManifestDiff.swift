import Crypto
import Foundation
import SkiffCloud
import SkiffCore
import SkiffManifest

/// The deployed manifest as the state file keeps it: the interpolated document with every value that came from a
/// variable replaced by `<redacted:DIGEST>`, the digest an HMAC of the value keyed by the director id, so a later
/// plan can tell that a secret changed without the state holding it.
enum RedactedManifest {
    static let marker = "<redacted"

    /// The redacted tree of an interpolated document.
    static func tree(_ document: InterpolatedDocument, key: String) -> JSONValue {
        let paths = Set(document.substitutions.map(\.path.components))
        let hmacKey = SymmetricKey(data: Data(("skiff-redaction:" + key).utf8))
        func walk(_ value: ManifestValue, _ path: [FieldPathComponent]) -> JSONValue {
            if paths.contains(path) {
                let mac = HMAC<SHA256>.authenticationCode(for: Data(YAMLWriter.write(value).utf8), using: hmacKey)
                return .string(marker + ":" + Hex.string(mac.prefix(8)) + ">")
            }
            switch value {
            case .null: return .null
            case .bool(let flag): return .bool(flag)
            case .int(let number): return .int(number)
            case .float(let number): return .double(number)
            case .string(let text): return .string(text)
            case .list(let items): return .array(items.enumerated().map { walk($1, path + [.index($0)]) })
            case .map(let map):
                var object: [String: JSONValue] = [:]
                for entry in map.entries {
                    let name = DeploymentManifestParser.scalarText(entry.key)
                    object[name] = walk(entry.value, path + [.key(name)])
                }
                return .object(object)
            }
        }
        return walk(document.value, [])
    }

    /// The keys of every map in document order, so a diff lists fields as the manifest does.
    static func keyOrder(_ document: InterpolatedDocument) -> [String: [String]] {
        var order: [String: [String]] = [:]
        func walk(_ value: ManifestValue, _ path: String) {
            switch value {
            case .list(let items):
                for (index, item) in items.enumerated() { walk(item, path + "/\(index)") }
            case .map(let map):
                order[path] = map.entries.map { DeploymentManifestParser.scalarText($0.key) }
                for entry in map.entries {
                    walk(entry.value, path + "/" + DeploymentManifestParser.scalarText(entry.key))
                }
            default: return
            }
        }
        walk(document.value, "")
        return order
    }
}

/// One line of a manifest diff: ` ` context, `+` added, `-` removed.
public struct DiffLine: Sendable, Hashable {
    /// How the line changed.
    public enum Kind: String, Sendable { case context, added, removed }
    /// How the line changed.
    public var kind: Kind
    /// The YAML text, indented, without the marker.
    public var text: String

    /// The line as `bosh deploy` prints it: `+ `, `- ` or two spaces, then the text.
    public var rendered: String {
        switch kind {
        case .context: "  " + text
        case .added: "+ " + text
        case .removed: "- " + text
        }
    }
}

/// A diff of two manifests in the style of `bosh deploy`: changed fields with the parents that lead to them,
/// list items matched by `name`, every redacted value shown as `<redacted>`.
enum ManifestDiff {
    static func lines(old: JSONValue?, new: JSONValue, order: [String: [String]] = [:]) -> [DiffLine] {
        var out: [DiffLine] = []
        var context: [(depth: Int, text: String)] = []
        var emittedContext = 0

        func flushContext() {
            while emittedContext < context.count {
                let item = context[emittedContext]
                out.append(DiffLine(kind: .context, text: indent(item.depth) + item.text))
                emittedContext += 1
            }
        }
        func push(_ depth: Int, _ text: String) { context.append((depth, text)) }
        func pop() {
            context.removeLast()
            emittedContext = min(emittedContext, context.count)
        }
        func emit(_ kind: DiffLine.Kind, _ lines: [String]) {
            flushContext()
            for line in lines { out.append(DiffLine(kind: kind, text: line)) }
        }

        func keys(_ object: [String: JSONValue], _ other: [String: JSONValue]?, path: String) -> [String] {
            var ordered = (order[path] ?? []).filter { object[$0] != nil }
            ordered += object.keys.filter { !ordered.contains($0) }.sorted()
            if let other { ordered += other.keys.filter { object[$0] == nil }.sorted() }
            return ordered
        }

        func diff(_ old: JSONValue?, _ new: JSONValue?, depth: Int, prefix: String, path: String) {
            if let old, let new, same(old, new) { return }
            switch (old, new) {
            case (.object(let before)?, .object(let after)?):
                if !prefix.isEmpty { push(depth, prefix) }
                for key in keys(after, before, path: path) {
                    diff(
                        before[key], after[key], depth: prefix.isEmpty ? depth : depth + 1, prefix: key + ":",
                        path: path + "/" + key)
                }
                if !prefix.isEmpty { pop() }
            case (.array(let before)?, .array(let after)?):
                if !prefix.isEmpty { push(depth, prefix) }
                let itemDepth = depth
                for (index, item) in after.enumerated() {
                    let name = item["name"]?.stringValue
                    let match: JSONValue? =
                        if let name { before.first { $0["name"]?.stringValue == name } } else {
                            before.indices.contains(index) ? before[index] : nil
                        }
                    if let match, same(match, item) { continue }
                    if let name, case .object(let a) = item, case .object(let b)? = match {
                        push(itemDepth, "- name: " + name)
                        for key in keys(a, b, path: path + "/\(index)") where key != "name" {
                            diff(
                                b[key], a[key], depth: itemDepth + 1, prefix: key + ":", path: path + "/\(index)/\(key)"
                            )
                        }
                        pop()
                    } else {
                        if let match { emit(.removed, render(match, depth: itemDepth, prefix: "-")) }
                        emit(.added, render(item, depth: itemDepth, prefix: "-"))
                    }
                }
                for item in before {
                    let name = item["name"]?.stringValue
                    let kept =
                        if let name { after.contains { $0["name"]?.stringValue == name } } else {
                            before.firstIndex(of: item).map { after.indices.contains($0) } ?? false
                        }
                    if !kept { emit(.removed, render(item, depth: itemDepth, prefix: "-")) }
                }
                if !prefix.isEmpty { pop() }
            default:
                if let old { emit(.removed, render(old, depth: depth, prefix: prefix)) }
                if let new { emit(.added, render(new, depth: depth, prefix: prefix)) }
            }
        }
        diff(old, new, depth: 0, prefix: "", path: "")
        return out
    }

    /// Equal, reading two redacted values as equal only when their digests are.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool { a == b }

    static func indent(_ depth: Int) -> String { String(repeating: "  ", count: depth) }

    /// `value` as YAML lines at `depth`, after `prefix` (`key:` or `-`).
    static func render(_ value: JSONValue, depth: Int, prefix: String) -> [String] {
        let pad = indent(depth)
        let lead = prefix.isEmpty ? "" : prefix + " "
        switch value {
        case .object(let object) where !object.isEmpty:
            var lines: [String] = []
            var first = true
            for key in object.keys.sorted() {
                guard let member = object[key] else { continue }
                if prefix == "-" {
                    let head = first ? "- " : "  "
                    lines += render(member, depth: 0, prefix: key + ":").enumerated().map { index, line in
                        pad + (index == 0 ? head : "  ") + line
                    }
                } else {
                    if first && !prefix.isEmpty { lines.append(pad + prefix) }
                    lines += render(member, depth: prefix.isEmpty ? depth : depth + 1, prefix: key + ":")
                }
                first = false
            }
            return lines
        case .array(let items) where !items.isEmpty:
            var lines = prefix.isEmpty ? [] : [pad + prefix]
            for item in items { lines += render(item, depth: prefix == "-" ? depth + 1 : depth, prefix: "-") }
            return lines
        case .string(let text) where text.contains("\n"):
            let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
            return [pad + lead + (text.hasSuffix("\n") ? "|" : "|-")]
                + body.split(separator: "\n", omittingEmptySubsequences: false).map { pad + "  " + $0 }
        default:
            return [pad + lead + scalar(value)]
        }
    }

    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .object: return "{}"
        case .array: return "[]"
        case .string(let text):
            if text.hasPrefix(RedactedManifest.marker) { return "\"<redacted>\"" }
            let plain =
                !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "-_./@".contains($0) }
                && Double(text) == nil && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(text)
            return plain ? text : JSONValue.string(text).description
        default: return value.description
        }
    }
}
