import Foundation
import Testing

@testable import SkiffDeploy

@Suite("Releases")
struct ReleaseTests {
    static let exampleRelease = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/nginx-ipv6/release")

    func workDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-release-test-\(UUID().uuidString)")
    }

    @Test func readsTheExampleReleaseDirectory() throws {
        let work = workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let release = try ReleaseReader.read(at: Self.exampleRelease, workDirectory: work)
        #expect(release.name == "nginx-ipv6")
        #expect(release.version.hasPrefix("0+dev."))
        #expect(Set(release.jobs.keys) == ["enable_ipv6", "dhclient_ipv6", "dhcpcd_ipv6", "nginx"])
        #expect(Set(release.packages.keys) == ["nginx"])
        let again = try ReleaseReader.read(at: Self.exampleRelease, workDirectory: work)
        #expect(again.version == release.version)
        #expect(again.jobs["nginx"]?.fingerprint == release.jobs["nginx"]?.fingerprint)
    }

    @Test func buildsPackagesAndReadsTheTarballItMakes() throws {
        let work = workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let root = work.appendingPathComponent("src-release")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("packages/hello"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("src/hello/lib"), withIntermediateDirectories: true)
        try fm.createDirectory(
            at: root.appendingPathComponent("jobs/greeter/templates"), withIntermediateDirectories: true)
        try "name: hello\ndependencies: []\nfiles: [hello/**/*]\n".write(
            to: root.appendingPathComponent("packages/hello/spec"), atomically: true, encoding: .utf8)
        try "cp -r hello/* $BOSH_INSTALL_TARGET/\n".write(
            to: root.appendingPathComponent("packages/hello/packaging"), atomically: true, encoding: .utf8)
        try "echo hi\n".write(
            to: root.appendingPathComponent("src/hello/lib/hello.sh"), atomically: true, encoding: .utf8)
        try "name: greeter\ntemplates: {}\npackages: [hello]\n".write(
            to: root.appendingPathComponent("jobs/greeter/spec"), atomically: true, encoding: .utf8)
        try "".write(to: root.appendingPathComponent("jobs/greeter/monit"), atomically: true, encoding: .utf8)
        try "name: greetings\n".write(
            to: root.appendingPathComponent("config-final.yml"), atomically: true, encoding: .utf8)

        let release = try ReleaseReader.read(at: root, workDirectory: work.appendingPathComponent("out"))
        let package = try #require(release.packages["hello"])
        #expect(package.sha1.count == 40)
        #expect(release.jobs["greeter"]?.packages == ["hello"])
        let listing = try Self.tarListing(package.archive)
        #expect(listing.contains("./packaging") && listing.contains("./hello/lib/hello.sh"))

        try "files: [missing/*]\nname: hello\n".write(
            to: root.appendingPathComponent("packages/hello/spec"), atomically: true, encoding: .utf8)
        #expect {
            try ReleaseReader.read(at: root, workDirectory: work.appendingPathComponent("out2"))
        } throws: { "\($0)".contains("no file matches 'missing/*'") }
    }

    @Test func readsAReleaseTarball() throws {
        let work = workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let fm = FileManager.default
        let job = work.appendingPathComponent("job")
        try fm.createDirectory(at: job.appendingPathComponent("templates"), withIntermediateDirectories: true)
        try "name: greeter\ntemplates: {ctl.erb: bin/ctl}\npackages: [hello]\n".write(
            to: job.appendingPathComponent("job.MF"), atomically: true, encoding: .utf8)
        try "".write(to: job.appendingPathComponent("monit"), atomically: true, encoding: .utf8)
        try "echo <%= 1 + 1 %>\n".write(
            to: job.appendingPathComponent("templates/ctl.erb"), atomically: true, encoding: .utf8)
        let package = work.appendingPathComponent("package")
        try fm.createDirectory(at: package, withIntermediateDirectories: true)
        try "true\n".write(to: package.appendingPathComponent("packaging"), atomically: true, encoding: .utf8)
        let tarRoot = work.appendingPathComponent("tar")
        try fm.createDirectory(at: tarRoot.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        try fm.createDirectory(at: tarRoot.appendingPathComponent("packages"), withIntermediateDirectories: true)
        try Archive.create(
            tarRoot.appendingPathComponent("jobs/greeter.tgz"), from: job,
            entries: ["job.MF", "monit", "templates/ctl.erb"])
        try Archive.create(tarRoot.appendingPathComponent("packages/hello.tgz"), from: package, entries: ["packaging"])
        try """
        name: greetings
        version: "7.1"
        jobs:
        - {name: greeter, version: abc, fingerprint: abc, sha1: x, packages: [hello]}
        packages:
        - {name: hello, version: def, fingerprint: def, sha1: 0123456789abcdef0123456789abcdef01234567, dependencies: []}

        """.write(to: tarRoot.appendingPathComponent("release.MF"), atomically: true, encoding: .utf8)
        let tarball = work.appendingPathComponent("greetings-7.1.tgz")
        try Archive.create(tarball, from: tarRoot, entries: ["release.MF", "jobs/greeter.tgz", "packages/hello.tgz"])

        let release = try ReleaseReader.read(at: tarball, workDirectory: work.appendingPathComponent("out"))
        #expect(release.name == "greetings")
        #expect(release.version == "7.1")
        let greeter = try #require(release.jobs["greeter"])
        #expect(greeter.fingerprint == "abc")
        #expect(greeter.packages == ["hello"])
        #expect(fm.fileExists(atPath: greeter.directory.appendingPathComponent("templates/ctl.erb").path))
        #expect(release.packages["hello"]?.sha1 == "0123456789abcdef0123456789abcdef01234567")
        #expect(release.packages["hello"]?.fingerprint == "def")
    }

    @Test func missingReleaseAndNonReleaseTarball() throws {
        let work = workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        #expect { try ReleaseReader.read(at: URL(fileURLWithPath: "/nonexistent/rel"), workDirectory: work) } throws: {
            "\($0)" == "/nonexistent/rel: release not found"
        }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let empty = work.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let tarball = work.appendingPathComponent("not-a-release.tgz")
        try Archive.create(tarball, from: empty, entries: [])
        #expect { try ReleaseReader.read(at: tarball, workDirectory: work.appendingPathComponent("x")) } throws: {
            "\($0)".contains("it has no release.MF")
        }
    }

    @Test(
        "globs as package specs use them",
        arguments: [
            ("hello/*", "hello/a.sh", true), ("hello/*", "hello/lib/a.sh", false),
            ("hello/**/*", "hello/lib/a.sh", true),
            ("hello/**/*", "hello/a.sh", true), ("*.tgz", "x.tgz", true), ("a?c", "abc", true), ("a?c", "ac", false),
        ])
    func globs(pattern: String, path: String, matches: Bool) {
        #expect(Glob.matches(pattern, path) == matches)
    }

    static func tarListing(_ archive: URL) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-tzf", archive.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
