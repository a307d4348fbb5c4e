import GRDB

/// The spool's tables and statements: `deliveries` (pending deliveries only; a delivered row is deleted) and
/// `resend_identities` (the resend window, pruned as it moves).
enum SpoolSchema {
    static let insertDelivery = """
        INSERT INTO deliveries (delivery_id, target, rule, payload, attempts, next_attempt_at,
        last_status, last_error, created_at, traceparent) VALUES (?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?)
        """

    static let deleteDelivery = """
        DELETE FROM deliveries WHERE rowid = ? RETURNING length(payload), target, ordering_key, queued
        """

    static let rescheduleDelivery = """
        UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?
        WHERE rowid = ?
        """

    static let findIdentity = "SELECT seen_at FROM resend_identities WHERE identity = ?"

    static let upsertIdentity = """
        INSERT INTO resend_identities (identity, seen_at) VALUES (?, ?)
        ON CONFLICT (identity) DO UPDATE SET seen_at = excluded.seen_at
        """

    static let probe = """
        INSERT INTO spool_probe (id, checked_at) VALUES (1, ?)
        ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
        """

    static var migrator: DatabaseMigrator {
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
        // The event's W3C traceparent, which every attempt continues (docs/operations.md, "Tracing"); rows of a
        // spool written before it have none.
        migrator.registerMigration("v3-traceparent") { db in
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN traceparent TEXT")
        }
        registerOrderingMigration(&migrator)
        // Batched delivery (docs/delivery.md, "Batches"): the batch a delivery was put in when its batch was first
        // claimed, so that a retried batch is the same batch (the same members, the same id). NULL: in no batch.
        migrator.registerMigration("batch-id") { db in
            try db.execute(
                sql: """
                    ALTER TABLE deliveries ADD COLUMN batch_id TEXT;
                    CREATE INDEX deliveries_batch_id ON deliveries (batch_id) WHERE batch_id IS NOT NULL;
                    """
            )
        }
        return migrator
    }
}
