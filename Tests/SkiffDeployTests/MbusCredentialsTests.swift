import Foundation
import SkiffManifest
import Testing

@testable import SkiffDeploy

/// create-env refuses mbus URLs the agent would refuse, with one line naming the file, line and key.
@Suite struct MbusCredentialsTests {
    func environment(_ text: String) throws -> LoadedEnvironment {
        let document = try Interpolator.evaluate(InterpolationRequest(manifest: SourceText(name: "m.yml", text: text)))
        return LoadedEnvironment(
            manifestURL: URL(fileURLWithPath: "m.yml"), document: document,
            manifest: try DeploymentManifestParser.parse(document), sha512: "")
    }

    /// The parser test's manifest with the agent's own mbus URL added.
    static let manifest =
        DeploymentManifestTests.valid + """
              properties:
                agent: {mbus: "https://mbus:p@0.0.0.0:6868"}

            """

    @Test func credentialsEverywhereAreAccepted() throws {
        try environment(Self.manifest).checkMbusCredentials()
    }

    @Test(
        "a URL without credentials is refused naming its key",
        arguments: [
            (
                "  mbus: https://mbus:p@10.0.0.7:6868", "  mbus: https://10.0.0.7:6868",
                "m.yml:28: cloud_provider.mbus: "
            ),
            (
                "  mbus: https://mbus:p@10.0.0.7:6868", "  mbus: https://mbus@10.0.0.7:6868",
                "m.yml:28: cloud_provider.mbus: "
            ),
            (
                "agent: {mbus: \"https://mbus:p@0.0.0.0:6868\"}", "agent: {mbus: \"https://0.0.0.0:6868\"}",
                "m.yml:30: cloud_provider.properties.agent.mbus: "
            ),
        ])
    func withoutCredentials(original: String, replacement: String, start: String) throws {
        let text = Self.manifest.replacingOccurrences(of: original, with: replacement)
        #expect(text != Self.manifest)
        #expect {
            try environment(text).checkMbusCredentials()
        } throws: { error in
            let line = "\(error)"
            return line.hasPrefix(start) && line.contains("has no credentials")
                && line.contains("mbus_bootstrap_password")
                && !line.contains("\n")
        }
    }

    @Test func aBuiltInCPIWithoutTheAgentsMbusURLIsRefused() throws {
        #expect {
            try environment(DeploymentManifestTests.valid).checkMbusCredentials()
        } throws: { error in
            "\(error)".contains("cloud_provider.properties.agent.mbus: must be provided")
        }
    }

    @Test func anMbusURLWithoutAPortIsRefusedBeforeAnythingChanges() throws {
        let text = Self.manifest.replacingOccurrences(
            of: "  mbus: https://mbus:p@10.0.0.7:6868", with: "  mbus: https://mbus:p@10.0.0.7")
        #expect {
            try environment(text).checkMbusCredentials()
        } throws: { error in
            let line = "\(error)"
            return line.hasPrefix("m.yml:28: cloud_provider.mbus: ") && line.contains("a port is required")
                && !line.contains("mbus:p@")
        }
    }
}

@Suite struct ProgressTests {
    final class Recorder: ProgressSink, @unchecked Sendable {
        let lock = NSLock()
        var waiting: [Double] = []
        func line(_ text: String) {}
        func beginGroup(_ name: String) {}
        func endGroup(_ name: String, outcome: StepOutcome, seconds: Double) {}
        func beginStep(_ name: String, depth: Int) {}
        func endStep(_ name: String, depth: Int, outcome: StepOutcome, seconds: Double) {}
        func stepWaiting(_ name: String, depth: Int, seconds: Double) {
            lock.withLock { waiting.append(seconds) }
        }
        var recorded: [Double] { lock.withLock { waiting } }
    }

    @Test func aTerminalLineShowsTheElapsedTimeAndIsRedrawnWhenTheStepEnds() {
        let output = OutputBuffer()
        let progress = TextProgress(color: false, live: true) { output.append($0) }
        progress.beginStep("Waiting for the agent", depth: 1)
        progress.stepWaiting("Waiting for the agent", depth: 1, seconds: 7.4)
        progress.endStep("Waiting for the agent", depth: 1, outcome: .finished, seconds: 9.2)
        #expect(
            output.text == "  Waiting for the agent..."
                + "\r\u{1B}[K  Waiting for the agent... 00:00:07"
                + "\r\u{1B}[K  Waiting for the agent... Finished (00:00:09)\n")
    }

    @Test func notOnATerminalNothingIsRedrawn() {
        let output = OutputBuffer()
        let progress = TextProgress(color: false) { output.append($0) }
        progress.beginStep("Step", depth: 0)
        progress.stepWaiting("Step", depth: 0, seconds: 7)
        progress.endStep("Step", depth: 0, outcome: .finished, seconds: 9)
        #expect(output.text == "Step... Finished (00:00:09)\n")
    }

    @Test func aStepLongerThanAFewSecondsReportsItsElapsedTime() async throws {
        let recorder = Recorder()
        let stages = Stages(sink: recorder)
        try await stages.step("quick") {}
        #expect(recorder.recorded.isEmpty)
        // Runs until the elapsed time was reported (at most a minute on a busy machine).
        try await stages.step("slow") {
            for _ in 0..<1200 where recorder.recorded.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        let waiting = recorder.recorded
        #expect(!waiting.isEmpty)
        #expect(waiting.allSatisfy { $0 >= 3 })
    }
}

final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""
    func append(_ text: String) {
        lock.lock()
        collected += text
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}
