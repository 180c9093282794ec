import Foundation
import SkiffCloud
import SkiffNet
import Testing

@testable import SkiffLocalCloud

/// What create-env checks on the local cloud before its first change, in the local cloud's own words.
@Suite("The local cloud's preflight")
struct LocalPreflightTests {
    func network(_ ip: String, _ netmask: String) throws -> [String: CPINetwork] {
        let address = try #require(IPAddress(ip))
        let mask = try #require(IPAddress(netmask))
        return ["private-ipv6": CPINetwork(ip: address, netmask: mask)]
    }

    @Test func refusesToRunWithoutRootBeforeAnythingElse() async throws {
        let cloud = LocalCloud(
            config: LocalCloudConfig(stateDirectory: "/nonexistent/skiff-preflight"), effectiveUserID: 1000)
        await #expect {
            try await cloud.preflight(networks: try network("fd53::4", "ffff:ffff:ffff:ffff::"), cloudProperties: [:])
        } throws: { "\($0)".contains("needs root") }
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent/skiff-preflight"))
    }

    @Test func aNon64IPv6SubnetIsRefusedInTheLocalCloudsWords() throws {
        #expect {
            try NetworkPlan(networks: try network("fd53:6b69:6666:1::4", "ffff:ffff:ffff:ffff:ffff::"))
        } throws: { error in
            let text = "\(error)"
            return text.contains("must be a /64 on the local cloud") && text.contains("/80") && !text.contains("AWS")
        }
    }

    @Test func theCapabilitiesSayNoDiskMigration() {
        #expect(LocalCloud().capabilities.migratesDisks == false)
    }
}
