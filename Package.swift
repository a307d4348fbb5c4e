// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "bucket-relay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bucket-relay", targets: ["bucket-relay"]),
        .library(name: "RelayCore", targets: ["RelayCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        // X.509 certificates: the key of an SNS signing certificate (already built for swift-otel's dependencies).
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // Tracing API for our spans; only the `serve --otlp-endpoint` bootstrap touches OTel. OTLP/HTTP only:
        // the gRPC trait would pull grpc-swift.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.2"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // libcurl from the system (Debian: libcurl4-openssl-dev).
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Typed wrappers around libcurl's variadic calls, which Swift cannot call.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // libnats, the NATS C client, from the system (Debian: libnats-dev).
        .systemLibrary(
            name: "CNats",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // Typed wrappers around libnats's macros and nested configurations, which Swift cannot call conveniently.
        .target(name: "CNatsShim", dependencies: ["CNats"]),
        // Event model, decoding, rules, compiled matcher, payloads, diagnostics. No I/O, no clock.
        .target(name: "RelayCore", swiftSettings: swiftSettings),
        // The delivery log seam: the protocol ingress and delivery use, its value types, resend identities.
        .target(
            name: "RelayLog",
            dependencies: [
                "RelayCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SQLite delivery log (spool of pending deliveries, resend window) and the dead-letter file.
        .target(
            name: "RelaySpool",
            dependencies: [
                "RelayCore",
                "RelayLog",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, which GRDB links: ColumnCursor reads columns with it.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The libcurl multi driver, the retry policy and the delivery service.
        .target(
            name: "RelayDelivery",
            dependencies: [
                "CCurl",
                "CCurlShim",
                "RelayCore",
                "RelayLog",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // The delivery log on NATS JetStream: streams of deliveries and dead letters shared by many relays.
        .target(
            name: "RelayJetStream",
            dependencies: [
                "CNats",
                "CNatsShim",
                "RelayCore",
                "RelayLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Routes, ingress limits, error mapping, `buildApplication`.
        .target(
            name: "RelayServer",
            dependencies: [
                "RelayCore",
                "RelayJetStream",
                "RelayLog",
                "RelaySpool",
                "RelayDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                // RS256 (RSA) for the Google OIDC tokens of Pub/Sub pushes.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                // X.509 certificates and their RSA keys for SNS signatures.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bucket-relay",
            dependencies: [
                "RelayCore",
                "RelayJetStream",
                "RelayLog",
                "RelayServer",
                "RelaySpool",
                "RelayDelivery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test-only: real loopback receivers and a small HTTP client over libcurl.
        .target(
            name: "RelayTestSupport",
            dependencies: [
                "RelayCore",
                "RelayDelivery",
                "RelayLog",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayCoreTests",
            dependencies: ["RelayCore", "RelayTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelaySpoolTests",
            dependencies: [
                "RelaySpool", "RelayLog", "RelayCore", "RelayTestSupport",
                // To write a spool of an older schema by hand (the migration test).
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayJetStreamTests",
            dependencies: ["RelayJetStream", "RelayLog", "RelayCore", "RelayDelivery", "RelayTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayDeliveryTests",
            dependencies: ["RelayDelivery", "RelayLog", "RelayCore", "RelayTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayServerTests",
            dependencies: [
                "RelayServer", "RelayTestSupport", "RelayCore", "RelayLog", "RelaySpool", "RelayDelivery",
                // Test keys and tokens for the Pub/Sub push checks.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                // X.509 certificates and their RSA keys for SNS signatures.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
