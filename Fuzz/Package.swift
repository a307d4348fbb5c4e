// swift-tools-version:6.2
import Foundation
import PackageDescription

// libFuzzer targets for RelayCore's hostile-input surfaces (request bodies, rule files). Build and run with
// `Fuzz/run.sh`; see Fuzz/README.md.
//
// The targets depend on the main package by path. A path dependency's identity is its folder's name (`main` here,
// whatever a fresh clone is called elsewhere), so it is computed rather than spelled.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let parentIdentity = parent.lastPathComponent

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "relay-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "..")
    ],
    targets: [
        // Invariant checks shared by the targets.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "RelayCore", package: parentIdentity)],
            swiftSettings: swiftSettings
        )
    ]
        + ["FuzzEventDecoder", "FuzzRuleLoader", "FuzzJSONDifferential", "FuzzEventScanner"].map { name in
            .executableTarget(
                name: name,
                dependencies: ["FuzzSupport", .product(name: "RelayCore", package: parentIdentity)],
                swiftSettings: swiftSettings + [
                    // libFuzzer supplies `main`; a target only exports `LLVMFuzzerTestOneInput`.
                    .unsafeFlags(["-parse-as-library"])
                ]
            )
        }
)
