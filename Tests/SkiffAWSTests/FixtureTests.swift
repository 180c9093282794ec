import SkiffAWS
import Testing

@Suite("test fixtures")
struct FixtureTests {
    @Test("moto and the proxy start, answer and stop")
    func startStop() async throws {
        let server = try await MotoServer.start()
        let log = try await server.log()
        server.stop()
        #expect(log.isEmpty)
    }
}
