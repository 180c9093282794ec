import SkiffCore

/// A `check process` entry of a job's `monit` file: what the agent starts, watches and stops.
public struct MonitProcess: Hashable, Sendable {
    /// The process name (`check process NAME`).
    public var name: String
    /// The release job whose monit file declared it.
    public var job: String
    /// The pidfile the start program writes.
    public var pidfile: String
    /// The command line monit would run to start it.
    public var startProgram: String
    /// The command line to stop it, if given.
    public var stopProgram: String?
    /// `group NAME` lines.
    public var groups: [String]
    /// Processes this one `depends on`.
    public var dependsOn: [String]

    /// Creates a process entry.
    public init(
        name: String, job: String, pidfile: String, startProgram: String, stopProgram: String? = nil,
        groups: [String] = [], dependsOn: [String] = []
    ) {
        self.name = name
        self.job = job
        self.pidfile = pidfile
        self.startProgram = startProgram
        self.stopProgram = stopProgram
        self.groups = groups
        self.dependsOn = dependsOn
    }
}

/// Reads the subset of monit's control-file language that BOSH jobs use.
public enum MonitFile {
    struct Token {
        var text: String
        var quoted: Bool
        var line: Int
    }

    /// Parses `text` (the monit file of `job`); other `check` kinds and unknown statements are skipped.
    public static func parse(_ text: String, job: String, file: String = "monit") throws(AgentError) -> [MonitProcess] {
        let tokens = try tokenize(text, file: file)
        var processes: [MonitProcess] = []
        var current:
            (
                name: String, line: Int, pidfile: String?, start: String?, stop: String?, groups: [String],
                depends: [String]
            )?
        func finish() throws(AgentError) {
            guard let entry = current else { return }
            current = nil
            guard let pidfile = entry.pidfile else {
                throw AgentError(
                    .invalidMonit, "process '\(entry.name)' of job '\(job)' has no pidfile",
                    at: SourceLocation(file: file, line: entry.line))
            }
            guard let start = entry.start else {
                throw AgentError(
                    .invalidMonit,
                    "process '\(entry.name)' of job '\(job)' has no start program",
                    at: SourceLocation(file: file, line: entry.line))
            }
            processes.append(
                MonitProcess(
                    name: entry.name, job: job, pidfile: pidfile, startProgram: start, stopProgram: entry.stop,
                    groups: entry.groups, dependsOn: entry.depends))
        }
        var index = 0
        func next() -> Token? {
            guard index < tokens.count else { return nil }
            defer { index += 1 }
            return tokens[index]
        }
        func peek() -> Token? { index < tokens.count ? tokens[index] : nil }
        func program(after keyword: Token) throws(AgentError) -> String {
            if let word = peek(), !word.quoted, word.text.lowercased() == "program" { index += 1 }
            if let word = peek(), !word.quoted, word.text == "=" { index += 1 }
            guard let command = next(), command.quoted || command.text.hasPrefix("/") else {
                throw AgentError(
                    .invalidMonit, "'\(keyword.text) program' needs a quoted command",
                    at: SourceLocation(file: file, line: keyword.line))
            }
            return command.text
        }
        while let token = next() {
            let word = token.quoted ? "" : token.text.lowercased()
            switch word {
            case "check":
                try finish()
                guard let kind = next(), let name = next() else {
                    throw AgentError(
                        .invalidMonit, "'check' needs a kind and a name",
                        at: SourceLocation(file: file, line: token.line))
                }
                if kind.text.lowercased() == "process" {
                    current = (name.text, token.line, nil, nil, nil, [], [])
                }
            case "pidfile" where current != nil:
                guard let path = next() else {
                    throw AgentError(
                        .invalidMonit, "'pidfile' needs a path", at: SourceLocation(file: file, line: token.line))
                }
                current?.pidfile = path.text
            case "start" where current != nil:
                current?.start = try program(after: token)
            case "stop" where current != nil:
                current?.stop = try program(after: token)
            case "group" where current != nil:
                if let name = next() { current?.groups.append(name.text) }
            case "depends" where current != nil:
                if let on = peek(), on.text.lowercased() == "on" { index += 1 }
                while let name = next() {
                    current?.depends.append(name.text.trimmingCharacters(in: [","]))
                    if name.text.hasSuffix(","), peek() != nil { continue }
                    if let comma = peek(), comma.text == "," {
                        index += 1
                        continue
                    }
                    break
                }
            case "if":
                // `if … then ACTION`: skip to the action, including the command of `exec "…"`.
                while let part = next() {
                    if !part.quoted && part.text.lowercased() == "then" {
                        if let action = next(), action.text.lowercased() == "exec", peek()?.quoted == true {
                            index += 1
                        }
                        break
                    }
                }
            default:
                continue
            }
        }
        try finish()
        return processes
    }

    static func tokenize(_ text: String, file: String) throws(AgentError) -> [Token] {
        var tokens: [Token] = []
        var line = 1
        var iterator = Array(text).makeIterator()
        var pending: Character? = nil
        func nextChar() -> Character? {
            if let char = pending {
                pending = nil
                return char
            }
            return iterator.next()
        }
        var word = ""
        func flush() {
            if !word.isEmpty { tokens.append(Token(text: word, quoted: false, line: line)) }
            word = ""
        }
        while let char = nextChar() {
            switch char {
            case "\n":
                flush()
                line += 1
            case " ", "\t", "\r":
                flush()
            case "#":
                flush()
                while let skipped = nextChar() {
                    if skipped == "\n" {
                        line += 1
                        break
                    }
                }
            case "\"", "'":
                flush()
                let start = line
                var value = ""
                var closed = false
                while let inner = nextChar() {
                    if inner == char {
                        closed = true
                        break
                    }
                    if inner == "\n" { line += 1 }
                    value.append(inner)
                }
                guard closed else {
                    throw AgentError(
                        .invalidMonit, "unterminated quoted string", at: SourceLocation(file: file, line: start))
                }
                tokens.append(Token(text: value, quoted: true, line: start))
            default:
                word.append(char)
            }
        }
        flush()
        return tokens
    }
}
