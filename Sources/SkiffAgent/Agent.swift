import Foundation
import SkiffCore

/// How long job lifecycle scripts may run before the agent stops them (SIGTERM, then SIGKILL, to the script's
/// process group) and fails the step. bosh-agent waits for these scripts without a limit; skiff bounds them so a
/// hung script fails create-env with its log files named instead of hanging it.
public struct ScriptTimeouts: Sendable, Hashable {
    /// `bin/pre-start`.
    public var preStart: Duration
    /// `bin/post-start`.
    public var postStart: Duration
    /// `bin/drain`, each run.
    public var drain: Duration
    /// Any other script `run_script` names (`pre-stop`, `post-deploy`, …).
    public var other: Duration

    /// Creates timeouts; the defaults are ten minutes each.
    public init(
        preStart: Duration = .seconds(600), postStart: Duration = .seconds(600), drain: Duration = .seconds(600),
        other: Duration = .seconds(600)
    ) {
        self.preStart = preStart
        self.postStart = postStart
        self.drain = drain
        self.other = other
    }

    /// The timeout for the script called `name`.
    public func timeout(for name: String) -> Duration {
        switch name {
        case "pre-start": preStart
        case "post-start": postStart
        case "drain": drain
        default: other
        }
    }
}

/// The agent: answers bosh-agent messages, installs jobs and packages under its root and supervises processes.
public actor Agent {
    /// The settings the CPI wrote.
    public private(set) var settings: AgentSettings
    /// Where everything lives.
    public nonisolated let paths: AgentPaths
    /// The blobstore served at `/blobs`.
    public nonisolated let blobstore: LocalBlobstore
    /// The process supervisor.
    public nonisolated let supervisor: Supervisor

    private let installer: Installer
    private let scriptTimeouts: ScriptTimeouts
    private let log: @Sendable (String) -> Void
    private var specValue: JSONValue = .object([:])
    private var spec = ApplySpec()
    private var jobs: [String] = []
    private var tasks: [String: TaskRecord] = [:]
    private var disks = DiskRecords()
    private let started = ContinuousClock.now

    enum TaskRecord {
        case running(Task<Void, Never>)
        case done(JSONValue)
        case failed(String)
    }

    struct DiskRecords: Codable {
        var persistent: [String: JSONValue] = [:]
        var mounted: [String] = []
        var bindMounted: [String] = []
    }

    /// Creates an agent over `root`; the blobstore is the settings' local `blobstore_path` (rebased) or `data/blobs`.
    ///
    /// `log` receives one line per request and per finished task: method names and outcomes, never arguments
    /// (they can hold settings with secrets).
    public init(
        settings: AgentSettings, root: String = "/var/vcap", timing: SupervisorTiming = SupervisorTiming(),
        scriptTimeouts: ScriptTimeouts = ScriptTimeouts(), log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.settings = settings
        self.scriptTimeouts = scriptTimeouts
        self.log = log
        let paths = AgentPaths(root: root)
        self.paths = paths
        var blobDirectory = paths.defaultBlobsDirectory
        if settings.blobstore?.provider == "local",
            let path = settings.blobstore?.options["blobstore_path"]?.stringValue
        {
            blobDirectory = paths.rebase(path)
        }
        let blobstore = LocalBlobstore(directory: blobDirectory)
        self.blobstore = blobstore
        self.installer = Installer(paths: paths, blobstore: blobstore)
        self.supervisor = Supervisor(
            logDirectory: paths.monitDirectory, searchPath: paths.searchPath, timing: timing)
        if let data = FileManager.default.contents(atPath: paths.disksFile),
            let records = try? JSONDecoder().decode(DiskRecords.self, from: data)
        {
            self.disks = records
        }
    }

    /// Picks up what a previous run of the agent left: the applied spec, its jobs, and (if they were started) the
    /// processes, adopting live ones by their pidfiles as monit does after a restart.
    public func restore() async throws(AgentError) {
        guard let data = FileManager.default.contents(atPath: paths.specFile) else { return }
        let raw: JSONValue
        let restored: ApplySpec
        do {
            raw = try JSONDecoder().decode(JSONValue.self, from: data)
            restored = try raw.decode(ApplySpec.self)
        } catch {
            throw AgentError(.invalidSettings, "cannot read the applied spec '\(paths.specFile)': \(error)")
        }
        spec = restored
        specValue = raw
        jobs = (restored.job?.templates ?? []).map(\.name).filter { Files.exists(paths.path("jobs", $0)) }
        await supervisor.configure(try installer.monitProcesses(jobs: jobs))
        let desired = (try? String(contentsOfFile: paths.desiredStateFile, encoding: .utf8)) ?? ""
        if desired == "running", !jobs.isEmpty { await supervisor.startAll() }
    }

    private func recordDesiredState(_ state: String) {
        try? Files.write(Data(state.utf8), to: paths.desiredStateFile)
    }

    /// Stops all supervised processes (used when the agent shuts down).
    public func shutdown() async {
        for (_, record) in tasks {
            if case .running(let task) = record { task.cancel() }
        }
        await supervisor.stopAll()
    }

    /// Methods that answer with a task id and finish in the background.
    static let asyncMethods: Set<String> = [
        "apply", "stop", "drain", "run_script", "compile_package", "prepare", "mount_disk", "unmount_disk",
        "add_persistent_disk", "remove_persistent_disk", "migrate_disk", "update_settings", "upload_blob",
    ]

    /// Answers one request.
    public func handle(_ request: AgentRequest) async -> AgentResponse {
        let method = request.method
        if Self.asyncMethods.contains(method) {
            let id = UUID().uuidString.lowercased()
            let arguments = request.arguments
            let task = Task { [weak self] in
                guard let self else { return }
                do {
                    let value = try await self.perform(method, arguments)
                    await self.finish(id, method, .done(value))
                } catch let error as AgentError {
                    await self.finish(id, method, .failed(error.description))
                } catch {
                    await self.finish(id, method, .failed("\(error)"))
                }
            }
            if tasks[id] == nil { tasks[id] = .running(task) }
            log("\(method): started task \(id)")
            return .value(["agent_task_id": .string(id), "state": "running"])
        }
        if method != "get_task" && method != "ping" { log(method) }
        do {
            return .value(try await perform(method, request.arguments))
        } catch let error as AgentError where error.code == .unknownMethod {
            log(error.description)
            return .exception(error.description)
        } catch let error as AgentError {
            if error.code != .taskNotFound { log("\(method) failed: \(error)") }
            return .exception("Action Failed \(method): \(error)")
        } catch {
            log("\(method) failed: \(error)")
            return .exception("Action Failed \(method): \(error)")
        }
    }

    private func finish(_ id: String, _ method: String, _ record: TaskRecord) {
        if case .failed = tasks[id], case .failed = record { return }
        tasks[id] = record
        if case .failed(let message) = record {
            log("task \(id) (\(method)) failed: \(message)")
        } else {
            log("task \(id) (\(method)) done")
        }
    }

    private func perform(_ method: String, _ arguments: [JSONValue]) async throws -> JSONValue {
        switch method {
        case "ping": return "pong"
        case "get_state": return await state(full: arguments.first?.stringValue == "full")
        case "get_task": return try getTask(arguments)
        case "cancel_task": return try cancelTask(arguments)
        case "apply": return try await apply(arguments)
        case "start":
            recordDesiredState("running")
            if !jobs.isEmpty { await supervisor.startAll() }
            return "started"
        case "stop":
            recordDesiredState("stopped")
            await supervisor.stopAll()
            return "stopped"
        case "drain": return try await drain(arguments)
        case "run_script": return try await runScript(arguments)
        case "compile_package": return try await compilePackage(arguments)
        case "prepare": return "prepared"
        case "update_settings": return try updateSettings(arguments)
        case "upload_blob": return try uploadBlob(arguments)
        case "add_persistent_disk": return try addPersistentDisk(arguments)
        case "remove_persistent_disk": return try removePersistentDisk(arguments)
        case "mount_disk": return try await mountDisk(arguments)
        case "unmount_disk": return try await unmountDisk(arguments)
        case "list_disk": return .array(disks.mounted.map { .string($0) })
        case "migrate_disk": return .object([:])
        case "info": return ["api_version": 1]
        default: throw AgentError(.unknownMethod, "unknown message \(method)")
        }
    }

    // MARK: tasks

    private func getTask(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        guard let id = arguments.first?.stringValue else {
            throw AgentError(.invalidArguments, "expected a task id")
        }
        switch tasks[id] {
        case nil: throw AgentError(.taskNotFound, "Task with id \(id) could not be found")
        case .running: return ["agent_task_id": .string(id), "state": "running"]
        case .done(let value): return value
        case .failed(let message): throw AgentError(.taskNotFound, "Task \(id) result: \(message)")
        }
    }

    private func cancelTask(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        guard let id = arguments.first?.stringValue else {
            throw AgentError(.invalidArguments, "expected a task id")
        }
        guard let record = tasks[id] else {
            throw AgentError(.taskNotFound, "Task with id \(id) could not be found")
        }
        if case .running(let task) = record {
            task.cancel()
            tasks[id] = .failed("task canceled")
        }
        return "canceled"
    }

    // MARK: state

    private func state(full: Bool) async -> JSONValue {
        var object = specValue.objectValue ?? [:]
        var networks = CPINetwork.json(settings.networks).objectValue ?? [:]
        for (name, value) in object["networks"]?.objectValue ?? [:] {
            var merged = networks[name]?.objectValue ?? [:]
            for (key, field) in value.objectValue ?? [:] where field != .null && field != "" { merged[key] = field }
            networks[name] = .object(merged)
        }
        object["networks"] = .object(networks)
        object["agent_id"] = .string(settings.agentID)
        object["vm"] = ["name": .string(settings.vm?.name ?? "")]
        object["job_state"] = .string(jobs.isEmpty ? "running" : await supervisor.jobState())
        object["processes"] = .array(
            await supervisor.statuses().map { status in
                [
                    "name": .string(status.name),
                    "state": .string(status.state),
                    "uptime": ["secs": .int(status.uptimeSeconds)],
                    "mem": ["kb": 0, "percent": .double(0)],
                    "cpu": ["total": .double(0)],
                ]
            })
        if full {
            // As bosh-agent: the NTP status comes with vitals only.
            object["ntp"] = ["message": "ntp not configured", "timestamp": ""]
            let uptime = Int((ContinuousClock.now - started).components.seconds)
            object["vitals"] = [
                "cpu": ["sys": "0.0", "user": "0.0", "wait": "0.0"],
                "disk": [:],
                "load": ["0.00", "0.00", "0.00"],
                "mem": ["kb": "0", "percent": "0"],
                "swap": ["kb": "0", "percent": "0"],
                "uptime": ["secs": .int(uptime)],
            ]
        }
        return .object(object)
    }

    // MARK: apply

    private func apply(_ arguments: [JSONValue]) async throws -> JSONValue {
        guard let raw = arguments.first, raw.objectValue != nil else {
            throw AgentError(.invalidArguments, "apply expects the apply spec as its only argument")
        }
        let newSpec: ApplySpec
        do {
            newSpec = try raw.decode(ApplySpec.self)
        } catch {
            throw AgentError(.invalidArguments, "apply spec: \(error.message)")
        }
        let installed = try await installer.apply(newSpec)
        let processes = try installer.monitProcesses(jobs: installed)
        await supervisor.configure(processes)
        spec = newSpec
        specValue = raw
        jobs = installed
        try Files.write(Data(raw.description.utf8), to: paths.specFile, mode: 0o600)
        // bosh-agent's apply task ends with "applied" (seen from 2.499.0 on the local cloud), not the spec.
        return "applied"
    }

    // MARK: scripts

    private func scriptEnvironment() -> [String: String] {
        [
            "PATH": paths.searchPath, "BOSH_JOB_STATE": specValue.description,
            "BOSH_JOB_NEXT_STATE": specValue.description,
        ]
    }

    /// `run_script NAME`: runs `bin/NAME` of every job that has one, in parallel, as bosh-agent does: stdout and
    /// stderr appended to `sys/log/JOB/NAME.stdout.log` and `.stderr.log`, waited for until it exits (not until its
    /// output closes) or its timeout passes.
    private func runScript(_ arguments: [JSONValue]) async throws -> JSONValue {
        guard let name = arguments.first?.stringValue, Files.isSafeName(name) else {
            throw AgentError(.invalidArguments, "run_script expects a script name")
        }
        let environment = scriptEnvironment()
        let paths = self.paths
        let timeout = scriptTimeouts.timeout(for: name)
        let candidates = jobs.filter { Files.exists(paths.path("jobs", $0, "bin", name)) }
        let outcomes = await withTaskGroup(of: ScriptOutcome.self) { group in
            for job in candidates {
                group.addTask {
                    let logs = paths.scriptLogs(job: job, script: name)
                    do {
                        let status = try await CommandRunner.runSplit(
                            paths.path("jobs", job, "bin", name), [], environment: environment,
                            stdoutPath: logs.stdout, stderrPath: logs.stderr, timeout: timeout)
                        return ScriptOutcome(job: job, status: status, logs: logs)
                    } catch {
                        return ScriptOutcome(job: job, status: 127, logs: logs, error: "\(error)")
                    }
                }
            }
            var collected: [ScriptOutcome] = []
            for await outcome in group { collected.append(outcome) }
            return collected.sorted { $0.job < $1.job }
        }
        let failed = outcomes.filter { !$0.succeeded }
        guard failed.isEmpty else {
            let succeeded = outcomes.filter(\.succeeded).map(\.job)
            let failedList = failed.map(\.job).joined(separator: ", ")
            let succeededList = succeeded.isEmpty ? "" : " Successful Jobs: \(succeeded.joined(separator: ", "))."
            let summary = "\(failed.count) of \(outcomes.count) \(name) scripts failed."
            let details = failed.map { $0.explanation(script: name, timeout: timeout) }.joined(separator: " ")
            throw AgentError(.scriptFailed, "\(summary) Failed Jobs: \(failedList).\(succeededList) \(details)")
        }
        return .object([:])
    }

    private func drain(_ arguments: [JSONValue]) async throws -> JSONValue {
        let type = arguments.first?.stringValue ?? "shutdown"
        let first: String
        switch type {
        case "shutdown": first = "job_shutdown"
        case "update": first = "job_changed"
        case "status": first = "job_check_status"
        default: throw AgentError(.invalidArguments, "unknown drain type '\(type)'")
        }
        var result = 0
        for job in jobs {
            let script = paths.path("jobs", job, "bin", "drain")
            guard Files.exists(script) else { continue }
            let stdout = paths.path("data", "tmp", "drain-\(UUID().uuidString).out")
            try Files.createDirectory(paths.tmpDirectory)
            defer { try? Files.remove(stdout) }
            let logs = paths.scriptLogs(job: job, script: "drain")
            let status = try await CommandRunner.runSplit(
                script, [first, "hash_unchanged"], environment: scriptEnvironment(), stdoutPath: stdout,
                stderrPath: logs.stderr, timeout: scriptTimeouts.drain)
            let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
            try? Files.append(Data(text.utf8), to: logs.stdout)
            guard let status else {
                throw AgentError(
                    .scriptFailed,
                    "drain script of job '\(job)' did not finish within \(Self.seconds(scriptTimeouts.drain)) and "
                        + "was stopped; see \(logs.stderr)")
            }
            guard status == 0 else {
                throw AgentError(
                    .scriptFailed, "drain script of job '\(job)' exited with status \(status); see \(logs.stderr)")
            }
            guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw AgentError(.scriptFailed, "drain script of job '\(job)' printed '\(text)', not an integer")
            }
            if value < 0 {
                result = min(result, value)
            } else if result >= 0 {
                result = max(result, value)
            }
        }
        return .int(result)
    }

    /// `600 s`, `1.5 s`.
    static func seconds(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        return fraction == 0 ? "\(whole) s" : String(format: "%.1f s", Double(whole) + Double(fraction) / 1e18)
    }

    // MARK: packages

    private func compilePackage(_ arguments: [JSONValue]) async throws -> JSONValue {
        guard arguments.count >= 4, let blobID = arguments[0].stringValue, let digest = arguments[1].stringValue,
            let name = arguments[2].stringValue, let version = arguments[3].stringValue
        else {
            throw AgentError(
                .invalidArguments, "compile_package expects [blobstore_id, sha1, name, version, dependencies]")
        }
        var dependencies: [String: ApplySpec.BlobRef] = [:]
        if arguments.count > 4, arguments[4] != .null {
            do {
                dependencies = try arguments[4].decode([String: ApplySpec.BlobRef].self)
            } catch {
                throw AgentError(.invalidArguments, "compile_package dependencies: \(error.message)")
            }
        }
        let compiled = try await installer.compile(
            blobID: blobID, digest: digest, name: name, version: version, dependencies: dependencies)
        return ["result": ["blobstore_id": .string(compiled.blobstoreID), "sha1": .string(compiled.sha1)]]
    }

    // MARK: settings and disks

    private func updateSettings(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        if let update = arguments.first, update != .null {
            try Files.write(Data(update.description.utf8), to: paths.path("bosh", "update_settings.json"), mode: 0o600)
        }
        return "updated"
    }

    /// `upload_blob [blob_id, digest, base64 payload]`: stores the payload after checking its digest.
    private func uploadBlob(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        guard arguments.count >= 3, let id = arguments[0].stringValue, let digest = arguments[1].stringValue,
            let payload = arguments[2].stringValue, let data = Data(base64Encoded: payload)
        else {
            throw AgentError(.invalidArguments, "upload_blob expects [blob_id, checksum, base64 payload]")
        }
        try blobstore.put(id, data: data)
        do {
            _ = try blobstore.verifiedPath(id, digest: digest)
        } catch {
            try? Files.remove(try blobstore.path(for: id))
            throw error
        }
        return .string(id)
    }

    private func saveDisks() throws(AgentError) {
        let data = (try? JSONEncoder().encode(disks)) ?? Data()
        try Files.write(data, to: paths.disksFile, mode: 0o600)
    }

    private func addPersistentDisk(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        guard let cid = arguments.first?.stringValue, !cid.isEmpty else {
            throw AgentError(.invalidArguments, "add_persistent_disk expects [disk_cid, hint]")
        }
        disks.persistent[cid] = arguments.count > 1 ? arguments[1] : .null
        try saveDisks()
        return .object([:])
    }

    private func removePersistentDisk(_ arguments: [JSONValue]) throws(AgentError) -> JSONValue {
        guard let cid = arguments.first?.stringValue else {
            throw AgentError(.invalidArguments, "remove_persistent_disk expects [disk_cid]")
        }
        disks.persistent[cid] = nil
        try saveDisks()
        return .object([:])
    }

    /// The device path a disk hint names: a string, or a map's `path`.
    static func devicePath(_ hint: JSONValue?) -> String? {
        switch hint {
        case .string(let path): path
        case .object(let map): map["path"]?.stringValue
        default: nil
        }
    }

    private func mountDisk(_ arguments: [JSONValue]) async throws(AgentError) -> JSONValue {
        guard let cid = arguments.first?.stringValue, !cid.isEmpty else {
            throw AgentError(.invalidArguments, "mount_disk expects [disk_cid]")
        }
        let hint = disks.persistent[cid] ?? settings.disks.persistent[cid]
        if !disks.mounted.contains(cid) {
            if ProcessProbe.isRoot, let device = Self.devicePath(hint), Files.isDirectory(device) {
                try Files.createDirectory(paths.storeDirectory)
                try await CommandRunner.check(
                    "/bin/mount", ["--bind", device, paths.storeDirectory], what: "mounting disk '\(cid)'")
                disks.bindMounted.append(cid)
            }
            disks.mounted.append(cid)
            try saveDisks()
        }
        return .object([:])
    }

    private func unmountDisk(_ arguments: [JSONValue]) async throws(AgentError) -> JSONValue {
        guard let cid = arguments.first?.stringValue else {
            throw AgentError(.invalidArguments, "unmount_disk expects [disk_cid]")
        }
        if disks.bindMounted.contains(cid) {
            try await CommandRunner.check("/bin/umount", [paths.storeDirectory], what: "unmounting disk '\(cid)'")
            disks.bindMounted.removeAll { $0 == cid }
        }
        let wasMounted = disks.mounted.contains(cid)
        disks.mounted.removeAll { $0 == cid }
        try saveDisks()
        return ["message": .string(wasMounted ? "Unmounted partition of \(cid)" : "Partition of \(cid) is not mounted")]
    }
}

/// How one job's lifecycle script ended.
struct ScriptOutcome: Sendable {
    var job: String
    /// The exit status; nil when it ran past its timeout and was stopped.
    var status: Int32?
    var logs: ScriptLogs
    /// Why it could not be started at all.
    var error: String?

    var succeeded: Bool { status == 0 && error == nil }

    /// One sentence for the failure message: what happened and which logs to read.
    func explanation(script: String, timeout: Duration) -> String {
        let what: String
        if let error {
            what = error
        } else if let status {
            what = "exited with status \(status)"
        } else {
            what = "did not finish within \(Agent.seconds(timeout)) and was stopped"
        }
        return "\(job): \(script) \(what); see \(logs.stderr) and \(logs.stdout)."
    }
}
