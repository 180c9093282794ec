import Foundation
import SkiffAgentClient
import SkiffCloud

/// How long create-env waits for a new VM's agent: `cloud_provider.properties.agent.agent_wait_timeout` in seconds
/// (the director's `agent.agent_wait_timeout` property, in the same place as the agent's other settings), 600 by
/// default as in bosh.
public enum AgentWait {
    /// The manifest key, for messages.
    public static let key = "cloud_provider.properties.agent.agent_wait_timeout"

    /// bosh's default.
    public static let defaultSeconds = 600

    /// The wait the properties ask for; a value that is not a positive whole number of seconds is an error.
    public static func timeout(_ cloudProviderProperties: JSONValue) throws(DeployError) -> Duration {
        guard let value = cloudProviderProperties["agent"]?["agent_wait_timeout"], !value.isNull else {
            return .seconds(defaultSeconds)
        }
        guard let seconds = value.intValue, seconds > 0 else {
            throw DeployError(
                .manifest, "must be a positive number of seconds, not \(value)",
                at: SourceLocation(field: key))
        }
        return .seconds(seconds)
    }

    /// Waits for the agent; on a timeout, the error says the VM is still running (and billed on a paid cloud) and
    /// which command removes it.
    static func wait(
        _ agent: any AgentConnection, vmCID: String, timeout: Duration, options: EnvironmentOptions,
        cloud: (any CloudProvider)? = nil
    ) async throws {
        let failure: AgentClientError
        do {
            if let local = cloud as? any VMFileLocating {
                try await waitWatching(agent, vmCID: vmCID, timeout: timeout, cloud: local)
            } else {
                try await agent.waitUntilReady(timeout: timeout, delay: .milliseconds(50))
            }
            return
        } catch let error as AgentClientError where error.code == .timeout || error.code == .unreachable {
            failure = error
        }
        throw DeployError(
            .agent,
            "the agent on VM '\(vmCID)' did not answer within \(timeout.components.seconds) s (\(key)): "
                + "\(failure.message). The VM is still running (and billed, on a paid cloud); remove it with: "
                + removeCommand(options)
                + ((cloud as? any VMFileLocating)?.agentLog(vmCID: vmCID).map {
                    " (the agent's log on this host: \($0))"
                } ?? ""))
    }

    /// Waits for the agent while checking that the VM still runs: a VM whose init ended (its agent could not start)
    /// fails the wait at once, naming its console and the agent's log on this host, instead of after the timeout.
    static func waitWatching(
        _ agent: any AgentConnection, vmCID: String, timeout: Duration, cloud: any VMFileLocating
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.waitUntilReady(timeout: timeout, delay: .milliseconds(50)) }
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(200))
                    guard cloud.isRunning(vmCID: vmCID) == false else { continue }
                    let logs = [
                        cloud.consoleLog(vmCID: vmCID),
                        cloud.agentLog(vmCID: vmCID),
                    ].compactMap { $0 }
                    throw DeployError(
                        .agent,
                        "VM '\(vmCID)' stopped before its agent answered; read "
                            + logs.joined(separator: " and "))
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// `skiff delete-env MANIFEST [--state FILE] [-o …]` with the run's flags (variables too).
    static func removeCommand(_ options: EnvironmentOptions) -> String {
        var words = ["skiff", "delete-env", options.manifestPath]
        if let state = options.statePath { words += ["--state", state] }
        for file in options.opsFiles { words += ["-o", file] }
        let text = words.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        return text + " (with this run's -v, -l and --vars-store flags)"
    }
}
