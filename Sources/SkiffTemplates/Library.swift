import Crypto
import Foundation
import SkiffCore
import SkiffNet

/// The Ruby standard library pieces real templates call: `ERB::Util`, `Digest`, `Zlib` with `StringIO`,
/// `IPAddr`, `File`'s path functions and `Regexp`.
extension Interpreter {
    /// Library modules templates may name (besides the core classes).
    static let libraryModules: Set<String> = [
        "ERB", "ERB::Util", "Digest", "Digest::SHA256", "Digest::SHA1", "Digest::MD5", "Digest::SHA512",
        "Digest::SHA384", "Zlib", "Zlib::GzipReader", "Zlib::GzipWriter", "Zlib::Inflate", "StringIO", "IPAddr",
        "File", "Regexp", "Exception", "StandardError", "RuntimeError", "ArgumentError", "TypeError", "NameError",
        "NoMethodError", "KeyError", "IndexError", "ZeroDivisionError", "RangeError", "FrozenError",
        "NotImplementedError", "ScriptError", "RegexpError", "IOError", "JSON::ParserError", "Zlib::Error",
        "Zlib::GzipFile::Error", "IPAddr::InvalidAddressError", "IPAddr::AddressFamilyError", "StopIteration",
        "EncodingError", "SecurityError", "Bosh::Template::UnknownProperty", "Bosh::Template::UnknownLink",
        "UnknownProperty", "Comparable", "Enumerable", "Kernel", "Object", "BasicObject", "Math",
        "SystemStackError", "LocalJumpError", "SyntaxError", "FloatDomainError", "Errno::ENOENT",
    ]

    /// Exception classes and their superclasses.
    static let exceptionParents: [String: String] = [
        "StandardError": "Exception", "ScriptError": "Exception", "NotImplementedError": "ScriptError",
        "SecurityError": "Exception", "RuntimeError": "StandardError", "ArgumentError": "StandardError",
        "TypeError": "StandardError", "NameError": "StandardError", "NoMethodError": "NameError",
        "IndexError": "StandardError", "KeyError": "IndexError", "StopIteration": "IndexError",
        "ZeroDivisionError": "StandardError", "RangeError": "StandardError", "FrozenError": "RuntimeError",
        "RegexpError": "StandardError", "IOError": "StandardError", "EncodingError": "StandardError",
        "JSON::ParserError": "StandardError", "Zlib::Error": "StandardError", "Zlib::GzipFile::Error": "Zlib::Error",
        "IPAddr::InvalidAddressError": "ArgumentError", "IPAddr::AddressFamilyError": "ArgumentError",
        "Bosh::Template::UnknownProperty": "StandardError", "Bosh::Template::UnknownLink": "StandardError",
        "UnknownProperty": "StandardError", "SystemStackError": "Exception", "LocalJumpError": "StandardError",
        "SyntaxError": "ScriptError", "FloatDomainError": "RangeError",
    ]

    /// Whether `className` is `ancestor` or inherits from it.
    static func isException(_ className: String, kindOf ancestor: String) -> Bool {
        var current: String? = className
        while let name = current {
            if name == ancestor { return true }
            current = exceptionParents[name]
        }
        return false
    }

    /// A failure raised as an instance of the Ruby exception class `className`.
    func raised(_ className: String, _ message: String, _ line: Int) -> Signal {
        var error = TemplateError(code: .raised, message: message, line: line)
        error.rubyClass = className
        return .failure(error)
    }

    /// The Ruby class of a failure (from `raise`, or what Ruby would raise for the same runtime error).
    static func exceptionClass(of error: TemplateError) -> String {
        if let rubyClass = error.rubyClass { return rubyClass }
        let message = error.message
        switch error.code {
        case .unknownProperty: return "Bosh::Template::UnknownProperty"
        case .raised: return "RuntimeError"
        case .unsupportedMethod: return "NoMethodError"
        default: break
        }
        if message.hasPrefix("undefined method") { return "NoMethodError" }
        if message.hasPrefix("undefined local variable") { return "NameError" }
        if message.hasPrefix("divided by 0") { return "ZeroDivisionError" }
        if message.hasPrefix("key not found") { return "KeyError" }
        if message.hasPrefix("no implicit conversion") || message.contains("can't be coerced")
            || message.hasPrefix("can't convert")
        {
            return "TypeError"
        }
        if message.hasPrefix("wrong number of arguments") || message.hasPrefix("invalid value for")
            || message.hasPrefix("comparison of") || message.hasPrefix("negative argument")
        {
            return "ArgumentError"
        }
        return "RuntimeError"
    }

    /// An exception object (what `rescue => e` binds).
    static func exceptionValue(_ className: String, _ message: String) -> RValue {
        .instance(
            RObject(
                className: className,
                fields: RHash([(.string("message"), .string(message)), (.string("exception"), .bool(true))])))
    }

    // MARK: Bytes

    /// A String of bytes that are not UTF-8 text (Ruby's binary strings), kept one byte per scalar.
    static func binary(_ bytes: [UInt8]) -> RValue {
        if let text = String(validating: bytes, as: UTF8.self) { return .string(text) }
        let latin1 = String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        return .instance(RObject(className: "String", fields: RHash([(.string("binary"), .string(latin1))])))
    }

    /// The bytes of a String or binary String.
    func bytes(_ value: RValue, _ line: Int) throws(Signal) -> [UInt8] {
        switch value {
        case .string(let text): return Array(text.utf8)
        case .instance(let object) where object.className == "String":
            guard case .string(let latin1) = object["binary"] else { return [] }
            return latin1.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        default:
            throw raised("TypeError", "no implicit conversion of \(value.className) into String", line)
        }
    }

    // MARK: Module functions

    func sendLibrary(_ module: String, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue
    {
        switch (module, name) {
        case ("ERB::Util", "url_encode"), ("ERB::Util", "u"):
            try arity(name, arguments, 1...1, line)
            var result = ""
            for byte in RubyFormat.toS(arguments[0]).utf8 {
                let scalar = Unicode.Scalar(byte)
                if scalar.properties.isASCIIHexDigit || (scalar.isASCII && scalar.properties.isAlphabetic)
                    || "_-.~".unicodeScalars.contains(scalar)
                {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += String(format: "%%%02X", byte)
                }
            }
            return .string(result)
        case ("ERB::Util", "html_escape"), ("ERB::Util", "h"):
            try arity(name, arguments, 1...1, line)
            return .string(Interpreter.htmlEscape(RubyFormat.toS(arguments[0])))
        case ("Digest::SHA256", _), ("Digest::SHA1", _), ("Digest::MD5", _), ("Digest::SHA512", _),
            ("Digest::SHA384", _):
            guard ["hexdigest", "digest", "base64digest"].contains(name) else { break }
            try arity(name, arguments, 1...1, line)
            let input = try bytes(arguments[0], line)
            let digest: [UInt8]
            switch module {
            case "Digest::SHA256": digest = Array(SHA256.hash(data: input))
            case "Digest::SHA1": digest = Array(Insecure.SHA1.hash(data: input))
            case "Digest::MD5": digest = Array(Insecure.MD5.hash(data: input))
            case "Digest::SHA384": digest = Array(SHA384.hash(data: input))
            default: digest = Array(SHA512.hash(data: input))
            }
            switch name {
            case "hexdigest": return .string(Hex.string(digest))
            case "base64digest": return .string(Data(digest).base64EncodedString())
            default: return Interpreter.binary(digest)
            }
        case ("Zlib", "gunzip"):
            try arity(name, arguments, 1...1, line)
            return try gunzip(try bytes(arguments[0], line), line)
        case ("Zlib", "gzip"):
            try arity(name, arguments, 1...2, line)
            return Interpreter.binary(Gzip.compress(try bytes(arguments[0], line)))
        case ("Zlib", "crc32"):
            try arity(name, arguments, 0...1, line)
            let data = arguments.isEmpty ? [] : try bytes(arguments[0], line)
            return .int(Int(Gzip.crc32(data[...])))
        case ("StringIO", "new"):
            try arity(name, arguments, 0...2, line)
            let content = arguments.isEmpty ? [] : try bytes(arguments[0], line)
            buffers.append((content, 0))
            return .instance(RObject(className: "StringIO", fields: RHash([(.string("id"), .int(buffers.count - 1))])))
        case ("Zlib::GzipReader", "new"), ("Zlib::GzipReader", "open"), ("Zlib::GzipReader", "wrap"):
            try arity(name, arguments, 1...2, line)
            guard let id = bufferID(arguments[0]) else {
                throw failure(.unsupportedMethod, "unsupported method 'Zlib::GzipReader.\(name)' on a file", line)
            }
            let (content, position) = buffers[id]
            buffers[id].1 = content.count
            let reader = try gunzip(Array(content[min(position, content.count)...]), line)
            buffers.append((try bytes(reader, line), 0))
            let object = RValue.instance(
                RObject(className: "Zlib::GzipReader", fields: RHash([(.string("id"), .int(buffers.count - 1))])))
            if block != nil, name != "new" { return try invoke(block, [object], line) }
            return object
        case ("Zlib::GzipWriter", "new"), ("Zlib::GzipWriter", "wrap"):
            try arity(name, arguments, 1...3, line)
            guard let target = bufferID(arguments[0]) else {
                throw failure(.unsupportedMethod, "unsupported method 'Zlib::GzipWriter.\(name)' on a file", line)
            }
            buffers.append(([], 0))
            let object = RValue.instance(
                RObject(
                    className: "Zlib::GzipWriter",
                    fields: RHash([(.string("id"), .int(buffers.count - 1)), (.string("target"), .int(target))])))
            if block != nil, name == "wrap" {
                let result = try invoke(block, [object], line)
                _ = try sendIO(objectOf(object), "close", [], nil, line)
                return result
            }
            return object
        case ("Zlib::Inflate", "inflate"):
            try arity(name, arguments, 1...1, line)
            let data = try bytes(arguments[0], line)
            guard data.count > 6 else { throw raised("Zlib::Error", "buffer error", line) }
            // A zlib stream is a two-byte header, raw DEFLATE and an Adler-32: wrap it as gzip to reuse the reader.
            do {
                return Interpreter.binary(try Gzip.inflateRaw(Array(data[2...])))
            } catch {
                throw raised("Zlib::Error", error.message, line)
            }
        case ("IPAddr", "new"):
            try arity(name, arguments, 1...2, line)
            return try ipAddr(RubyFormat.toS(arguments[0]), line)
        case ("File", "basename"):
            try arity(name, arguments, 1...2, line)
            var base = Interpreter.basename(RubyFormat.toS(arguments[0]))
            if arguments.count == 2 {
                let suffix = RubyFormat.toS(arguments[1])
                if suffix == ".*" {
                    if let dot = base.lastIndex(of: "."), dot != base.startIndex { base = String(base[..<dot]) }
                } else if base.hasSuffix(suffix), base != suffix {
                    base = String(base.dropLast(suffix.count))
                }
            }
            return .string(base)
        case ("File", "dirname"):
            try arity(name, arguments, 1...1, line)
            return .string(Interpreter.dirname(RubyFormat.toS(arguments[0])))
        case ("File", "extname"):
            try arity(name, arguments, 1...1, line)
            let base = Interpreter.basename(RubyFormat.toS(arguments[0]))
            guard let dot = base.lastIndex(of: "."), dot != base.startIndex, base.index(after: dot) != base.endIndex
            else { return .string("") }
            return .string(String(base[dot...]))
        case ("File", "join"):
            var parts: [String] = []
            func collect(_ value: RValue) {
                if case .array(let items) = value {
                    items.forEach(collect)
                } else {
                    parts.append(RubyFormat.toS(value))
                }
            }
            arguments.forEach(collect)
            var result = ""
            for (index, part) in parts.enumerated() {
                if index == 0 {
                    result = part
                    continue
                }
                let trailing = result.hasSuffix("/")
                let leading = part.hasPrefix("/")
                if trailing && leading {
                    result += part.drop { $0 == "/" }
                    result = String(result)
                } else if trailing || leading {
                    result += part
                } else {
                    result += "/" + part
                }
            }
            return .string(result)
        case ("Regexp", "escape"), ("Regexp", "quote"):
            try arity(name, arguments, 1...1, line)
            return .string(Interpreter.regexpEscape(RubyFormat.toS(arguments[0])))
        case ("Regexp", "new"), ("Regexp", "compile"):
            try arity(name, arguments, 1...2, line)
            if let parts = Interpreter.regexpParts(arguments[0]) {
                return Interpreter.regexpValue(source: parts.source, options: parts.options)
            }
            var options = ""
            if arguments.count == 2 {
                switch arguments[1] {
                case .int(let bits):
                    if bits & 1 != 0 { options += "i" }
                    if bits & 2 != 0 { options += "x" }
                    if bits & 4 != 0 { options += "m" }
                case .string(let letters): options = letters.filter { "imx".contains($0) }
                case .null, .bool(false): break
                default: options = "i"
                }
            }
            let source = RubyFormat.toS(arguments[0])
            _ = try compiled(source, options, line)
            return Interpreter.regexpValue(source: source, options: options)
        case ("Regexp", "union"):
            var sources: [String] = []
            var items = arguments
            if items.count == 1, case .array(let inner) = items[0] { items = inner }
            for item in items {
                if let parts = Interpreter.regexpParts(item) {
                    sources.append(parts.source)
                } else {
                    sources.append(Interpreter.regexpEscape(RubyFormat.toS(item)))
                }
            }
            return Interpreter.regexpValue(source: sources.joined(separator: "|"), options: "")
        case (_, "new") where Interpreter.exceptionParents[module] != nil || module == "Exception":
            try arity(name, arguments, 0...1, line)
            return Interpreter.exceptionValue(module, arguments.first.map(RubyFormat.toS) ?? module)
        case (_, "name"), (_, "to_s"):
            return .string(module)
        case (_, "==="):
            try arity(name, arguments, 1...1, line)
            return .bool(caseEquals(.module(module), arguments[0]))
        default:
            break
        }
        throw failure(.unsupportedMethod, "unsupported method '\(module).\(name)'", line)
    }

    static func htmlEscape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func regexpEscape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case " ": result += "\\ "
            case "\u{0C}": result += "\\f"
            case "\u{0B}": result += "\\v"
            case ".", "*", "?", "+", "^", "$", "|", "(", ")", "[", "]", "{", "}", "\\", "/", "-", "#":
                if scalar == "/" {
                    result += "/"
                } else {
                    result += "\\"
                    result.unicodeScalars.append(scalar)
                }
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func basename(_ path: String) -> String {
        if path.isEmpty { return "" }
        let trimmed = path.reversed().drop { $0 == "/" }.reversed()
        if trimmed.isEmpty { return "/" }
        let text = String(trimmed)
        if let slash = text.lastIndex(of: "/") { return String(text[text.index(after: slash)...]) }
        return text
    }

    static func dirname(_ path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.hasSuffix("/") { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "." }
        var directory = text[..<slash]
        while directory.count > 1, directory.hasSuffix("/") { directory = directory.dropLast() }
        return directory.isEmpty ? "/" : String(directory)
    }

    private func gunzip(_ data: [UInt8], _ line: Int) throws(Signal) -> RValue {
        do {
            return Interpreter.binary(try Gzip.decompress(data))
        } catch {
            throw raised("Zlib::GzipFile::Error", error.message, line)
        }
    }

    // MARK: IO objects (StringIO and the gzip reader and writer)

    private func bufferID(_ value: RValue) -> Int? {
        guard case .instance(let object) = value,
            object.className == "StringIO" || object.className.hasPrefix("Zlib::"),
            case .int(let id) = object["id"], id < buffers.count
        else { return nil }
        return id
    }

    private func objectOf(_ value: RValue) -> RObject {
        if case .instance(let object) = value { return object }
        return RObject(className: "Object", fields: RHash())
    }

    /// Methods of StringIO, Zlib::GzipReader and Zlib::GzipWriter objects.
    func sendIO(_ object: RObject, _ name: String, _ arguments: [RValue], _ block: Callable?, _ line: Int)
        throws(Signal) -> RValue?
    {
        guard case .int(let id) = object["id"], id < buffers.count else { return nil }
        let (content, position) = buffers[id]
        let rest = Array(content[min(position, content.count)...])
        switch name {
        case "read":
            buffers[id].1 = content.count
            return Interpreter.binary(rest)
        case "string" where object.className == "StringIO":
            return Interpreter.binary(content)
        case "each_line", "readlines", "each":
            buffers[id].1 = content.count
            var lines: [RValue] = []
            var current: [UInt8] = []
            for byte in rest {
                current.append(byte)
                if byte == 10 {
                    lines.append(Interpreter.binary(current))
                    current = []
                }
            }
            if !current.isEmpty { lines.append(Interpreter.binary(current)) }
            if name == "readlines" || block == nil { return .array(lines) }
            for item in lines { _ = try invoke(block, [item], line) }
            return .instance(object)
        case "gets":
            guard !rest.isEmpty else { return .null }
            let end = (rest.firstIndex(of: 10).map { $0 + 1 }) ?? rest.count
            buffers[id].1 = position + end
            return Interpreter.binary(Array(rest[..<end]))
        case "eof?": return .bool(rest.isEmpty)
        case "rewind":
            buffers[id].1 = 0
            return .int(0)
        case "write", "<<", "print", "puts":
            var added: [UInt8] = []
            for argument in arguments {
                added += try bytes(.string(RubyFormat.toS(argument)), line)
                if name == "puts", added.last != 10 { added.append(10) }
            }
            if name == "puts", arguments.isEmpty { added.append(10) }
            buffers[id].0 += added
            buffers[id].1 = buffers[id].0.count
            if name == "<<" { return .instance(object) }
            return name == "write" ? .int(added.count) : .null
        case "close", "finish":
            if object.className == "Zlib::GzipWriter", case .int(let target) = object["target"], target < buffers.count
            {
                buffers[target].0 += Gzip.compress(content)
                buffers[target].1 = buffers[target].0.count
                buffers[id] = ([], 0)
                guard name == "finish" else { return .null }
                return .instance(RObject(className: "StringIO", fields: RHash([(.string("id"), .int(target))])))
            }
            return .null
        case "closed?": return .bool(false)
        default: return nil
        }
    }

    // MARK: IPAddr

    private func ipAddr(_ text: String, _ line: Int) throws(Signal) -> RValue {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        var host = parts.first ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let address = IPAddress(host) else {
            throw raised("IPAddr::InvalidAddressError", "invalid address: \(text)", line)
        }
        let width = address.family == .ipv4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            if let value = Int(parts[1]), (0...width).contains(value) {
                length = value
            } else if let mask = IPAddress(parts[1]), mask.family == address.family {
                length = mask.bits.nonzeroBitCount
            } else {
                throw raised("IPAddr::InvalidPrefixError", "invalid length: \(text)", line)
            }
        }
        return ipAddrValue(address, length: length)
    }

    func ipAddrValue(_ address: IPAddress, length: Int) -> RValue {
        let width = address.family == .ipv4 ? 32 : 128
        let mask: UInt128 = length == 0 ? 0 : (UInt128.max << UInt128(128 - length)) >> UInt128(128 - width)
        let masked = Interpreter.address(bits: address.bits & mask, family: address.family) ?? address
        return .instance(
            RObject(
                className: "IPAddr",
                fields: RHash([(.string("address"), .string(masked.description)), (.string("prefix"), .int(length))])))
    }

    static func address(bits: UInt128, family: IPFamily) -> IPAddress? {
        if family == .ipv4 {
            let value = UInt32(truncatingIfNeeded: bits)
            return IPAddress("\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)")
        }
        var groups: [String] = []
        for index in stride(from: 7, through: 0, by: -1) {
            groups.append(String(UInt16(truncatingIfNeeded: bits >> UInt128(index * 16)), radix: 16))
        }
        return IPAddress(groups.joined(separator: ":"))
    }

    /// Methods of IPAddr objects; nil when `name` is not one of them.
    func sendIPAddr(_ object: RObject, _ name: String, _ arguments: [RValue], _ line: Int) throws(Signal) -> RValue? {
        guard case .string(let text) = object["address"], let address = IPAddress(text),
            case .int(let length) = object["prefix"]
        else { return nil }
        let width = address.family == .ipv4 ? 32 : 128
        func other(_ value: RValue) throws(Signal) -> (IPAddress, Int) {
            var candidate = value
            if case .string(let text) = value { candidate = try ipAddr(text, line) }
            guard case .instance(let inner) = candidate, inner.className == "IPAddr",
                case .string(let innerText) = inner["address"], let innerAddress = IPAddress(innerText),
                case .int(let innerLength) = inner["prefix"]
            else { throw raised("IPAddr::InvalidAddressError", "invalid address: \(RubyFormat.toS(value))", line) }
            return (innerAddress, innerLength)
        }
        switch name {
        case "to_s": return .string(address.description)
        case "to_string": return .string(address.family == .ipv4 ? address.description : address.expanded)
        case "ipv4?": return .bool(address.family == .ipv4)
        case "ipv6?": return .bool(address.family == .ipv6)
        case "prefix": return .int(length)
        case "to_i": return address.bits <= UInt128(Int.max) ? .int(Int(address.bits)) : .string(String(address.bits))
        case "include?", "===", "member?":
            try arity(name, arguments, 1...1, line)
            guard let pair = try? other(arguments[0]) else { return .bool(false) }
            let candidate = pair.0
            guard candidate.family == address.family else { return .bool(false) }
            let mask: UInt128 = length == 0 ? 0 : (UInt128.max << UInt128(128 - length)) >> UInt128(128 - width)
            return .bool(candidate.bits & mask == address.bits & mask)
        case "mask":
            try arity(name, arguments, 1...1, line)
            guard case .int(let newLength) = arguments[0], (0...width).contains(newLength) else {
                throw raised("IPAddr::InvalidPrefixError", "invalid length", line)
            }
            return ipAddrValue(address, length: newLength)
        case "==", "eql?":
            try arity(name, arguments, 1...1, line)
            guard let pair = try? other(arguments[0]) else { return .bool(false) }
            return .bool(pair.0 == address)
        case "<=>":
            try arity(name, arguments, 1...1, line)
            let (candidate, _) = try other(arguments[0])
            return .int(address < candidate ? -1 : address == candidate ? 0 : 1)
        case "netmask", "subnet_mask":
            let mask: UInt128 = length == 0 ? 0 : (UInt128.max << UInt128(128 - length)) >> UInt128(128 - width)
            return ipAddrValue(Interpreter.address(bits: mask, family: address.family) ?? address, length: width)
        case "succ":
            let next = Interpreter.address(bits: address.bits &+ 1, family: address.family) ?? address
            return ipAddrValue(next, length: length)
        case "private?":
            let prefixes = address.family == .ipv4 ? ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] : ["fc00::/7"]
            return .bool(prefixes.contains { (try? IPPrefix(parsing: $0))?.contains(address) == true })
        case "loopback?":
            return .bool(address.family == .ipv4 ? (address.bits >> 24) == 127 : address.bits == 1)
        case "to_range":
            throw failure(.unsupportedMethod, "unsupported method 'IPAddr#to_range'", line)
        default: return nil
        }
    }
}
