import Foundation

/// The test kit's own BOSH release, `skiff-kit`, whose job works under any agent root (its templates take the root
/// as the property `ticker.root`), so that the in-process agent can run it without root privileges:
///
/// - package `greeting`: its `packaging` script copies `message.txt` into `$BOSH_INSTALL_TARGET` and writes
///   `compiled` there (the package's name and version), so a test sees what the agent compiled;
/// - job `ticker`: `config/greeting.txt` (property `ticker.greeting`), a `pre-start` that records the PATH it got, a
///   `drain` that records its arguments and prints 0, and one monit process, a `sleep` loop that owns its pidfile
///   and ends by itself once the agent's root is gone.
public enum KitRelease {
    /// The release name.
    public static let name = "skiff-kit"
    /// The job name.
    public static let job = "ticker"
    /// The package name.
    public static let package = "greeting"
    /// The monit process name.
    public static let process = "ticker"

    /// Writes the release directory at `directory`.
    public static func write(to directory: URL) throws {
        for (path, text) in files {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
    }

    /// The template a test may change to make a new release version.
    public static let changeableTemplate = "jobs/ticker/templates/pre-start.erb"

    static let files: [String: String] = [
        "config/final.yml": """
        ---
        name: skiff-kit
        final_name: skiff-kit

        """,
        "packages/greeting/spec": """
        ---
        name: greeting
        dependencies: []
        files:
        - greeting/message.txt

        """,
        "packages/greeting/packaging": """
        set -e
        cp greeting/message.txt "${BOSH_INSTALL_TARGET}/message.txt"
        echo "${BOSH_PACKAGE_NAME}/${BOSH_PACKAGE_VERSION}" > "${BOSH_INSTALL_TARGET}/compiled"

        """,
        "src/greeting/message.txt": "compiled by the agent\n",
        "jobs/ticker/spec": """
        ---
        name: ticker
        templates:
          ctl.erb: bin/ctl
          pre-start.erb: bin/pre-start
          drain.erb: bin/drain
          greeting.txt.erb: config/greeting.txt
        packages:
        - greeting
        properties:
          ticker.greeting:
            description: The line config/greeting.txt holds.
            default: hello
          ticker.root:
            description: The agent's root, which stands for /var/vcap.

        """,
        "jobs/ticker/monit": """
        check process ticker
          with pidfile <%= p('ticker.root') %>/sys/run/ticker/ticker.pid
          start program "<%= p('ticker.root') %>/jobs/ticker/bin/ctl start"
          stop program "<%= p('ticker.root') %>/jobs/ticker/bin/ctl stop"
          group vcap

        """,
        "jobs/ticker/templates/ctl.erb": """
        #!/bin/sh
        # A trivial long-running process: a sleep loop that owns its pidfile and ends once the agent's root is gone.
        RUN='<%= p('ticker.root') %>/sys/run/ticker'
        case "$1" in
          start)
            mkdir -p "$RUN"
            sh -c 'echo $$ > "$1/ticker.pid"; while [ -d "$1" ]; do sleep 1; done' ticker "$RUN" \\
              </dev/null >/dev/null 2>&1 &
            ;;
          stop)
            if [ -f "$RUN/ticker.pid" ]; then kill "$(cat "$RUN/ticker.pid")" 2>/dev/null || true; fi
            rm -f "$RUN/ticker.pid"
            ;;
        esac

        """,
        "jobs/ticker/templates/pre-start.erb": """
        #!/bin/sh
        # Records that it ran, with the PATH the agent gave it.
        set -e
        mkdir -p '<%= p('ticker.root') %>/data/ticker'
        echo "$PATH" > '<%= p('ticker.root') %>/data/ticker/pre-start.path'

        """,
        "jobs/ticker/templates/drain.erb": """
        #!/bin/sh
        # Records its arguments (job_shutdown hash_unchanged) and asks for no wait.
        mkdir -p '<%= p('ticker.root') %>/data/ticker'
        echo "$@" >> '<%= p('ticker.root') %>/data/ticker/drain.log'
        echo 0

        """,
        "jobs/ticker/templates/greeting.txt.erb": """
        <%= p('ticker.greeting') %>

        """,
    ]
}
