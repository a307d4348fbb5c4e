import GRDB
import RelayLog

// Per-key ordering in the spool (docs/delivery.md, "Ordering"): a delivery to a target with `ordering: "key"` carries
// its object (`ordering_key`) and its place among that object's deliveries (`ordering_position`). Of one key's rows,
// only the head (lowest position, then lowest rowid) has `queued = 0`; the others wait with `queued = 1`. Claims read
// only rows with `queued = 0`, through a partial index, so a backlog queued behind its heads costs nothing per claim.

extension SpoolSchema {
    /// Registers the migration that adds the ordering columns and indexes. Independent of every migration after
    /// `v3-traceparent`: it touches only its own columns and indexes.
    static func registerOrderingMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("ordering-key") { db in
            try db.execute(
                sql: """
                    ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
                    ALTER TABLE deliveries ADD COLUMN ordering_position TEXT;
                    ALTER TABLE deliveries ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX deliveries_ordering ON deliveries (target, ordering_key, ordering_position)
                        WHERE ordering_key IS NOT NULL;
                    CREATE INDEX deliveries_ready ON deliveries (target, next_attempt_at) WHERE queued = 0;
                    """
            )
        }
    }

    /// The head of one key: the row with the lowest position, then the lowest rowid.
    static let findOrderedHead = """
        SELECT rowid, ordering_position FROM deliveries INDEXED BY deliveries_ordering
        WHERE target = ? AND ordering_key = ? AND ordering_key IS NOT NULL
        ORDER BY ordering_position, rowid LIMIT 1
        """

    /// Places a newly inserted row in its key: `ordering_key`, `ordering_position`, `queued`.
    static let placeOrdered = """
        UPDATE deliveries SET ordering_key = ?, ordering_position = ?, queued = ? WHERE rowid = ?
        """

    static let setQueued = "UPDATE deliveries SET queued = ? WHERE rowid = ?"
}

extension Spool {
    /// The statement that finds a key's head (arguments: target, ordering key), for tests that check index use.
    package static var orderedHeadSQL: String { SpoolSchema.findOrderedHead }

    /// Places the row `rowID`, just inserted, among its key's rows: the head when its position is lower than the
    /// current head's (which then waits), otherwise queued behind it. Two index seeks.
    static func placeOrdered(db: Database, rowID: Int64, target: String, _ ordering: DeliveryOrdering) throws {
        let find = try db.cachedStatement(sql: SpoolSchema.findOrderedHead)
        let head = try Row.fetchOne(find, arguments: [target, ordering.key])
        var queued = 0
        if let head {
            let headPosition = try head.decode(String.self, atIndex: 1)
            // Equal positions keep arrival order: the row inserted earlier (lower rowid) stays ahead.
            if headPosition <= ordering.position {
                queued = 1
            } else {
                let setQueued = try db.cachedStatement(sql: SpoolSchema.setQueued)
                try setQueued.execute(arguments: [1, try head.decode(Int64.self, atIndex: 0)])
            }
        }
        let place = try db.cachedStatement(sql: SpoolSchema.placeOrdered)
        try place.execute(arguments: [ordering.key, ordering.position, queued, rowID])
    }

    /// Makes the lowest row of a key its head after the head was removed. One index seek.
    static func promoteOrderedHead(db: Database, target: String, key: String) throws {
        let find = try db.cachedStatement(sql: SpoolSchema.findOrderedHead)
        guard let next = try Row.fetchOne(find, arguments: [target, key]) else { return }
        let setQueued = try db.cachedStatement(sql: SpoolSchema.setQueued)
        try setQueued.execute(arguments: [0, try next.decode(Int64.self, atIndex: 0)])
    }
}
