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
        let maxRecords = max(1, maxRecords)
        return try await read(operation: "batchCandidate") { db in
            let scan = try db.cachedStatement(sql: Self.batchScanSQL)
            let cursor = try Row.fetchCursor(scan, arguments: [target, now.millisecondsSince1970])
            var gathered: [Int64] = []
            var earliest: Int64?
            var bodyBytes = 13
            var full = false
            var skippedBatches: Set<String> = []
            while let row = try cursor.next() {
                let rowID = try row.decode(Int64.self, atIndex: 0)
                if excluding.contains(rowID) { continue }
                if let batchID = try row.decode(String?.self, atIndex: 1) {
                    if skippedBatches.contains(batchID) { continue }
                    let rows = try Self.batchRows(batchID, db: db)
                    if rows.isEmpty || rows.contains(where: { excluding.contains($0.sequence) }) {
                        skippedBatches.insert(batchID)
                        continue
                    }
                    return .formed(batchID: batchID, rows: rows)
                }
                if full { break }
                let recordBytes = max(0, try row.decode(Int.self, atIndex: 2) - 14) + 1
                if !gathered.isEmpty, bodyBytes + recordBytes > maxBytes {
                    full = true
                    break
                }
                if gathered.isEmpty { earliest = try row.decode(Int64.self, atIndex: 3) }
                gathered.append(rowID)
                bodyBytes += recordBytes
                if gathered.count >= maxRecords || bodyBytes >= maxBytes { full = true }
            }
            guard let earliest, full || earliest <= formBefore.millisecondsSince1970 else { return nil }
            let select = try db.cachedStatement(sql: Self.rowByIDSQL)
            var rows: [PendingDelivery] = []
            rows.reserveCapacity(gathered.count)
            for rowID in gathered {
                guard let row = try Row.fetchOne(select, arguments: [rowID]) else { continue }
                rows.append(try PendingDelivery(row: row, rowID: rowID))
            }
            return rows.isEmpty ? nil : .new(rows: rows)
        }
    }

    /// Puts `rowIDs` (rows in no batch) in the batch `batchID`, durably (its commit is fsync'd).
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func formBatch(_ batchID: String, rowIDs: [Int64]) async throws {
        guard !rowIDs.isEmpty else { return }
        _ = try await submit(.formBatch(batchID, rowIDs: rowIDs))
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
        let cursor = try Row.fetchCursor(statement, arguments: [batchID])
        var rows: [PendingDelivery] = []
        while let row = try cursor.next() {
            rows.append(try PendingDelivery(row: row, rowID: try row.decode(Int64.self, atIndex: 0)))
        }
        return rows
    }

    static func formBatch(_ batchID: String, rowIDs: [Int64], db: Database) throws {
        let statement = try db.cachedStatement(sql: "UPDATE deliveries SET batch_id = ? WHERE rowid = ?")
        for rowID in rowIDs {
            try statement.execute(arguments: [batchID, rowID])
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
