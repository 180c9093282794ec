import SkiffManifest

/// The inputs of shared/bench/gen-big-manifest.py, made in memory: a 17,000-line manifest (400 instance groups of
/// 6 jobs), 330 go-patch operations and a 458-entry vars file.
private struct BigManifest {
    let manifest: String
    let ops: String
    let vars: String

    init() {
        let groups = 400
        let jobsPer = 6
        var lines = ["name: big", "instance_groups:"]
        for g in 0..<groups {
            lines += [
                "- name: group-\(g)", "  instances: \(g % 5 + 1)", "  azs: [((az))]", "  networks:",
                "  - name: private", "    static_ips: [((ip_\(g)))]", "  jobs:",
            ]
            for j in 0..<jobsPer {
                lines += [
                    "  - name: job-\(j)", "    release: rel-\(j % 3)", "    properties:",
                    "      port: ((port_\(g % 50)))", "      banner: \"group \(g) job \(j) at ((domain)) on ((az))\"",
                    "      list: [a, b, ((flag_\(j)))]",
                ]
            }
        }
        manifest = lines.joined(separator: "\n") + "\n"
        var ops: [String] = []
        for i in 0..<300 {
            let g = (i * 7) % groups
            ops += [
                "- type: replace",
                "  path: /instance_groups/name=group-\(g)/jobs/name=job-\(i % jobsPer)/properties/extra_\(i)?",
                "  value: {k: ((domain)), num: \(i)}",
            ]
            if i % 10 == 0 {
                ops += [
                    "- type: replace", "  path: /instance_groups/name=group-\(g)/jobs/-",
                    "  value: {name: added-\(i), release: rel-0}",
                ]
            }
        }
        self.ops = ops.joined(separator: "\n") + "\n"
        var vars = ["az: z1", "domain: example.test"]
        vars += (0..<groups).map { "ip_\($0): fd5b:5c00::\(String($0 + 4, radix: 16))" }
        vars += (0..<50).map { "port_\($0): \(8000 + $0)" }
        vars += (0..<jobsPer).map { "flag_\($0): \($0 % 2 == 1 ? "true" : "false")" }
        self.vars = vars.joined(separator: "\n") + "\n"
    }
}

private let bigManifest = BigManifest()

/// A flat map of 80,000 keys (issue 10: reading it must take linear time; it took 14 s when it did not).
private let wideMap: String = (0..<80_000).map { "key_\($0): value \($0)" }.joined(separator: "\n") + "\n"

/// A billion-laughs document (nine levels of nine aliases), which yaml.v2 refuses as excessive aliasing.
private let aliasBomb: String = {
    var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in 1..<9 {
        let aliases = Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ")
        lines.append("l\(level): &l\(level) [\(aliases)]")
    }
    return lines.joined(separator: "\n") + "\n"
}()

let manifestBenchmarks: [Benchmark] = [
    Benchmark(
        name: "yaml.wide-map",
        summary: "read a map of 80,000 keys (linear time: under 1 s)",
        iterations: 3
    ) {
        guard case .map(let map) = try YAMLReader.parse(wideMap, fileName: "wide.yml"), map.count == 80_000 else {
            throw BenchmarkError("wrong map")
        }
        return map.count
    },
    Benchmark(
        name: "yaml.alias-bomb",
        summary: "refuse a 9-level billion-laughs document (under 1 s, no memory growth)",
        iterations: 3
    ) {
        do {
            _ = try YAMLReader.parse(aliasBomb, fileName: "bomb.yml")
        } catch {
            guard "\(error)".contains("excessive aliasing") else { throw BenchmarkError("\(error)") }
            return 1
        }
        throw BenchmarkError("the alias bomb was accepted")
    },
    Benchmark(
        name: "manifest.interpolate-big",
        summary: "skiff int of a 17,000-line manifest with 330 ops and 458 vars (parse, patch, interpolate, print)",
        iterations: 5
    ) {
        var sources = VariableSources()
        guard case .map(let vars) = try YAMLReader.parse(bigManifest.vars, fileName: "vars.yml", stringKeys: true)
        else { throw BenchmarkError("vars file is not a map") }
        for entry in vars.entries {
            if case .string(let name) = entry.key { sources.setStatic(name, entry.value) }
        }
        let request = InterpolationRequest(
            manifest: SourceText(name: "manifest.yml", text: bigManifest.manifest),
            opsFiles: [SourceText(name: "ops.yml", text: bigManifest.ops)],
            variables: sources, expectAllKeys: true)
        let output = try Interpolator.evaluate(request).output
        guard !output.contains("((") else { throw BenchmarkError("unresolved placeholders") }
        return output.utf8.count
    },
]
