import Foundation
import Testing

@testable import SkiffLocalCloud

@Suite("The built-in stemcell")
struct BuiltInStemcellTests {
    static let repositoryStemcell = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("stemcells/local")

    @Test func matchesTheRepositoryStemcellFileForFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skiff-builtin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try LocalStemcellSource.write(to: directory.path)
        let written = try String(contentsOf: directory.appendingPathComponent("stemcell.MF"), encoding: .utf8)
        #expect(
            written
                == (try String(
                    contentsOf: Self.repositoryStemcell.appendingPathComponent("stemcell.MF"), encoding: .utf8)))
        for file in LocalStemcellSource.imageFiles {
            let ours = try String(contentsOf: directory.appendingPathComponent("image/" + file.path), encoding: .utf8)
            let repository = try String(
                contentsOf: Self.repositoryStemcell.appendingPathComponent("image/" + file.path), encoding: .utf8)
            #expect(ours == repository, "image/\(file.path) differs from stemcells/local")
        }
        let repositoryFiles = try FileManager.default.subpathsOfDirectory(
            atPath: Self.repositoryStemcell.appendingPathComponent("image").path
        )
        .filter { !$0.hasSuffix("/") }
        .filter { path in
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(
                atPath: Self.repositoryStemcell.appendingPathComponent("image/" + path).path, isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue
        }
        #expect(Set(repositoryFiles) == Set(LocalStemcellSource.imageFiles.map(\.path)))
    }
}
