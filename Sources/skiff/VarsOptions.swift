import ArgumentParser
import SkiffManifest

/// The variable and ops-file flags shared by `interpolate`, `create-env` and `delete-env` (bosh's VarFlags + OpsFlags).
struct VarsOptions: ParsableArguments {
    @Option(
        name: [.customShort("v"), .customLong("var")],
        help: ArgumentHelp("Set a variable; the value is read as YAML.", valueName: "NAME=VALUE"))
    var vars: [String] = []

    @Option(
        name: .customLong("var-file"),
        help: ArgumentHelp("Set a variable to the contents of a file.", valueName: "NAME=PATH"),
        completion: .file())
    var varFiles: [String] = []

    @Option(
        name: [.customShort("l"), .customLong("vars-file")],
        help: ArgumentHelp("Load variables from a YAML file (also a FIFO, as in -l <(cmd)).", valueName: "PATH"),
        completion: .file())
    var varsFiles: [String] = []

    @Option(
        name: .customLong("vars-env"),
        help: ArgumentHelp("Load variables from environment variables PREFIX_name.", valueName: "PREFIX"))
    var varsEnv: [String] = []

    @Option(
        name: .customLong("vars-store"),
        help: ArgumentHelp("Load variables from, and save generated variables to, a YAML file.", valueName: "PATH"),
        completion: .file())
    var varsStore: String?

    @Option(
        name: [.customShort("o"), .customLong("ops-file")],
        help: ArgumentHelp("Load a go-patch ops file (applied in order).", valueName: "PATH"),
        completion: .file())
    var opsFiles: [String] = []

    /// The flag values as the library takes them.
    var flags: VariableFlags {
        VariableFlags(vars: vars, varFiles: varFiles, varsFiles: varsFiles, varsEnv: varsEnv, varsStore: varsStore)
    }
}
