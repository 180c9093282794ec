import ArgumentParser
import Foundation
import SkiffCloud
import SkiffLocalCloud

/// `skiff stemcell`: stemcells for the local cloud.
struct StemcellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stemcell",
        abstract: "Build the local cloud's stemcell (a Debian bookworm root filesystem with the agent).",
        subcommands: [StemcellBuild.self, StemcellRecipe.self]
    )
}

/// `skiff stemcell build`: the local cloud's stemcell, as a tarball in BOSH's layout or into the cache
/// `skiff://local` uses.
struct StemcellBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the local cloud's stemcell from pinned Debian packages with mmdebstrap (needs root).",
        discussion: """
            Without --output the stemcell goes into the cache that 'stemcell: {url: skiff://local}' uses \
            (SKIFF_CACHE_DIR, default /var/cache/skiff), and its directory is printed. The Debian part is built \
            once per machine and cached; the agent is this skiff binary, or with --agent a real bosh-agent binary \
            started by runit beside monit, as on a BOSH stemcell, reading its settings from instance metadata.
            """
    )

    @Option(name: .shortAndLong, help: "Write the stemcell tarball (stemcell.MF + image) to this file.")
    var output: String?

    @Option(help: "The cache directory (default: SKIFF_CACHE_DIR, else /var/cache/skiff).")
    var cacheDir: String?

    @Option(help: "Put this bosh-agent binary in the stemcell instead of skiff's agent.")
    var agent: String?

    func run() async throws {
        let started = ContinuousClock.now
        let builder = LocalStemcellBuilder(
            cacheDirectory: cacheDir ?? LocalStemcellBuilder.defaultCacheDirectory,
            boshAgent: agent.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 },
            progress: { line in printError(line) })
        let result = try await reportingErrors { () async throws(CloudError) -> String in
            guard geteuid() == 0 else {
                throw CloudError.cloud("building a stemcell needs root (mmdebstrap, and files owned by the VM's users)")
            }
            if let output {
                let absolute = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
                return try await builder.build(output: absolute)
            }
            return try await builder.cachedStemcell()
        }
        let seconds =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        printError(String(format: "Stemcell built in %.1f s", seconds))
        print(result)
    }
}

/// `skiff stemcell recipe DIR`: writes the recipe's files as `stemcells/local` holds them (for maintainers moving
/// the pin or changing an image file; a test keeps that folder equal to the recipe).
struct StemcellRecipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Write the local stemcell's recipe files (packages.lock, image/, bosh-agent/image/) to a folder.",
        shouldDisplay: false
    )

    @Argument(help: "The folder to write (stemcells/local in the repository).")
    var directory: String

    func run() async throws {
        try await reportingErrors { try LocalStemcellSource.writeRecipe(to: directory) }
    }
}
