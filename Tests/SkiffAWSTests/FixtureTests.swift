import Foundation
import SkiffAWS
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("test fixtures")
struct FixtureTests {
    @Test("moto and the proxy start, answer, and are gone after stop")
    func startStop() async throws {
        let server = try await MotoServer.start()
        let pids = server.pids
        let log = try await server.log()
        _ = try await server.client().describeVpcs()
        let logged = try await server.log().map(\.action)
        server.stop()
        #expect(log.isEmpty)
        #expect(logged == ["DescribeVpcs"])
        for pid in pids {
            // The shell exec'd into python, so the PID is the server's own; after stop it is reaped.
            #expect(kill(pid, 0) != 0, "process \(pid) is still running")
        }
    }
}
