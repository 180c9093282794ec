import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Whole-file writes that never leave a half-written file: a temporary file beside the target created with the
/// final mode (so a secret is never readable by others, not even for a moment), written, fsynced, renamed over
/// the target, and the directory fsynced so the rename survives a power cut.
public enum AtomicFile {
    /// Replaces the file at `path` with `data`, with permissions `mode`. `createDirectories` makes missing parent
    /// directories (0755) first. A failure leaves the old file as it was and no temporary file behind.
    public static func write(
        _ data: Data, to path: String, mode: UInt32 = 0o644, createDirectories: Bool = false
    ) throws(CloudError) {
        let target = (path as NSString).expandingTildeInPath
        let directory =
            (target as NSString).deletingLastPathComponent.isEmpty
            ? "." : (target as NSString).deletingLastPathComponent
        func failure(_ step: String, _ code: Int32 = errno) -> CloudError {
            CloudError.cloud("cannot write '\(path)': \(step): \(String(cString: strerror(code)))")
        }
        if createDirectories, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw CloudError.cloud("cannot create directory '\(directory)': \(error.localizedDescription)")
            }
        }
        let name = (target as NSString).lastPathComponent
        let temporary = "\(directory)/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else { throw failure("creating a temporary file") }
        var problem: CloudError?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    problem = failure("writing")
                    return
                }
                offset += written
            }
        }
        // The umask may have taken bits away at open; set exactly the mode asked for.
        if problem == nil && fchmod(descriptor, mode_t(mode)) != 0 { problem = failure("setting its mode") }
        if problem == nil && fsync(descriptor) != 0 { problem = failure("syncing") }
        close(descriptor)
        if problem == nil && rename(temporary, target) != 0 { problem = failure("renaming into place") }
        if let problem {
            unlink(temporary)
            throw problem
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Replaces the file at `path` with `text` as UTF-8.
    public static func write(
        _ text: String, to path: String, mode: UInt32 = 0o644, createDirectories: Bool = false
    ) throws(CloudError) {
        try write(Data(text.utf8), to: path, mode: mode, createDirectories: createDirectories)
    }
}
