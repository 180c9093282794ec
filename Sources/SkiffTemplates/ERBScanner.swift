/// One piece of an ERB template after scanning with trim mode `-` (as BOSH renders).
enum ERBSegment: Equatable {
    /// Literal text to emit.
    case text(String, line: Int)
    /// `<% code %>`.
    case code(String, line: Int)
    /// `<%= code %>`.
    case output(String, line: Int)
}

/// Splits ERB source into text and code segments, following Ruby ERB's explicit trim mode (`-`).
///
/// `<%-` at the start of a line (after spaces or tabs) removes that indentation; `-%>` followed by a newline
/// removes the newline; `<%%` is a literal `<%` in text and `%%>` a literal `%>` inside a tag; `<%#` is a comment.
enum ERBScanner {
    static func scan(_ source: String) throws(TemplateError) -> [ERBSegment] {
        let chars = Array(source.unicodeScalars)
        var segments: [ERBSegment] = []
        var text = String.UnicodeScalarView()
        var textLine = 1
        var line = 1
        var index = 0

        func flushText() {
            if !text.isEmpty { segments.append(.text(String(text), line: textLine)) }
            text = String.UnicodeScalarView()
        }
        func has(_ literal: String, at position: Int) -> Bool {
            var offset = position
            for scalar in literal.unicodeScalars {
                guard offset < chars.count, chars[offset] == scalar else { return false }
                offset += 1
            }
            return true
        }

        while index < chars.count {
            if has("<%%", at: index) {
                if text.isEmpty { textLine = line }
                text.append(contentsOf: "<%".unicodeScalars)
                index += 3
                continue
            }
            guard has("<%", at: index) else {
                if text.isEmpty { textLine = line }
                if chars[index] == "\n" { line += 1 }
                text.append(chars[index])
                index += 1
                continue
            }
            // A tag starts here.
            let tagLine = line
            var cursor = index + 2
            var kind = "code"
            if cursor < chars.count {
                switch chars[cursor] {
                case "=":
                    kind = "output"
                    cursor += 1
                case "#":
                    kind = "comment"
                    cursor += 1
                case "-":
                    cursor += 1
                    // Remove the indentation before the tag when only spaces/tabs precede it on its source line.
                    var back = index
                    while back > 0, chars[back - 1] == " " || chars[back - 1] == "\t" { back -= 1 }
                    if back == 0 || chars[back - 1] == "\n" {
                        let drop = min(index - back, text.count)
                        text.removeLast(drop)
                    }
                    if cursor < chars.count, chars[cursor] == "=" {
                        kind = "output"
                        cursor += 1
                    }
                default:
                    break
                }
            }
            flushText()
            var code = String.UnicodeScalarView()
            var closed = false
            while cursor < chars.count {
                if has("%%>", at: cursor) {
                    code.append(contentsOf: "%>".unicodeScalars)
                    cursor += 3
                    continue
                }
                if has("-%>", at: cursor) {
                    cursor += 3
                    if has("\r\n", at: cursor) {
                        cursor += 2
                        line += 1
                    } else if has("\n", at: cursor) {
                        cursor += 1
                        line += 1
                    }
                    closed = true
                    break
                }
                if has("%>", at: cursor) {
                    cursor += 2
                    closed = true
                    break
                }
                if chars[cursor] == "\n" { line += 1 }
                code.append(chars[cursor])
                cursor += 1
            }
            guard closed else {
                throw TemplateError(code: .syntax, message: "unterminated ERB tag (missing '%>')", line: tagLine)
            }
            switch kind {
            case "output": segments.append(.output(String(code), line: tagLine))
            case "code": segments.append(.code(String(code), line: tagLine))
            default: break
            }
            index = cursor
            textLine = line
        }
        flushText()
        return segments
    }
}
