import Foundation
import GRDB
import Logging
import RelayCore
import RelayLog
import RelaySpool
import Testing

/// A spool written by an older relay opens, migrates and keeps its pending deliveries.
@Suite(.timeLimit(.minutes(1)))
struct SpoolMigrationTests {
    /// The schema of a v2 spool (before deliveries carried a traceparent), as that release wrote it.
    static func writeVersion2Spool(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE deliveries (
                        rowid INTEGER PRIMARY KEY AUTOINCREMENT,
                        delivery_id TEXT NOT NULL,
                        target TEXT NOT NULL,
                        rule TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        last_status INTEGER,
                        last_error TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX deliveries_target_next_attempt_at ON deliveries (target, next_attempt_at);
                    CREATE TABLE spool_probe (id INTEGER PRIMARY KEY, checked_at INTEGER NOT NULL);
                    """
            )
        }
        migrator.registerMigration("v2-resend-identities") { db in
            try db.execute(
                sql: """
                    CREATE TABLE resend_identities (
                        identity BLOB PRIMARY KEY,
                        seen_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX resend_identities_seen_at ON resend_identities (seen_at);
                    """
            )
        }
        try migrator.migrate(queue)
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO deliveries (delivery_id, target, rule, payload, attempts, next_attempt_at,
                    last_status, last_error, created_at) VALUES ('old', 'hook', 'all', X'7B7D', 2, 1000, 503,
                    'HTTP 503', 500)
                    """
            )
        }
        try queue.close()
    }

    @Test func aVersion2SpoolMigratesAndKeepsItsDeliveriesWithoutATraceparent() async throws {
        let directory = "/tmp/relay-spool-migration-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeVersion2Spool(at: directory + "/" + Spool.fileName)

        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let log = try SQLiteDeliveryLog(directory: directory, logger: logger)
        #expect(log.totals.pendingCount == 1)
        let old = try #require(
            try await log.claim(target: "hook", now: Timestamp(millisecondsSince1970: 1_000), limit: 5).first
        )
        #expect(old.deliveryID == "old")
        #expect(old.attempts == 2)
        #expect(old.lastError == "HTTP 503")
        #expect(old.payload == Array("{}".utf8))
        #expect(old.traceparent == nil, "rows of an older spool have none")

        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let new = NewDelivery(
            deliveryID: "new",
            target: "hook",
            rule: "all",
            payload: Array("{}".utf8),
            createdAt: Timestamp(millisecondsSince1970: 2_000),
            traceparent: traceparent
        )
        _ = try await log.append([RecordDeliveries(identity: nil, deliveries: [new])], at: new.createdAt)
        let claimed = try await log.claim(target: "hook", now: Timestamp(millisecondsSince1970: 2_000), limit: 5)
        #expect(claimed.map(\.deliveryID) == ["new"])
        #expect(claimed.first?.traceparent == traceparent)
        await log.close()
    }
}
