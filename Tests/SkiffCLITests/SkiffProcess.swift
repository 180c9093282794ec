import SkiffTestSupport

/// Runs the built `skiff` for the CLI tests.
enum SkiffProcess {
    static func run(_ arguments: [String], stdin: String = "", environment: [String: String]? = nil) throws
        -> ProcessResult
    {
        try TestProcess.skiff(arguments, stdin: stdin, environment: environment)
    }
}
