import Benchmark
import RelayBenchmarkSupport

/// RelayCore's hot paths, each next to the baseline it is compared with in the same run (see ../../README.md).
///
/// Wall clock and malloc counts are per operation: operations that take a few microseconds or more are measured one
/// per iteration (`Configuration.slow`), faster ones 1,000 per iteration (`Configuration.fast`) so that the cost of
/// measuring stays small.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 20_000
    )
    let fixtures: Fixtures
    do {
        fixtures = try Fixtures.load()
    } catch {
        registerFailure("fixtures", "\(error)")
        return
    }
    DecodeBenchmarks.register(fixtures)
    MatchBenchmarks.register(fixtures)
    DecodeMatchBenchmarks.register(fixtures)
    PayloadBenchmarks.register(fixtures)
}

/// A benchmark that only reports `message` as an error: setup found the code under test misbehaving, and a number
/// measured on a wrong path would mislead.
func registerFailure(_ name: String, _ message: String) {
    Benchmark(name) { benchmark in
        benchmark.error(message)
    }
}

extension Benchmark.Configuration {
    /// For operations of a few microseconds or more: one operation per measured iteration.
    static var slow: Benchmark.Configuration { Benchmark.defaultConfiguration }

    /// For sub-microsecond operations: 1,000 operations per measured iteration, results shown per operation.
    static var fast: Benchmark.Configuration {
        var configuration = Benchmark.defaultConfiguration
        configuration.scalingFactor = .kilo
        configuration.maxIterations = 5_000
        return configuration
    }
}
