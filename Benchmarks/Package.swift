// swift-tools-version:6.2
import Foundation
import PackageDescription

// Microbenchmarks of RelayCore's hot paths. A package of its own so that the benchmark dependencies never enter the
// product's build: it depends on the project by path and on ordo-one/benchmark.
//
// A path dependency's identity is its folder's name (`main` in the integrator's checkout, a worktree's name
// elsewhere), so it is computed rather than spelled.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let relayCore = Target.Dependency.product(name: "RelayCore", package: parent.lastPathComponent)

let package = Package(
    name: "bucket-relay-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Fixtures and generated rule sets shared by the benchmarks and the callgrind loop.
        .target(
            name: "RelayBenchmarkSupport",
            dependencies: [relayCore],
            path: "Sources/RelayBenchmarkSupport",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        ),
        // Decode + match N times without the benchmark harness, for `valgrind --tool=callgrind` (callgrind.sh).
        .executableTarget(
            name: "DecodeMatchLoop",
            dependencies: [relayCore, "RelayBenchmarkSupport"],
            path: "Sources/DecodeMatchLoop",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        ),
        .executableTarget(
            name: "RelayCoreBenchmarks",
            dependencies: [
                relayCore,
                "RelayBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RelayCoreBenchmarks",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
