import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport

/// A fresh directory under /tmp, removed after the test body.
enum TemporaryDirectory {
    static func with<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = "/tmp/relay-spool-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}

extension Logger {
    /// A logger that drops everything: the tests assert behaviour, not log lines.
    static let quiet = Logger(label: "RelaySpoolTests", factory: { _ in SwiftLogNoOpLogHandler() })
}

extension NewDelivery {
    /// A delivery of `payloadSize` bytes for `target`, due at `at`.
    static func sample(
        _ id: String,
        target: String = "thumbnailer",
        payloadSize: Int = 16,
        at time: Timestamp = 1_000
    ) -> NewDelivery {
        NewDelivery(
            deliveryID: id,
            target: target,
            rule: "new-images",
            payload: [UInt8]((0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) }),
            createdAt: time,
            nextAttemptAt: time
        )
    }
}
