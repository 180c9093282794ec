import ArgumentParser
import SkiffManifest

/// The variable and ops-file flags shared by `interpolate`, `create-env` and `delete-env` (bosh's VarFlags + OpsFlags).
struct VarsOptions: ParsableArguments {
    @Option(name: [.customShort("v"), .customLong("var")], help: "Set variable (NAME=VALUE, value read as YAML).")
    var vars: [String] = []

    @Option(name: .customLong("var-file"), help: "Set variable to the contents of a file (NAME=PATH).")
    var varFiles: [String] = []

    @Option(name: [.customShort("l"), .customLong("vars-file")], help: "Load variables from a YAML file (also a FIFO).")
    var varsFiles: [String] = []

    @Option(name: .customLong("vars-env"), help: "Load variables from environment variables PREFIX_name.")
    var varsEnv: [String] = []

    @Option(name: .customLong("vars-store"), help: "Load variables from, and save generated variables to, a YAML file.")
    var varsStore: String?

    @Option(name: [.customShort("o"), .customLong("ops-file")], help: "Load a go-patch ops file (applied in order).")
    var opsFiles: [String] = []

    /// The flag values as the library takes them.
    var flags: VariableFlags {
        VariableFlags(vars: vars, varFiles: varFiles, varsFiles: varsFiles, varsEnv: varsEnv, varsStore: varsStore)
    }

    /// Reads every variable source.
    func variableSources() throws -> VariableSources {
        try VariableSources(flags: flags)
    }

    /// Reads every ops file once, in flag order.
    func opsSources() throws -> [SourceText] {
        try opsFiles.map { path throws(ManifestError) in try SourceText.read(path, what: "ops file") }
    }
}
