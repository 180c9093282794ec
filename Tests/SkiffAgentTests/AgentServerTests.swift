import Foundation
import SkiffAgentClient
import SkiffCore
import SkiffNet
import Testing

@testable import SkiffAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct AgentServerTests {
    @Test(arguments: loopbacks)
    func pingOverTLS(host: IPAddress) async throws {
        try await AgentFixture.with(host: host) { fixture, _ in
            #expect(try await fixture.client.ping() == "pong")
            try await fixture.client.waitUntilReady(timeout: .seconds(5))
            let state = try await fixture.client.getState()
            #expect(state.jobState == "running")
            #expect(state.agentID == (await fixture.agent.settings.agentID))
            #expect(state.networks["default"]?["ip"]?.stringValue == host.description)
        }
    }

    @Test(arguments: loopbacks)
    func wrongOrMissingCredentialsGet401(host: IPAddress) async throws {
        try await AgentFixture.with(host: host) { fixture, _ in
            let wrong = try fixture.otherClient(password: "not-it", caPEM: fixture.ca.certificate)
            defer { Task { await wrong.shutdown() } }
            await #expect {
                try await wrong.ping()
            } throws: { error in
                guard let error = error as? AgentClientError else { return false }
                return error.code == .unauthorized && !error.message.contains("not-it")
            }
            let anonymous = try fixture.otherClient(user: nil, caPEM: fixture.ca.certificate)
            defer { Task { await anonymous.shutdown() } }
            await #expect {
                try await anonymous.uploadBlob(id: "x", data: Data("x".utf8))
            } throws: { ($0 as? AgentClientError)?.code == .unauthorized }
            #expect(fixture.agent.blobstore.contains("x") == false)
        }
    }

    @Test func untrustedCertificateFailsTLSWithoutRetry() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, _ in
            let (otherCA, _) = try MbusCertificates.issue(ipAddresses: [loopbacks[0]])
            let client = try fixture.otherClient(password: AgentFixture.password, caPEM: otherCA.certificate)
            defer { Task { await client.shutdown() } }
            let clock = ContinuousClock()
            let start = clock.now
            await #expect {
                try await client.waitUntilReady(timeout: .seconds(20))
            } throws: { ($0 as? AgentClientError)?.code == .tls }
            #expect(clock.now - start < .seconds(10))
            // Without a CA, verification is skipped, as bosh does when cloud_provider.cert.ca is empty.
            let skipping = try fixture.otherClient(password: AgentFixture.password, caPEM: nil)
            defer { Task { await skipping.shutdown() } }
            #expect(try await skipping.ping() == "pong")
        }
    }

    @Test(arguments: loopbacks)
    func unreachableAgentErrorNamesAddressPortAndFamily(host: IPAddress) async throws {
        // Find a port nothing listens on: bind, note the port, close.
        let agent = Agent(
            settings: AgentSettings(agentID: "a", mbus: try MbusURL(parsing: "https://m:p@[::1]:1")),
            root: "/nonexistent")
        let server = try await AgentServer.bind(
            agent: agent, mbus: MbusURL(user: "m", password: "p", host: host, port: 0), certificate: nil)
        let port = server.port
        await server.close()
        let client = try AgentClient(
            configuration: .init(mbus: MbusURL(user: "m", password: "hidden-pw", host: host, port: port), caPEM: nil))
        defer { Task { await client.shutdown() } }
        await #expect {
            try await client.waitUntilReady(timeout: .seconds(1), delay: .milliseconds(100))
        } throws: { error in
            guard let error = error as? AgentClientError else { return false }
            return error.code == .unreachable && error.message.contains(host.hostPort(port))
                && error.message.contains("(\(host.family))") && !error.message.contains("hidden-pw")
        }
    }

    @Test func unknownMethodIsAnException() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, _ in
            await #expect {
                try await fixture.client.send("no_such_method")
            } throws: { ($0 as? AgentClientError)?.isUnknownMessage == true }
        }
    }

    @Test(arguments: loopbacks)
    func blobPutAndGet(host: IPAddress) async throws {
        try await AgentFixture.with(host: host) { fixture, _ in
            let data = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await fixture.client.uploadBlob(id: "blob-1", data: data)
            #expect(try await fixture.client.downloadBlob(id: "blob-1") == data)
            let stored = fixture.root + "/micro_bosh/data/cache/blob-1"
            #expect(FileManager.default.fileExists(atPath: stored))
            await #expect {
                try await fixture.client.downloadBlob(id: "missing")
            } throws: { ($0 as? AgentClientError)?.code == .badStatus }
        }
    }

    @Test func disksAreRecordedAndListed() async throws {
        try await AgentFixture.with(host: loopbacks[1]) { fixture, _ in
            let client = fixture.client
            try await client.addPersistentDisk(cid: "disk-9", hint: "/dev/skiff-no-such-device")
            try await client.mountDisk(cid: "disk-9")
            #expect(try await client.listDisk() == ["disk-9"])
            try await client.migrateDisk()
            try await client.unmountDisk(cid: "disk-9")
            #expect(try await client.listDisk() == [])
            try await client.removePersistentDisk(cid: "disk-9")
            let saved = try String(contentsOfFile: fixture.root + "/bosh/persistent_disks.json", encoding: .utf8)
            #expect(!saved.contains("disk-9"))
        }
    }

    @Test func compilePackageRunsPackagingWithBoshEnvironment() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, _ in
            let client = fixture.client
            let dependency = try await makeTarball(["lib.txt": ("from-dep\n", false)])
            try await client.uploadBlob(id: "dep-blob", data: dependency)
            let depSHA1 = BlobDigestHelper.sha1(dependency)
            let source = try await makeTarball([
                "packaging": (
                    """
                    set -e
                    echo "name=$BOSH_PACKAGE_NAME version=$BOSH_PACKAGE_VERSION" > "$BOSH_INSTALL_TARGET/hello.txt"
                    cat "$BOSH_COMPILE_TARGET/src.txt" >> "$BOSH_INSTALL_TARGET/hello.txt"
                    cat "$BOSH_PACKAGES_DIR/dep/lib.txt" >> "$BOSH_INSTALL_TARGET/hello.txt"
                    """, false
                ),
                "src.txt": ("source-file\n", false),
            ])
            let uploaded = try await uploadFile(client, source)
            let compiled = try await client.compilePackage(
                blobstoreID: uploaded.id, sha1: uploaded.digest, name: "hello", version: "fp1",
                dependencies: ["dep": .init(name: "dep", version: "fp0", sha1: depSHA1, blobstoreID: "dep-blob")])
            #expect(compiled.sha1.count == 40)
            let result = try await client.downloadBlob(id: compiled.blobstoreID)
            #expect(BlobDigestHelper.sha1(result) == compiled.sha1)
            let unpacked = try AgentFixture.makeRoot()
            defer { try? FileManager.default.removeItem(atPath: unpacked) }
            let archive = unpacked + "/p.tgz"
            try result.write(to: URL(fileURLWithPath: archive))
            try await CommandRunner.untar(archive, into: unpacked + "/x")
            let hello = try String(contentsOfFile: unpacked + "/x/hello.txt", encoding: .utf8)
            #expect(hello == "name=hello version=fp1\nsource-file\nfrom-dep\n")

            let failing = try await makeTarball(["packaging": ("echo boom >&2; exit 3", false)])
            let bad = try await uploadFile(client, failing)
            await #expect {
                try await client.compilePackage(blobstoreID: bad.id, sha1: bad.digest, name: "bad", version: "1")
            } throws: { error in
                guard let error = error as? AgentClientError else { return false }
                return error.code == .taskFailed && error.message.contains("status 3") && error.message.contains("boom")
            }
            await #expect {
                try await client.compilePackage(blobstoreID: uploaded.id, sha1: "0000", name: "x", version: "1")
            } throws: { ($0 as? AgentClientError)?.code == .taskFailed }
        }
    }

    @Test func applyStartSuperviseRestartAndStop() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, pids in
            let client = fixture.client
            let root = fixture.root
            let pidfile = "\(root)/sys/run/demo/demo.pid"
            let monit = """
                check process demo
                  with pidfile \(pidfile)
                  start program "/bin/sh -c 'echo $$ > \(pidfile); while true; do sleep 0.2; done'"
                  stop program "/bin/sh -c 'kill $(cat \(pidfile))'"
                  group vcap
                """
            let archive = try await makeTarball([
                "demo/monit": (monit, false),
                "demo/bin/pre-start": ("#!/bin/sh\necho pre > \(root)/pre-start.ran\n", true),
                "demo/bin/post-start": ("#!/bin/sh\ntest -f \(pidfile) && echo post > \(root)/post-start.ran\n", true),
                "demo/bin/drain": (
                    "#!/bin/sh\necho \"$1 $2\" >> \(root)/drain.calls\n"
                        + "if [ \"$1\" = job_shutdown ]; then echo -1; else echo 0; fi\n", true
                ),
                "demo/config/demo.conf": ("port=80\n", false),
            ])
            let package = try await makeTarball(["bin/tool": ("#!/bin/sh\necho tool\n", true)])
            try await client.uploadBlob(id: "pkg-blob", data: package)
            let rendered = try await uploadFile(client, archive)

            // Initial apply with networks only, as create-env does first.
            try await client.apply(ApplySpec(deployment: "demo", name: "demo", job: .init(name: "demo", templates: [])))
            let spec = ApplySpec(
                deployment: "demo", name: "demo",
                packages: [
                    "tool": .init(
                        name: "tool", version: "v1", sha1: BlobDigestHelper.sha1(package),
                        blobstoreID: "pkg-blob")
                ],
                job: .init(name: "demo", templates: [.init(name: "demo", version: "j1", sha1: "", blobstoreID: "")]),
                renderedTemplatesArchive: .init(blobstoreID: rendered.id, sha1: rendered.digest))
            try await client.stop()
            #expect(try await client.apply(spec) == "applied")
            let applied = try await client.getState().raw
            #expect(applied["rendered_templates_archive"]?["blobstore_id"]?.stringValue == rendered.id)
            #expect(applied["bosh_protocol"] == JSONValue?.none)
            #expect(applied["ntp"] == JSONValue?.none)

            let fm = FileManager.default
            #expect(try fm.destinationOfSymbolicLink(atPath: "\(root)/jobs/demo") == "\(root)/data/jobs/demo/j1")
            #expect(
                try fm.destinationOfSymbolicLink(atPath: "\(root)/packages/tool") == "\(root)/data/packages/tool/v1")
            #expect(fm.fileExists(atPath: "\(root)/jobs/demo/config/demo.conf"))
            #expect(fm.isExecutableFile(atPath: "\(root)/packages/tool/bin/tool"))
            #expect(fm.fileExists(atPath: "\(root)/sys/log/demo"))
            #expect(fm.fileExists(atPath: "\(root)/sys/run/demo"))

            try await client.runScript("pre-start")
            #expect(fm.fileExists(atPath: "\(root)/pre-start.ran"))
            try await client.start()
            let running = try await eventually {
                try await client.getState().jobState == "running" && ProcessProbe.readPidfile(pidfile) != nil
            }
            #expect(running)
            let state = try await client.getState()
            #expect(state.processes == [.init(name: "demo", state: "running")])
            try await client.runScript("post-start")
            #expect(fm.fileExists(atPath: "\(root)/post-start.ran"))

            let first = try #require(ProcessProbe.readPidfile(pidfile))
            pids.record(first)
            #expect(ProcessProbe.isAlive(first))
            ProcessProbe.signal(first, SIGKILL)
            let restarted = try await eventually {
                guard let pid = ProcessProbe.readPidfile(pidfile), pid != first, ProcessProbe.isAlive(pid) else {
                    return false
                }
                pids.record(pid)
                return try await client.getState().jobState == "running"
            }
            #expect(restarted)
            let second = try #require(ProcessProbe.readPidfile(pidfile))
            #expect(second != first)

            try await client.runScript("pre-stop")
            // Dynamic drain: -1 means "ask again in 1 s with status".
            let clock = ContinuousClock()
            let drainStart = clock.now
            try await client.drain()
            #expect(clock.now - drainStart >= .seconds(1))
            let calls = try String(contentsOfFile: "\(root)/drain.calls", encoding: .utf8)
            #expect(calls == "job_shutdown hash_unchanged\njob_check_status hash_unchanged\n")
            try await client.stop()
            #expect(!ProcessProbe.isAlive(second))
            #expect(try await client.getState().jobState == "stopped")
            try await client.runScript("post-stop")
        }
    }

    @Test func failingLifecycleScriptIsATaskFailure() async throws {
        try await AgentFixture.with(host: loopbacks[1]) { fixture, _ in
            let client = fixture.client
            let archive = try await makeTarball([
                "broken/monit": ("", false),
                "broken/bin/pre-start": ("#!/bin/sh\necho nope >&2\nexit 1\n", true),
            ])
            let rendered = try await uploadFile(client, archive)
            try await client.apply(
                ApplySpec(
                    deployment: "d", name: "broken",
                    job: .init(
                        name: "broken", templates: [.init(name: "broken", version: "1", sha1: "", blobstoreID: "")]),
                    renderedTemplatesArchive: .init(blobstoreID: rendered.id, sha1: rendered.digest)))
            await #expect {
                try await client.runScript("pre-start")
            } throws: { error in
                guard let error = error as? AgentClientError else { return false }
                return error.code == .taskFailed && error.message.contains("Failed Jobs: broken")
            }
            // Scripts a job does not have are skipped.
            try await client.runScript("post-start")
        }
    }
}

private func uploadFile(_ client: AgentClient, _ data: Data) async throws -> (id: String, digest: String) {
    let directory = try AgentFixture.makeRoot()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let file = directory + "/blob"
    try data.write(to: URL(fileURLWithPath: file))
    return try await client.uploadBlob(file: file)
}

enum BlobDigestHelper {
    static func sha1(_ data: Data) -> String {
        let directory = (try? AgentFixture.makeRoot()) ?? NSTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/d"
        try? data.write(to: URL(fileURLWithPath: file))
        return (try? BlobDigest.hash(file: file, algorithm: .sha1)) ?? ""
    }
}

@Suite struct CertificateNameTests {
    @Test func certificateForAnotherAddressIsRejected() async throws {
        let (ca, leaf) = try MbusCertificates.issue(ipAddresses: [.v4(IPv4Address(bits: 0x0a00_0009))])
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let agent = Agent(
            settings: AgentSettings(agentID: "a", mbus: try MbusURL(parsing: "https://m:p@[::1]:1")), root: root)
        let server = try await AgentServer.bind(
            agent: agent, mbus: MbusURL(user: "m", password: "p", host: loopbacks[0], port: 0), certificate: leaf)
        let serving = Task { try await server.run() }
        let client = try AgentClient(
            configuration: .init(
                mbus: MbusURL(user: "m", password: "p", host: loopbacks[0], port: server.port), caPEM: ca.certificate))
        await #expect {
            try await client.ping()
        } throws: { ($0 as? AgentClientError)?.code == .tls }
        await client.shutdown()
        await server.close()
        serving.cancel()
        _ = try? await serving.value
    }
}

@Suite struct AgentRestartTests {
    @Test func restartedAgentAdoptsRunningProcesses() async throws {
        let pids = PidRecorder()
        let fixture = try await AgentFixture.start(host: loopbacks[1])
        var second: Agent?
        do {
            let pidfile = "\(fixture.root)/sys/run/demo/demo.pid"
            let monit = """
                check process demo with pidfile \(pidfile)
                  start program "/bin/sh -c 'echo $$ > \(pidfile); exec sleep 600'"
                """
            let archive = try await makeTarball(["demo/monit": (monit, false)])
            try await fixture.client.uploadBlob(id: "rendered", data: archive)
            try await fixture.client.apply(
                ApplySpec(
                    deployment: "d", name: "demo",
                    job: .init(name: "demo", templates: [.init(name: "demo", version: "1", sha1: "", blobstoreID: "")]),
                    renderedTemplatesArchive: .init(blobstoreID: "rendered", sha1: BlobDigestHelper.sha1(archive))))
            try await fixture.client.start()
            #expect(try await eventually { try await fixture.client.getState().jobState == "running" })
            let pid = try #require(ProcessProbe.readPidfile(pidfile))
            pids.record(pid)
            // The first agent dies without stopping anything; a new one on the same root takes over.
            await fixture.agent.supervisor.stopMonitoring()
            let restarted = Agent(
                settings: await fixture.agent.settings, root: fixture.root, timing: AgentFixture.timing)
            second = restarted
            try await restarted.restore()
            let state = await restarted.handle(AgentRequest(method: "get_state"))
            guard case .value(let value) = state else {
                Issue.record("get_state failed: \(state)")
                return
            }
            #expect(value["job_state"] == "running")
            #expect(value["deployment"] == "d")
            #expect(ProcessProbe.readPidfile(pidfile) == pid)
            _ = await restarted.handle(AgentRequest(method: "stop"))
            #expect(await eventually { !ProcessProbe.isAlive(pid) })
        } catch {
            await second?.shutdown()
            await fixture.stop(killing: pids.pids)
            throw error
        }
        await second?.shutdown()
        await fixture.stop(killing: pids.pids)
    }
}

@Suite struct DiskMountTests {
    @Test(.enabled(if: geteuid() == 0, "bind mounts need root"))
    func mountDiskBindMountsAnExistingDevicePathAsRoot() async throws {
        try await AgentFixture.with(host: loopbacks[0]) { fixture, _ in
            let device = fixture.root + "/skiff-fake-disk"
            try FileManager.default.createDirectory(atPath: device, withIntermediateDirectories: true)
            try Data("on-disk\n".utf8).write(to: URL(fileURLWithPath: device + "/marker"))
            let store = fixture.root + "/store"
            do {
                try await fixture.client.addPersistentDisk(cid: "disk-1", hint: ["path": .string(device)])
                try await fixture.client.mountDisk(cid: "disk-1")
                #expect(FileManager.default.fileExists(atPath: store + "/marker"))
                #expect(try await fixture.client.listDisk() == ["disk-1"])
                try await fixture.client.unmountDisk(cid: "disk-1")
                #expect(!FileManager.default.fileExists(atPath: store + "/marker"))
            } catch {
                _ = try? await CommandRunner.run("/bin/umount", [store])
                throw error
            }
        }
    }
}

@Suite struct UnspecifiedAddressTests {
    @Test func listensOnAllAddressesWithASelfSignedCertificate() async throws {
        let root = try AgentFixture.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let settings = try AgentSettings.decode(
            Data(#"{"agent_id":"any","mbus":"https://mbus:pw@[::]:6868"}"#.utf8), source: "inline")
        let agent = Agent(settings: settings, root: root)
        let listen = settings.mbus
        let server = try await AgentServer.bind(
            agent: agent, mbus: MbusURL(user: "mbus", password: "pw", host: listen.host, port: 0), certificate: nil)
        let serving = Task { try await server.run() }
        var answers: [String] = []
        for host in loopbacks {
            let client = try AgentClient(
                configuration: .init(
                    mbus: MbusURL(user: "mbus", password: "pw", host: host, port: server.port), caPEM: nil))
            answers.append((try? await client.ping()) ?? "failed")
            let payload = Data("inline blob".utf8)
            let sha1 = BlobDigestHelper.sha1(payload)
            _ = try? await client.call(
                "upload_blob", [.string("b-\(host.family)"), .string(sha1), .string(payload.base64EncodedString())])
            await client.shutdown()
        }
        await server.close()
        serving.cancel()
        _ = try? await serving.value
        #expect(answers == ["pong", "pong"])
        #expect(agent.blobstore.contains("b-IPv6") && agent.blobstore.contains("b-IPv4"))
    }
}
