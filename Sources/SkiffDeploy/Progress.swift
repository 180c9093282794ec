import Foundation

/// Where create-env and delete-env report their stages: a terminal, a pipe, or a machine reading JSON.
public protocol ProgressSink: Sendable {
    /// A line of its own (`Deployment manifest: '…'`, `Succeeded`).
    func line(_ text: String)
    /// A complex stage begins (`Started deploying`).
    func beginGroup(_ name: String)
    /// A complex stage ends (`Finished deploying (00:00:01)`).
    func endGroup(_ name: String, outcome: StepOutcome, seconds: Double)
    /// A step begins (`  Creating VM…`).
    func beginStep(_ name: String, depth: Int)
    /// A step ends (`… Finished (00:00:00)`).
    func endStep(_ name: String, depth: Int, outcome: StepOutcome, seconds: Double)
    /// A step still runs after `seconds` (told about once a second once it has run a few): a terminal shows the
    /// elapsed time on the step's line. Does nothing unless a sink implements it.
    func stepWaiting(_ name: String, depth: Int, seconds: Double)
}

extension ProgressSink {
    /// Ignores the elapsed time of a running step.
    public func stepWaiting(_ name: String, depth: Int, seconds: Double) {}
}

/// How a stage ended.
public enum StepOutcome: Sendable, Equatable {
    case finished
    case skipped(String)
    case failed(String)
}

/// Reports stages to stdout the way the BOSH CLI does: `Started …`, `  Step... Finished (00:00:00)`.
///
/// Unlike the BOSH CLI, progress is printed also when stdout is not a terminal, only without colour.
public final class TextProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private let write: @Sendable (String) -> Void
    private let color: Bool
    private let live: Bool
    private var lastWasGroup = false
    /// The step line being redrawn with its elapsed time, if any.
    private var waitingLine: String?

    /// A reporter writing to `write`; `color` adds ANSI colours to outcomes and `live` redraws a long step's line
    /// with its elapsed time (use both only on a terminal).
    public init(color: Bool, live: Bool = false, write: @escaping @Sendable (String) -> Void) {
        self.color = color
        self.live = live
        self.write = write
    }

    /// A reporter on standard output, coloured and live when it is a terminal.
    public static func standardOutput() -> TextProgress {
        let terminal = isatty(STDOUT_FILENO) == 1
        return TextProgress(
            color: terminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil, live: terminal
        ) { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    public func line(_ text: String) {
        emit(text + "\n", group: false)
    }

    public func beginGroup(_ name: String) {
        emit("\nStarted \(name)\n", group: true)
    }

    public func endGroup(_ name: String, outcome: StepOutcome, seconds: Double) {
        let word = outcome == .finished ? "Finished" : "Failed"
        emit("\(paint(word, outcome)) \(name) (\(Self.duration(seconds)))\n", group: true)
    }

    public func beginStep(_ name: String, depth: Int) {
        lock.lock()
        let pad = depth == 0 && lastWasGroup ? "\n" : ""
        lastWasGroup = false
        lock.unlock()
        write(pad + String(repeating: "  ", count: depth) + name + "...")
    }

    public func endStep(_ name: String, depth: Int, outcome: StepOutcome, seconds: Double) {
        let text: String
        switch outcome {
        case .finished: text = paint("Finished", outcome)
        case .skipped(let why): text = paint("Skipped", outcome) + " [\(why)]"
        case .failed: text = paint("Failed", outcome)
        }
        lock.lock()
        let redrawn = waitingLine
        waitingLine = nil
        lock.unlock()
        // A line redrawn with its elapsed time is drawn once more without it.
        let restart = redrawn.map { "\r\u{1B}[K" + $0 } ?? ""
        write(restart + " \(text) (\(Self.duration(seconds)))\n")
    }

    /// On a terminal, redraws the running step's line as `  Step... 00:00:07`.
    public func stepWaiting(_ name: String, depth: Int, seconds: Double) {
        guard live else { return }
        let line = String(repeating: "  ", count: depth) + name + "..."
        lock.lock()
        waitingLine = line
        lock.unlock()
        write("\r\u{1B}[K" + line + " " + Self.duration(seconds))
    }

    private func emit(_ text: String, group: Bool) {
        lock.lock()
        lastWasGroup = group
        lock.unlock()
        write(text)
    }

    private func paint(_ word: String, _ outcome: StepOutcome) -> String {
        guard color else { return word }
        switch outcome {
        case .finished: return "\u{1B}[32m\(word)\u{1B}[0m"
        case .skipped: return "\u{1B}[33m\(word)\u{1B}[0m"
        case .failed: return "\u{1B}[31m\(word)\u{1B}[0m"
        }
    }

    /// `HH:MM:SS`, seconds rounded down, as the BOSH CLI prints durations.
    public static func duration(_ seconds: Double) -> String {
        let total = max(0, Int(seconds.rounded(.down)))
        return String(format: "%02d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
    }
}

/// Reports every event as one JSON object per line, for programs: `{"event":"step","name":…,"outcome":…}`.
public final class JSONProgress: ProgressSink, @unchecked Sendable {
    private let write: @Sendable (String) -> Void

    /// A reporter writing JSON lines to `write`.
    public init(write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// A reporter on standard output.
    public static func standardOutput() -> JSONProgress {
        JSONProgress { FileHandle.standardOutput.write(Data($0.utf8)) }
    }

    public func line(_ text: String) { emit(["event": "line", "text": text]) }

    public func beginGroup(_ name: String) { emit(["event": "group_started", "name": name]) }

    public func endGroup(_ name: String, outcome: StepOutcome, seconds: Double) {
        emit(["event": "group_ended", "name": name, "outcome": Self.word(outcome), "seconds": seconds])
    }

    public func beginStep(_ name: String, depth: Int) { emit(["event": "step_started", "name": name]) }

    public func endStep(_ name: String, depth: Int, outcome: StepOutcome, seconds: Double) {
        var event: [String: Any] = [
            "event": "step_ended", "name": name, "outcome": Self.word(outcome), "seconds": seconds,
        ]
        if case .skipped(let why) = outcome { event["reason"] = why }
        emit(event)
    }

    /// Emits any event object, e.g. the final result.
    public func emit(_ object: [String: Any]) {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    private static func word(_ outcome: StepOutcome) -> String {
        switch outcome {
        case .finished: "finished"
        case .skipped: "skipped"
        case .failed: "failed"
        }
    }
}

/// Runs stages and reports them to a sink, timing each.
public struct Stages: Sendable {
    /// The sink every stage reports to.
    public let sink: any ProgressSink
    let depth: Int

    /// Stages reported to `sink`.
    public init(sink: any ProgressSink) {
        self.sink = sink
        depth = 0
    }

    init(sink: any ProgressSink, depth: Int) {
        self.sink = sink
        self.depth = depth
    }

    /// Runs a group of steps between `Started name` and `Finished name`.
    public func group<T>(_ name: String, _ body: (Stages) async throws -> T) async throws -> T {
        sink.beginGroup(name)
        let start = ContinuousClock.now
        do {
            let value = try await body(Stages(sink: sink, depth: depth + 1))
            sink.endGroup(name, outcome: .finished, seconds: Self.seconds(since: start))
            return value
        } catch {
            sink.endGroup(name, outcome: .failed("\(error)"), seconds: Self.seconds(since: start))
            throw error
        }
    }

    /// How long a step runs before its elapsed time is shown.
    static let showElapsedAfter: Duration = .seconds(3)

    /// Runs one step; throwing ``SkipStep`` reports it as skipped and is not an error. While it runs longer than a
    /// few seconds, the sink is told the elapsed time every second.
    @discardableResult
    public func step<T>(_ name: String, _ body: () async throws -> T) async throws -> T? {
        sink.beginStep(name, depth: depth)
        let start = ContinuousClock.now
        do {
            let value = try await withElapsedTime(name, since: start, body)
            sink.endStep(name, depth: depth, outcome: .finished, seconds: Self.seconds(since: start))
            return value
        } catch let skip as SkipStep {
            sink.endStep(name, depth: depth, outcome: .skipped(skip.reason), seconds: Self.seconds(since: start))
            return nil
        } catch {
            sink.endStep(name, depth: depth, outcome: .failed("\(error)"), seconds: Self.seconds(since: start))
            throw error is StageError || error is CancellationError ? error : StageError(stage: name, cause: error)
        }
    }

    private func withElapsedTime<T>(
        _ name: String, since start: ContinuousClock.Instant, _ body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let sink = self.sink
            let depth = self.depth
            group.addTask {
                try await Task.sleep(for: Self.showElapsedAfter)
                while !Task.isCancelled {
                    sink.stepWaiting(name, depth: depth, seconds: Self.seconds(since: start))
                    try await Task.sleep(for: .seconds(1))
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Thrown by a step that had nothing to do: `Skipped [reason]`.
public struct SkipStep: Error, Sendable {
    /// Why the step was skipped, e.g. `Stemcell already uploaded`.
    public let reason: String

    /// A skip with its reason.
    public init(_ reason: String) { self.reason = reason }
}

/// An error with the stage it happened in: `Creating VM for instance 'nginx/0' …: <cause>`.
public struct StageError: Error, Sendable, CustomStringConvertible {
    /// The step that failed, as its progress line names it.
    public let stage: String
    /// What went wrong.
    public let cause: any Error

    public var description: String { "\(stage): \(cause)" }
}
