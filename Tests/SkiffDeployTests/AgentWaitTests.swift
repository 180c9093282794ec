import Foundation
import SkiffAgentClient
import SkiffCloud
import Testing

@testable import SkiffDeploy

@Suite("the agent wait")
struct AgentWaitTests {
    @Test("cloud_provider.properties.agent.agent_wait_timeout sets it; 600 s by default; bad values name the key")
    func timeout() throws {
        #expect(try AgentWait.timeout(.object([:])) == .seconds(600))
        #expect(try AgentWait.timeout(.object(["agent": .object(["agent_wait_timeout": .int(90)])])) == .seconds(90))
        for bad: JSONValue in [.int(0), .string("ten"), .int(-5)] {
            do {
                _ = try AgentWait.timeout(.object(["agent": .object(["agent_wait_timeout": bad])]))
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.description.hasPrefix("cloud_provider.properties.agent.agent_wait_timeout: "))
            }
        }
    }

    @Test("giving up says the VM is still running and names the delete-env command")
    func gaveUp() async throws {
        let mbus = try MbusURL(parsing: "https://mbus:secret@127.0.0.1:1")
        let agent = try AgentClient(
            configuration: .init(mbus: mbus, caPEM: nil, connectTimeout: .milliseconds(200)))
        let options = EnvironmentOptions(
            manifestPath: "/tmp/my env.yml", statePath: "/tmp/state.json", opsFiles: ["ops.yml"],
            skiffExecutable: "/usr/bin/skiff")
        do {
            try await AgentWait.wait(agent, vmCID: "i-0abc", timeout: .seconds(1), options: options)
            Issue.record("a closed port answered")
        } catch let error as DeployError {
            #expect(error.message.contains("VM 'i-0abc'"))
            #expect(error.message.contains("still running (and billed"))
            #expect(error.message.contains("skiff delete-env '/tmp/my env.yml' --state /tmp/state.json -o ops.yml"))
            #expect(!error.message.contains("secret"))
            #expect(!error.message.contains("\n"))
        }
        await agent.shutdown()
    }
}
