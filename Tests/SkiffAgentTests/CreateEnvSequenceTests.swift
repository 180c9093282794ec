import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffNet
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the agent through the calls bosh CLI 7.1.2 makes in create-env (§11.1), in that order.
@Suite struct CreateEnvSequenceTests {
    @Test(arguments: loopbacks)
    func firstDeployThenRedeploySequence(host: IPAddress) async throws {
        try await AgentFixture.with(host: host) { fixture, pids in
            let client = fixture.client
            let root = fixture.root
            let pidfile = "\(root)/sys/run/web/web.pid"

            // First deploy.
            try await client.waitUntilReady(timeout: .seconds(5), delay: .milliseconds(50))
            try await client.addPersistentDisk(cid: "disk-9", hint: "/dev/skiff-none")
            try await client.mountDisk(cid: "disk-9")
            try await client.apply(ApplySpec(deployment: "e2e", name: "web", job: .init(name: "web", templates: [])))
            let initial = try await client.getState()
            #expect(initial.networks["default"]?["ip"]?.stringValue == host.description)

            let monit = """
                check process web
                  with pidfile \(pidfile)
                  start program "\(root)/packages/server/bin/serve \(pidfile)"
                  stop program "/bin/sh -c 'kill $(cat \(pidfile))'"
                  group vcap
                """
            let rendered = try await makeTarball(["web/monit": (monit, false)])
            let renderedBlob = try await uploadData(client, rendered)
            let source = try await makeTarball([
                "packaging": (
                    """
                    mkdir -p "$BOSH_INSTALL_TARGET/bin"
                    cp serve.sh "$BOSH_INSTALL_TARGET/bin/serve"
                    chmod +x "$BOSH_INSTALL_TARGET/bin/serve"
                    """, false
                ),
                "serve.sh": (
                    """
                    #!/bin/sh
                    # Daemonises like a bosh ctl script: the loop runs in the background and owns the pidfile.
                    sh -c 'echo $$ > "$0"; while true; do sleep 0.2; done' "$1" </dev/null >/dev/null 2>&1 &
                    exit 0
                    """, false
                ),
            ])
            let sourceBlob = try await uploadData(client, source)
            let compiled = try await client.compilePackage(
                blobstoreID: sourceBlob.id, sha1: sourceBlob.digest, name: "server", version: "fp-server")
            try await client.stop()
            let spec = ApplySpec(
                deployment: "e2e", name: "web",
                packages: [
                    "server": .init(
                        name: "server", version: "fp-server", sha1: compiled.sha1, blobstoreID: compiled.blobstoreID)
                ],
                job: .init(name: "web", templates: [.init(name: "web", version: "fp-web", sha1: "", blobstoreID: "")]),
                renderedTemplatesArchive: .init(blobstoreID: renderedBlob.id, sha1: renderedBlob.digest))
            try await client.apply(spec)
            try await client.runScript("pre-start")
            try await client.start()
            let running = try await eventually { try await client.getState().jobState == "running" }
            #expect(running)
            let pid = try #require(ProcessProbe.readPidfile(pidfile))
            pids.record(pid)
            #expect(ProcessProbe.isAlive(pid))
            try await client.runScript("post-start")

            // Redeploy: the old instance is shut down first.
            try await client.waitUntilReady(timeout: .seconds(5))
            try await client.runScript("pre-stop")
            try await client.drain()
            try await client.stop()
            try await client.runScript("post-stop")
            let disks = try await client.listDisk()
            #expect(disks == ["disk-9"])
            for cid in disks { try await client.unmountDisk(cid: cid) }
            #expect(try await client.listDisk() == [])
            let stopped = try await client.getState()
            #expect(stopped.jobState == "stopped")
            #expect(!ProcessProbe.isAlive(pid))
        }
    }
}

private func uploadData(_ client: AgentClient, _ data: Data) async throws -> (id: String, digest: String) {
    let directory = try AgentFixture.makeRoot()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try data.write(to: URL(fileURLWithPath: directory + "/blob"))
    return try await client.uploadBlob(file: directory + "/blob")
}
