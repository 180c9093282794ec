import ArgumentParser
import Foundation
import SkiffAgent
import SkiffCore

/// `skiff agent`: the bosh-agent HTTPS mbus protocol, for VMs the local cloud starts.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run an agent that speaks the bosh-agent HTTPS mbus protocol create-env uses.",
        discussion: """
            Reads the agent settings a CPI wrote (agent_id, mbus, blobstore, networks, disks, env), listens on \
            the mbus URL's address and port with TLS (env.bosh.mbus.cert, or a self-signed certificate) and basic \
            auth, compiles packages, lays out jobs under the root directory and supervises their monit processes.
            """
    )

    @Option(name: .long, help: "The agent settings JSON file the CPI wrote.")
    var settings: String

    @Option(name: .long, help: "The directory that stands for /var/vcap.")
    var root: String = "/var/vcap"

    func run() async throws {
        try await reportingErrors {
            let loaded = try AgentSettings.load(path: settings)
            let agent = Agent(settings: loaded, root: root) { line in
                printError("\(Date.now.ISO8601Format()) skiff agent: \(line)")
            }
            // Binding first refuses an mbus URL without credentials before any job process is touched.
            let server = try await AgentServer.bind(agent: agent)
            try await agent.restore()
            let mbus = loaded.mbus
            printError("skiff agent \(loaded.agentID) listening on \(mbus.scheme)://\(mbus.host.hostPort(server.port))")
            let serving = Task { try await server.run() }
            let sources = SignalWatcher(server: server, serving: serving).install()
            _ = try? await serving.value
            withExtendedLifetime(sources) {}
            await agent.shutdown()
        }
    }
}

/// Closes the server on SIGTERM or SIGINT so the agent stops its processes and exits.
private struct SignalWatcher: Sendable {
    let server: AgentServer
    let serving: Task<Void, any Error>

    func install() -> [any DispatchSourceSignal] {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                Task {
                    await server.close()
                    serving.cancel()
                }
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}
