import ArgumentParser
import Foundation
import SkiffManifest

/// `skiff interpolate` (`skiff int`): print a manifest with ops files applied and variables filled in.
struct Interpolate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpolate",
        abstract: "Apply ops files and fill in ((variables)) in a manifest, as 'bosh interpolate' does.",
        discussion: """
            Ops files are applied first, in order; then variables are substituted with the precedence \
            -v > --var-file > -l > --vars-env > --vars-store. Use '-' to read the manifest from standard input.
            """,
        aliases: ["int"]
    )

    @Argument(help: "The manifest (or '-' for standard input).")
    var manifest: String

    @OptionGroup var vars: VarsOptions

    @Option(
        name: .customLong("path"),
        help: ArgumentHelp("Print only the value at this go-patch pointer, e.g. /private_key.", valueName: "POINTER"))
    var path: String?

    @Flag(name: .customLong("var-errs"), help: "Fail if any variable is missing.")
    var varErrs = false

    @Flag(name: .customLong("var-errs-unused"), help: "Fail if any provided variable is not used.")
    var varErrsUnused = false

    func run() async throws {
        let output = try await reportingErrors {
            var pointer: Pointer?
            if let path {
                do throws(ManifestError) {
                    pointer = try Pointer(parsing: path)
                } catch {
                    throw ManifestError(.invalidFlag, "Invalid --path '\(path)': \(error.message)")
                }
            }
            let request = try InterpolationRequest.load(
                manifestPath: manifest, opsPaths: vars.opsFiles, variables: vars.flags, expectAllKeys: varErrs,
                expectAllVarsUsed: varErrsUnused, path: pointer)
            return try await Interpolator.evaluateConcurrently(request).output
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
