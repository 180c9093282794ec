import ArgumentParser
import Foundation
import SkiffTemplates

/// `skiff render`: render one job directory's templates with a given instance context.
struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render every template of a BOSH job directory as BOSH would, into an output directory.",
        discussion: """
            Each template is written to OUTPUT/<its destination in the spec's templates map>, the monit file to \
            OUTPUT/monit. A template that fails writes nothing and prints one line (JOB/templates/SOURCE:LINE: \
            message); the others are still rendered, and the exit status is 1.
            """
    )

    @Argument(help: "The job directory (spec, monit, templates/).")
    var job: String

    @Option(
        help: ArgumentHelp(
            "The instance context (JSON): deployment, name, id, index, az, bootstrap, address, "
                + "networks, manifest_properties, links.", valueName: "CONTEXT.json"))
    var context: String

    @Option(help: ArgumentHelp("Where to write the rendered files.", valueName: "DIR"))
    var output: String

    func run() async throws {
        let outcomes = try await reportingErrors {
            let renderContext = try RenderContext(contentsOf: URL(fileURLWithPath: context))
            return try JobRenderer.renderDirectory(
                URL(fileURLWithPath: job), context: renderContext, output: URL(fileURLWithPath: output))
        }
        var failed = false
        for outcome in outcomes {
            if case .failure(let error) = outcome.result {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}
