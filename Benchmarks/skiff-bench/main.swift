// skiff-bench: release-mode measurements; `skiff-bench --list` names them, arguments pick some.

let wanted = Set(CommandLine.arguments.dropFirst())
if wanted.contains("--list") {
    for benchmark in allBenchmarks { print("\(benchmark.name)\t\(benchmark.summary)") }
} else {
    #if DEBUG
        print("warning: skiff-bench is a debug build; use `swift run -c release skiff-bench`")
    #endif
    for benchmark in allBenchmarks where wanted.isEmpty || wanted.contains(benchmark.name) {
        do {
            try benchmark.run()
        } catch {
            print("\(benchmark.name): failed: \(error)")
        }
    }
}
