import ArgumentParser

/// The `skiff` command: BOSH's director-less workflow, IPv6 first.
@main
struct Skiff: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Deploy one IPv6-ready VM from a BOSH create-env manifest, without a director.",
        discussion: """
            skiff reads the same manifests, vars files and ops files as the BOSH CLI's create-env, \
            delete-env and interpolate commands, and speaks the same CPI and agent protocols.
            """,
        version: version,
        subcommands: [IP.self, Interpolate.self, CreateEnv.self, DeleteEnv.self, CPI.self, Local.self, AgentCommand.self, AWS.self, Render.self]
    )
}
