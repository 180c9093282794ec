import Crypto
import Foundation
import SkiffCloud
import SkiffCore

#if canImport(Glibc)
    import Glibc
#endif

/// Builds the local cloud's stemcell: a Debian root filesystem made with `mmdebstrap` from
/// ``LocalStemcellSource``'s pinned packages, with the BOSH layout, tini and an agent, in BOSH's stemcell layout
/// (`stemcell.MF` beside `image`).
///
/// The Debian part (a minute or two, once per machine) and each finished stemcell are cached under
/// ``cacheDirectory`` by a digest of everything that goes into them, so `skiff://local` costs nothing after its first
/// use and a new agent binary makes a new stemcell.
public struct LocalStemcellBuilder: Sendable {
    /// Where built parts are kept: `SKIFF_CACHE_DIR`, or `/var/cache/skiff`.
    public static var defaultCacheDirectory: String {
        ProcessInfo.processInfo.environment["SKIFF_CACHE_DIR"] ?? "/var/cache/skiff"
    }

    /// The cache directory.
    public var cacheDirectory: String
    /// The agent executable put in the image (skiff itself, which runs as `skiff agent`).
    public var agentExecutable: String
    /// A real bosh-agent binary to put in the image instead of skiff's agent, with what a BOSH stemcell gives it
    /// (runit, monit, the helper scripts, `agent.json` reading settings from instance metadata); nil for skiff's.
    public var boshAgent: String?
    /// Called with a line of progress now and then.
    public var progress: @Sendable (String) -> Void

    /// Creates a builder; `agentExecutable` defaults to this very program.
    public init(
        cacheDirectory: String = LocalStemcellBuilder.defaultCacheDirectory, agentExecutable: String? = nil,
        boshAgent: String? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.cacheDirectory = cacheDirectory
        self.agentExecutable = agentExecutable ?? Self.currentExecutable
        self.boshAgent = boshAgent
        self.progress = progress
    }

    /// This process's executable.
    public static var currentExecutable: String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return CommandLine.arguments[0]
        }
        // A binary rebuilt while this process runs: the path names the new one.
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }

    /// The stemcell as a directory (`stemcell.MF`, `image/`), built if the cache does not have it; its root already
    /// belongs to VM ids, so the local cloud uses it in place.
    public func cachedStemcell() async throws(CloudError) -> String {
        // The stemcell last built for this very executable (same path, size and time), without running ldd.
        let index = cacheDirectory + "/stemcells/.agent-" + digest(executableStamp()).prefix(16)
        if let known = try? String(contentsOfFile: index, encoding: .utf8), Self.isComplete(known) {
            return known
        }
        let inputs = try await agentInputs()
        let key = try stemcellKey(inputs)
        let directory = cacheDirectory + "/stemcells/" + key
        if Self.isComplete(directory) {
            try? Files.write(directory, to: index, mode: 0o600)
            return directory
        }
        // One build at a time per cache; whoever waited finds the stemcell made.
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        if Self.isComplete(directory) { return directory }
        let work = try await assemble(inputs, key: key)
        defer { Files.remove(work) }
        try Files.makeDirectory(cacheDirectory + "/stemcells", mode: 0o700)
        try LocalStemcellImage.shift(work + "/stemcell/image")
        Mounts.detachAll(under: directory)
        Files.remove(directory)
        guard rename(work + "/stemcell", directory) == 0 else {
            throw CloudError.cloud(
                "cannot move the built stemcell into '\(directory)': \(String(cString: strerror(errno)))")
        }
        pruneStemcells(keeping: key)
        try? Files.write(directory, to: index, mode: 0o600)
        return directory
    }

    /// Writes the stemcell tarball to `output` (BOSH's layout: `stemcell.MF` and `image`, a gzipped tarball of the
    /// image directory) and returns its path.
    @discardableResult
    public func build(output: String) async throws(CloudError) -> String {
        let inputs = try await agentInputs()
        let key = try stemcellKey(inputs)
        let held = try await lock()
        defer { withExtendedLifetime(held) {} }
        let work = try await assemble(inputs, key: key)
        defer { Files.remove(work) }
        progress("Packing the stemcell into \(output)")
        let tar = try tool("tar", package: "tar")
        let common = ["--numeric-owner", "--sort=name", "--mtime=@" + LocalStemcellSource.sourceDateEpoch]
        let packed = try await ProcessRunner.run(
            ProcessCommand(
                tar, common + ["-I", "gzip -n -1", "-cf", work + "/image", "-C", work + "/stemcell/image", "."],
                environment: ["PATH": HostTools.defaultPath]))
        guard packed.status == 0 else { throw CloudError.cloud("packing the image failed: \(packed.stderrText)") }
        let temporary = output + ".skiff-tmp"
        let stemcell = try await ProcessRunner.run(
            tar,
            common + ["-czf", temporary, "-C", work, "--transform", "s,^stemcell/,,", "stemcell/stemcell.MF", "image"])
        guard stemcell.status == 0, rename(temporary, output) == 0 else {
            Files.remove(temporary)
            throw CloudError.cloud("writing '\(output)' failed: \(stemcell.stderrText)")
        }
        return output
    }

    /// True if `directory` is a finished cached stemcell.
    static func isComplete(_ directory: String) -> Bool {
        directory.hasPrefix("/") && LocalStemcellImage.isShifted(directory + "/image")
            && Files.exists(directory + "/stemcell.MF")
    }

    /// The agent executable's path, size and modification time, with the recipe's digest (the Debian part and the
    /// files the build adds: a bosh-agent binary stays the same when a new skiff changes those) and which agent it is.
    func executableStamp() -> String {
        var info = stat()
        let executable = boshAgent ?? agentExecutable
        stat(executable, &info)
        let agent = boshAgent == nil ? "skiff" : "bosh-agent"
        return "\(baseKey)\n\(digest(addedFiles))\n\(agent) \(executable) \(info.st_size) "
            + "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// The files and links the build adds to the Debian root, as one text for digests.
    var addedFiles: String {
        imageFiles.map { $0.path + "\n" + $0.content }.joined()
            + (boshAgent == nil ? "" : LocalStemcellSource.boshAgentLinks.map { $0.path + " " + $0.target }.joined())
    }

    /// The files the build adds to `image/`, for the agent it puts in.
    var imageFiles: [(path: String, content: String)] {
        boshAgent == nil ? LocalStemcellSource.imageFiles : LocalStemcellSource.boshAgentImageFiles
    }

    func lock() async throws(CloudError) -> StateLock {
        try Files.makeDirectory(cacheDirectory, mode: 0o700)
        return try await StateLock.acquire(cacheDirectory + "/build.lock")
    }

    // MARK: the Debian root filesystem

    /// The digest of everything the Debian part is made from.
    var baseKey: String {
        digest(
            [
                LocalStemcellSource.recipeVersion, LocalStemcellSource.suite,
                LocalStemcellSource.packages.joined(separator: ","), LocalStemcellSource.packagesLock,
                LocalStemcellSource.customize,
            ].joined(separator: "\n"))
    }

    /// The Debian root filesystem as a tarball, made with mmdebstrap the first time.
    func baseTarball() async throws(CloudError) -> String {
        let path = cacheDirectory + "/base-\(baseKey.prefix(16)).tar"
        if Files.exists(path) { return path }
        let mmdebstrap = try tool("mmdebstrap", package: "mmdebstrap")
        try Files.makeDirectory(cacheDirectory, mode: 0o700)
        let temporary = path + ".tmp"
        let log = cacheDirectory + "/mmdebstrap.log"
        let listing = cacheDirectory + "/base-packages.txt"
        defer { Files.remove(temporary) }
        let started = ContinuousClock.now
        var pinned = true
        var result = try await runMmdebstrap(mmdebstrap, output: temporary, log: log, listing: listing, pinned: true)
        if result.status != 0, Self.lastLines(log).contains("apt-get") {
            // apt could not install the pinned set: Debian replaced some versions (security updates).
            progress("Debian no longer serves the pinned set of packages; building with the mirror's current ones")
            pinned = false
            result = try await runMmdebstrap(mmdebstrap, output: temporary, log: log, listing: listing, pinned: false)
        }
        guard result.status == 0 else {
            throw CloudError.cloud(
                "mmdebstrap failed (exit \(result.status)); see \(log): \(Self.lastLines(log).suffix(300))")
        }
        let built = (try? String(contentsOfFile: listing, encoding: .utf8)) ?? ""
        let drift = Self.difference(locked: LocalStemcellSource.packagesLock, built: built)
        if !drift.isEmpty {
            progress(
                "note: \(drift.count) package(s) differ from stemcells/local/packages.lock"
                    + (pinned ? "" : " (Debian updated them)") + ": " + drift.prefix(5).joined(separator: ", ")
                    + "; the image's own list is " + listing)
        }
        guard rename(temporary, path) == 0 else {
            throw CloudError.cloud("cannot move the Debian root filesystem into '\(path)'")
        }
        let seconds = (ContinuousClock.now - started).components.seconds
        progress("Debian \(LocalStemcellSource.suite) root filesystem built in \(seconds) s (cached in \(path))")
        return path
    }

    private func runMmdebstrap(
        _ program: String, output: String, log: String, listing: String, pinned: Bool
    ) async throws(CloudError) -> ProcessOutput {
        let includes = pinned ? LocalStemcellSource.pins : LocalStemcellSource.packages
        var arguments = [
            "--variant=minbase", "--mode=root", "--format=tar", "--include=" + includes.joined(separator: ","),
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--customize-hook=" + LocalStemcellSource.customize,
            "--customize-hook=chroot \"$1\" dpkg-query -W -f='${Package} ${Version}\\n' | sort > "
                + Naming.shellQuote(listing),
            LocalStemcellSource.suite, output,
        ]
        arguments += Self.mirrors()
        progress(
            "Building the Debian \(LocalStemcellSource.suite) root filesystem with mmdebstrap "
                + "(\(includes.count) packages; about two minutes, once)")
        let environment = [
            "PATH": HostTools.defaultPath, "SOURCE_DATE_EPOCH": LocalStemcellSource.sourceDateEpoch,
            "LC_ALL": "C.UTF-8",
            "TMPDIR": cacheDirectory,
        ]
        Files.remove(log)
        let command = ProcessCommand(
            program, arguments, environment: environment, stdout: .file(log, append: true, mode: 0o600),
            stderr: .standardOutput, timeout: .seconds(1800))
        let report = progress
        let watcher = Task {
            var last = ""
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                let line = Self.lastLines(log).split(separator: "\n").last(where: { $0.hasPrefix("I: ") }).map(
                    String.init)
                if let line, line != last {
                    last = line
                    report("  mmdebstrap: " + line.dropFirst(3))
                }
            }
        }
        defer { watcher.cancel() }
        return try await ProcessRunner.run(command)
    }

    /// `deb` lines for the Debian mirror this machine uses (its apt sources), or deb.debian.org.
    static func mirrors() -> [String] {
        var main = "http://deb.debian.org/debian"
        var security = "http://deb.debian.org/debian-security"
        var texts: [String] = []
        let directory = "/etc/apt/sources.list.d"
        for name in Files.list(directory) where name.hasSuffix(".sources") || name.hasSuffix(".list") {
            texts.append((try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "")
        }
        texts.append((try? String(contentsOfFile: "/etc/apt/sources.list", encoding: .utf8)) ?? "")
        for text in texts {
            for word in text.split(whereSeparator: { $0.isWhitespace }) where word.hasPrefix("http") {
                let uri = String(word).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                if uri.hasSuffix("/debian-security") {
                    security = uri
                } else if uri.hasSuffix("/debian") {
                    main = uri
                }
            }
        }
        let suite = LocalStemcellSource.suite
        return [
            "deb \(main) \(suite) main", "deb \(main) \(suite)-updates main",
            "deb \(security) \(suite)-security main",
        ]
    }

    static func lastLines(_ path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// Lines of `built` (`name version`) that differ from the lock, as `name locked → built`.
    static func difference(locked: String, built: String) -> [String] {
        func table(_ text: String) -> [String: String] {
            var result: [String: String] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let fields = line.split(separator: " ")
                if fields.count == 2 { result[String(fields[0])] = String(fields[1]) }
            }
            return result
        }
        let old = table(locked)
        let new = table(built)
        return Set(old.keys).union(new.keys).sorted().compactMap { name in
            old[name] == new[name] ? nil : "\(name) \(old[name] ?? "-") → \(new[name] ?? "-")"
        }
    }

    // MARK: the agent and the image

    /// The agent executable and the libraries it needs that a Debian image lacks (the Swift runtime).
    struct AgentInputs {
        var executable: String
        var libraries: [String]
        var digest: String
    }

    func agentInputs() async throws(CloudError) -> AgentInputs {
        if let boshAgent {
            // bosh-agent is a static Go binary: it needs no library, and its content names it.
            guard let data = FileManager.default.contents(atPath: boshAgent) else {
                throw CloudError.cloud("the bosh-agent binary '\(boshAgent)' does not exist or cannot be read")
            }
            guard data.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else {
                throw CloudError.cloud(
                    "'\(boshAgent)' is not a Linux executable (ELF); --agent names a bosh-agent binary")
            }
            let sum = Hex.string(SHA256.hash(data: data))
            return AgentInputs(executable: boshAgent, libraries: [], digest: digest("bosh-agent " + sum))
        }
        guard Files.exists(agentExecutable) else {
            throw CloudError.cloud("the agent executable '\(agentExecutable)' does not exist")
        }
        var libraries: [String] = []
        if let ldd = ProcessRunner.find("ldd", path: HostTools.defaultPath) {
            let output = try await ProcessRunner.run(ldd, [agentExecutable])
            for line in output.stdoutText.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard let arrow = parts.firstIndex(of: "=>"), arrow + 1 < parts.count else { continue }
                let path = String(parts[arrow + 1])
                if path.hasPrefix("/") { libraries.append(path) }
            }
        }
        var stamps = ""
        for file in [agentExecutable] + libraries.sorted() {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            // Size and modification time stand in for content: hashing a debug build's 200 MB on every deploy
            // would cost more than it protects against.
            stamps += "\(file) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n"
        }
        return AgentInputs(executable: agentExecutable, libraries: libraries, digest: digest(stamps))
    }

    func stemcellKey(_ inputs: AgentInputs) throws(CloudError) -> String {
        String(
            digest(
                [baseKey, inputs.digest, addedFiles].joined(separator: "\n")
            ).prefix(16))
    }

    /// Extracts the Debian root filesystem into a work directory and adds the image files and the agent; returns the
    /// work directory, whose `stemcell/` holds `stemcell.MF` and `image/`.
    func assemble(_ inputs: AgentInputs, key: String) async throws(CloudError) -> String {
        let base = try await baseTarball()
        let work = cacheDirectory + "/.building-" + Naming.randomID()
        let image = work + "/stemcell/image"
        let root = image + "/root"
        try Files.makeDirectory(root)
        progress("Assembling the stemcell image (Debian root filesystem, tini, the agent)")
        do {
            let tar = try tool("tar", package: "tar")
            let extracted = try await ProcessRunner.run(
                tar,
                ["-xf", base, "-C", root, "--same-owner", "--same-permissions", "--numeric-owner", "--exclude=./dev/*"])
            guard extracted.status == 0 else {
                throw CloudError.cloud("extracting '\(base)' failed: \(extracted.stderrText)")
            }
            for file in imageFiles {
                try Files.makeDirectory((image + "/" + file.path as NSString).deletingLastPathComponent)
                try Files.write(
                    file.content, to: image + "/" + file.path, mode: LocalStemcellSource.mode(of: file.path))
            }
            if boshAgent != nil {
                try addBoshAgent(inputs.executable, root: root)
            } else {
                try await addSkiffAgent(inputs, root: root)
            }
            let version = "0.2.\(LocalStemcellSource.recipeVersion)-\(key.prefix(8))"
            var manifest = LocalStemcellSource.manifestTemplate.replacingOccurrences(of: "VERSION", with: version)
            if boshAgent != nil {
                manifest = manifest.replacingOccurrences(
                    of: LocalStemcellSource.name, with: LocalStemcellSource.boshAgentName)
            }
            try Files.write(manifest, to: work + "/stemcell/stemcell.MF")
            return work
        } catch let error as CloudError {
            Files.remove(work)
            throw error
        } catch {
            Files.remove(work)
            throw CloudError.cloud("assembling the stemcell failed: \(error)")
        }
    }

    /// Puts skiff's agent in `root`: this binary, stripped, and the libraries the image lacks.
    func addSkiffAgent(_ inputs: AgentInputs, root: String) async throws(CloudError) {
        let binary = root + "/var/vcap/bosh/bin/skiff"
        if let strip = ProcessRunner.find("strip", path: HostTools.defaultPath),
            (try? await ProcessRunner.run(strip, ["-o", binary, inputs.executable]))?.status == 0
        {
            chmod(binary, 0o755)
        } else {
            try Files.copyTree(inputs.executable, to: binary)
        }
        // The libraries the image lacks (the Swift runtime, and Debian libraries such as libxml2 that the
        // Foundation it was built with links) go to the agent's own library directory.
        for library in inputs.libraries where !Files.existsNoFollow(root + library) {
            let resolved =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: library))
                .map { $0.hasPrefix("/") ? $0 : (library as NSString).deletingLastPathComponent + "/" + $0 }
                ?? library
            try Files.copyTree(resolved, to: root + "/var/vcap/bosh/lib/" + (library as NSString).lastPathComponent)
        }
    }

    /// Puts the bosh-agent binary and the stemcell's links (runit's services, resolvconf's `resolv.conf`) in `root`.
    func addBoshAgent(_ executable: String, root: String) throws(CloudError) {
        let binary = root + LocalStemcellSource.boshAgentPath
        Files.remove(binary)
        try Files.copyTree(executable, to: binary)
        chmod(binary, 0o755)
        // Debian's runit points /etc/service at its own runsvdir levels; a stemcell's is a plain directory.
        if Files.isSymlink(root + "/etc/service") { unlink(root + "/etc/service") }
        for link in LocalStemcellSource.boshAgentLinks {
            let path = root + "/" + link.path
            try Files.makeDirectory((path as NSString).deletingLastPathComponent)
            unlink(path)
            guard symlink(link.target, path) == 0 else {
                throw CloudError.cloud("cannot link '\(path)' to '\(link.target)': \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Removes cached stemcells other than the newest few.
    func pruneStemcells(keeping key: String) {
        let directory = cacheDirectory + "/stemcells"
        let entries = Files.list(directory).filter { $0 != key }.map { name -> (String, Int) in
            var info = stat()
            stat(directory + "/" + name, &info)
            return (name, info.st_mtim.tv_sec)
        }.sorted { $0.1 > $1.1 }
        // A stemcell some local cloud uses in place is kept whatever its age.
        for (name, _) in entries.dropFirst(2) where !LocalStemcellImage.isHeld(directory + "/" + name) {
            Files.remove(directory + "/" + name)
        }
    }

    func tool(_ name: String, package: String) throws(CloudError) -> String {
        guard let path = ProcessRunner.find(name, path: HostTools.defaultPath) else {
            throw CloudError.cloud(
                "building the stemcell needs '\(name)' (Debian package \(package)), which is not on PATH")
        }
        return path
    }

    func digest(_ text: String) -> String {
        Hex.string(SHA256.hash(data: Data(text.utf8)))
    }
}
