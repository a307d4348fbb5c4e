// swift-tools-version:6.2
import PackageDescription

// Microbenchmarks of RelayCore's hot paths. A package of its own so that the benchmark dependencies never enter the
// product's build: it depends on the project by path and on ordo-one/benchmark.
let package = Package(
    name: "bucket-relay-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RelayCoreBenchmarks",
            dependencies: [
                .product(name: "RelayCore", package: "main"),
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
