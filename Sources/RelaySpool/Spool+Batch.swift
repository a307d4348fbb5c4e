import GRDB
import RelayCore
import RelayLog

// Batched delivery (docs/delivery.md, "Batches"): the rows of a batch carry its id in `batch_id` from the batch's first
// claim on, so that a retried batch is the same batch.

extension Spool {
    /// What ``batchCandidate(target:now:maxRecords:maxBytes:formBefore:excluding:)`` found.
    public enum BatchCandidate: Sendable, Equatable {
        /// A batch formed earlier, due again: its rows, oldest first.
        case formed(batchID: String, rows: [PendingDelivery])
        /// Due rows in no batch that make a batch now (full, or the earliest has waited long enough), oldest first.
        case new(rows: [PendingDelivery])
    }

    /// The next batch of `target` to send at `now`, skipping the rows in `excluding` (in flight): the earliest due
    /// row decides. A due row of a formed batch gives that whole batch; due rows in no batch are gathered, earliest
    /// first, while fewer than `maxRecords` and while their records fit a body of `maxBytes` (counted as the stored
    /// payload's length less the 14 bytes of `{"Records":[` `]}`, plus one comma each; a first row bigger than that
    /// is gathered alone), and make a batch when the gathering is full or its earliest row was due at or before
    /// `formBefore`. A formed batch due after a full gathering waits for the next call. Reads the index `(target, next_attempt_at)` and each scanned row's length, then the payloads of
    /// the rows returned only.
    ///
    /// - Returns: nil when nothing is to be sent now.
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func batchCandidate(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp,
        excluding: Set<Int64>
    ) async throws -> BatchCandidate? {
        try await batchCandidates(
            target: target,
            now: now,
            maxRecords: maxRecords,
            maxBytes: maxBytes,
            formBefore: formBefore,
            excluding: excluding,
            limit: 1
        ).first
    }

    /// Up to `limit` batches of `target` to send at `now`, in the order ``batchCandidate(target:now:maxRecords:maxBytes:formBefore:excluding:)``
    /// would hand them out one call after another, from ONE read of the spool: formed batches due again, and new
    /// gatherings of due rows in no batch, each full (or, the last one, earliest row due at or before `formBefore`).
    /// A worker with room for several batches forms them all with one scan and one fsync'd commit.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func batchCandidates(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp,
        excluding: Set<Int64>,
        limit: Int
    ) async throws -> [BatchCandidate] {
        let maxRecords = max(1, maxRecords)
        guard limit > 0 else { return [] }
        return try await read(operation: "batchCandidate") { db in
            /// One row of the scan: its rowid, batch, the bytes it adds to a body, and when it was due.
            struct Scanned {
                let rowID: Int64
                let batchID: String?
                let recordBytes: Int
                let nextAttemptAt: Int64
            }
            let scan = try db.cachedStatement(sql: Self.batchScanSQL)
            let cursor = try ColumnCursor(scan, arguments: [target, now.millisecondsSince1970]) { columns in
                Scanned(
                    rowID: try columns.int64(0),
                    batchID: columns.optionalText(1),
                    recordBytes: max(0, try columns.int(2) - 14) + 1,
                    nextAttemptAt: try columns.int64(3)
                )
            }
            var candidates: [BatchCandidate] = []
            var gatherings: [[Int64]] = []
            var gathered: [Int64] = []
            var earliest: Int64 = 0
            var bodyBytes = 13
            var seenBatches: Set<String> = []
            func found() -> Int { candidates.count + gatherings.count }
            while found() < limit, let row = try cursor.next() {
                if excluding.contains(row.rowID) { continue }
                if let batchID = row.batchID {
                    if seenBatches.contains(batchID) { continue }
                    seenBatches.insert(batchID)
                    let rows = try Self.batchRows(batchID, db: db)
                    if rows.isEmpty || rows.contains(where: { excluding.contains($0.sequence) }) { continue }
                    candidates.append(.formed(batchID: batchID, rows: rows))
                    continue
                }
                if !gathered.isEmpty, bodyBytes + row.recordBytes > maxBytes {
                    gatherings.append(gathered)
                    gathered = []
                    bodyBytes = 13
                    if found() >= limit { break }
                }
                if gathered.isEmpty { earliest = row.nextAttemptAt }
                gathered.append(row.rowID)
                bodyBytes += row.recordBytes
                if gathered.count >= maxRecords || bodyBytes >= maxBytes {
                    gatherings.append(gathered)
                    gathered = []
                    bodyBytes = 13
                }
            }
            // A gathering short of full is a batch only once its earliest row has waited `maxWait`.
            if !gathered.isEmpty, found() < limit, earliest <= formBefore.millisecondsSince1970 {
                gatherings.append(gathered)
            }
            let select = try db.cachedStatement(sql: Self.rowByIDSQL)
            for rowIDs in gatherings {
                var rows: [PendingDelivery] = []
                rows.reserveCapacity(rowIDs.count)
                for rowID in rowIDs {
                    let row = try ColumnCursor(select, arguments: [rowID]) { columns in
                        try PendingDelivery(columns: columns, rowID: rowID)
                    }.next()
                    if let row { rows.append(row) }
                }
                if !rows.isEmpty { candidates.append(.new(rows: rows)) }
            }
            return candidates
        }
    }

    /// Puts `rowIDs` (rows in no batch) in the batch `batchID`, durably (its commit is fsync'd).
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func formBatch(_ batchID: String, rowIDs: [Int64]) async throws {
        try await formBatches([(batchID, rowIDs)])
    }

    /// Puts the rows of each batch (rows in no batch) in it, all in one durable commit (fsync'd).
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func formBatches(_ batches: [(batchID: String, rowIDs: [Int64])]) async throws {
        let batches = batches.filter { !$0.rowIDs.isEmpty }
        guard !batches.isEmpty else { return }
        _ = try await submit(.formBatches(batches))
    }

    /// Removes the rows of a delivered or dead-lettered batch, in the next group commit; rows that are gone are
    /// ignored.
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func complete(rowIDs: [Int64]) async throws {
        guard !rowIDs.isEmpty else { return }
        _ = try await submit(.deleteRows(rowIDs))
    }

    /// Records a failed attempt of a batch: each of `rowIDs` gets these attempts, due time and last outcome, and
    /// stays in its batch. Rows that are gone are ignored.
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func reschedule(
        rowIDs: [Int64],
        attempts: Int,
        nextAttemptAt: Timestamp,
        lastStatus: Int?,
        lastError: String?
    ) async throws {
        guard !rowIDs.isEmpty else { return }
        let reschedules = rowIDs.map {
            Reschedule(
                rowID: $0,
                attempts: attempts,
                nextAttemptAt: nextAttemptAt,
                lastStatus: lastStatus,
                lastError: lastError
            )
        }
        _ = try await submit(.updateRows(reschedules))
    }

    // MARK: - Internals

    package static let batchScanSQL = """
        SELECT rowid, batch_id, length(payload), next_attempt_at FROM deliveries
        WHERE target = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid
        """

    static let rowByIDSQL = """
        SELECT rowid, delivery_id, target, rule, payload, attempts, next_attempt_at, last_status, last_error,
        created_at, traceparent FROM deliveries WHERE rowid = ?
        """

    package static let batchRowsSQL = """
        SELECT rowid, delivery_id, target, rule, payload, attempts, next_attempt_at, last_status, last_error,
        created_at, traceparent FROM deliveries WHERE batch_id = ? ORDER BY rowid
        """

    private static func batchRows(_ batchID: String, db: Database) throws -> [PendingDelivery] {
        let statement = try db.cachedStatement(sql: batchRowsSQL)
        let cursor = try ColumnCursor(statement, arguments: [batchID]) { columns in
            try PendingDelivery(columns: columns, rowID: try columns.int64(0))
        }
        var rows: [PendingDelivery] = []
        while let row = try cursor.next() { rows.append(row) }
        return rows
    }

    static func formBatches(_ batches: [(batchID: String, rowIDs: [Int64])], db: Database) throws {
        let statement = try db.cachedStatement(sql: "UPDATE deliveries SET batch_id = ? WHERE rowid = ?")
        for (batchID, rowIDs) in batches {
            for rowID in rowIDs {
                try statement.execute(arguments: [batchID, rowID])
            }
        }
    }

    static func deleteRows(_ rowIDs: [Int64], db: Database) throws -> Outcome {
        let statement = try db.cachedStatement(sql: SpoolSchema.deleteDelivery)
        var count = 0
        var bytes: Int64 = 0
        for rowID in rowIDs {
            let cursor = try Int64.fetchCursor(statement, arguments: [rowID])
            while let length = try cursor.next() {
                count += 1
                bytes += length
            }
        }
        return .deleted(count: count, bytes: bytes)
    }

    static func updateRows(_ reschedules: [Reschedule], db: Database) throws {
        let statement = try db.cachedStatement(sql: SpoolSchema.rescheduleDelivery)
        for reschedule in reschedules {
            try statement.execute(arguments: [
                reschedule.attempts,
                reschedule.nextAttemptAt.millisecondsSince1970,
                reschedule.lastStatus,
                reschedule.lastError,
                reschedule.rowID,
            ])
        }
    }
}
