import Foundation

/// One named measurement: it runs its body `iterations` times and reports the best and median wall time.
struct Benchmark: Sendable {
    let name: String
    let summary: String
    let iterations: Int
    let body: @Sendable () throws -> Int

    /// Runs the benchmark and prints one line: name, best, median, and the work count the body reported.
    func run() throws {
        var samples: [Double] = []
        var work = 0
        for _ in 0..<iterations {
            let start = ContinuousClock.now
            work = try body()
            let elapsed = ContinuousClock.now - start
            samples.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        samples.sort()
        let best = samples[0] * 1000
        let median = samples[samples.count / 2] * 1000
        print(String(format: "%-28@ best %9.3f ms  median %9.3f ms  (%d items)", name as NSString, best, median, work))
    }
}

/// Every benchmark skiff-bench knows; later issues append theirs.
let allBenchmarks: [Benchmark] = netBenchmarks + manifestBenchmarks

/// A benchmark that could not measure what it meant to.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
