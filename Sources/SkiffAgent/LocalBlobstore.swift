import Foundation
import SkiffCore

/// The agent's own blobstore: a directory of files named by blob id, served at `/blobs/…` on the mbus endpoint.
public struct LocalBlobstore: Sendable {
    /// The directory holding the blobs.
    public let directory: String

    /// Creates a blobstore over `directory` (created on first write).
    public init(directory: String) {
        self.directory = directory
    }

    /// Checks a blob id: letters, digits, `-`, `_`, `.`, not starting with a dot.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 200 && !id.hasPrefix(".")
            && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// The path a blob is (or would be) stored at.
    public func path(for id: String) throws(AgentError) -> String {
        guard Self.isValidID(id) else { throw AgentError(.invalidArguments, "invalid blob id '\(id)'") }
        return (directory as NSString).appendingPathComponent(id)
    }

    /// Whether a blob exists.
    public func contains(_ id: String) -> Bool {
        guard let path = try? path(for: id) else { return false }
        return FileManager.default.fileExists(atPath: path)
    }

    /// Stores bytes under `id` (write to a temp file, then rename).
    public func put(_ id: String, data: Data) throws(AgentError) {
        let target = try path(for: id)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temp = target + ".part-\(UUID().uuidString)"
            try data.write(to: URL(fileURLWithPath: temp))
            _ = try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.moveItem(atPath: temp, toPath: target)
        } catch {
            throw AgentError(.io, "cannot store blob '\(id)': \(error.localizedDescription)")
        }
    }

    /// Moves a file into the store under a new random id; returns the id and the file's SHA-1.
    public func add(file: String) throws(AgentError) -> (id: String, sha1: String) {
        let id = UUID().uuidString.lowercased()
        let target = try path(for: id)
        let sha1 = try BlobDigest.hash(file: file, algorithm: .sha1)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: file, toPath: target)
        } catch {
            throw AgentError(.io, "cannot store blob '\(id)': \(error.localizedDescription)")
        }
        return (id, sha1)
    }

    /// The bytes of a blob.
    public func get(_ id: String) throws(AgentError) -> Data {
        let source = try path(for: id)
        guard let data = FileManager.default.contents(atPath: source) else {
            throw AgentError(.blobNotFound, "blob '\(id)' not found")
        }
        return data
    }

    /// The path of an existing blob, checked against `digest` when one is given.
    public func verifiedPath(_ id: String, digest: String?) throws(AgentError) -> String {
        let source = try path(for: id)
        guard FileManager.default.fileExists(atPath: source) else {
            throw AgentError(.blobNotFound, "blob '\(id)' not found in the agent blobstore")
        }
        if let digest, !digest.isEmpty {
            try BlobDigest(parsing: digest).verify(file: source, blob: id)
        }
        return source
    }

    /// Starts writing blob `id` piece by piece; `commit()` makes it visible, `abort()` drops it.
    public func beginUpload(_ id: String) throws(AgentError) -> BlobUpload {
        let target = try path(for: id)
        let temp = target + ".part-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: temp, contents: nil) else {
                throw AgentError(.io, "cannot create '\(temp)'")
            }
            return BlobUpload(
                id: id, target: target, temp: temp, handle: try FileHandle(forWritingAtPath: temp).orThrow())
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.io, "cannot store blob '\(id)': \(error.localizedDescription)")
        }
    }
}

/// A blob being written to the blobstore in pieces (an HTTP PUT body as it arrives).
public final class BlobUpload {
    /// The blob id.
    public let id: String
    let target: String
    let temp: String
    let handle: FileHandle
    private(set) var failure: AgentError?

    init(id: String, target: String, temp: String, handle: FileHandle) {
        self.id = id
        self.target = target
        self.temp = temp
        self.handle = handle
    }

    /// Appends bytes; after a failure further writes are ignored and `commit()` reports it.
    public func write(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        do {
            try handle.write(contentsOf: Data(bytes))
        } catch {
            failure = AgentError(.io, "cannot store blob '\(id)': \(error.localizedDescription)")
        }
    }

    /// Finishes the blob: closes it and renames it into place.
    public func commit() throws(AgentError) {
        try? handle.close()
        if let failure {
            try? FileManager.default.removeItem(atPath: temp)
            throw failure
        }
        _ = try? FileManager.default.removeItem(atPath: target)
        do {
            try FileManager.default.moveItem(atPath: temp, toPath: target)
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw AgentError(.io, "cannot store blob '\(id)': \(error.localizedDescription)")
        }
    }

    /// Drops the partial blob.
    public func abort() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: temp)
    }
}

extension Optional where Wrapped == FileHandle {
    func orThrow() throws(AgentError) -> FileHandle {
        guard let handle = self else { throw AgentError(.io, "cannot open a file for writing") }
        return handle
    }
}
