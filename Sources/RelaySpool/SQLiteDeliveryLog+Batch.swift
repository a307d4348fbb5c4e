import RelayCore
import RelayLog

// Batches in the SQLite spool (docs/delivery.md, "Batches"): a batch is formed at its first claim (its rows get its
// id in `batch_id`, fsync'd), and its rows are claimed, retried and removed together from then on.
extension SQLiteDeliveryLog {
    public var supportsBatches: Bool { true }

    public func claimBatch(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp
    ) async throws -> PendingBatch? {
        try await claimBatches(
            target: target,
            now: now,
            maxRecords: maxRecords,
            maxBytes: maxBytes,
            formBefore: formBefore,
            limit: 1
        ).first
    }

    /// One scan of the spool for all of them, and one fsync'd commit that forms the new ones.
    public func claimBatches(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp,
        limit: Int
    ) async throws -> [PendingBatch] {
        let candidates = try await spool.batchCandidates(
            target: target,
            now: now,
            maxRecords: maxRecords,
            maxBytes: maxBytes,
            formBefore: formBefore,
            excluding: heldRows(target: target),
            limit: limit
        )
        var batches: [PendingBatch] = []
        var forming: [(batchID: String, rowIDs: [Int64])] = []
        for candidate in candidates {
            switch candidate {
            case .formed(let batchID, let rows):
                guard hold(rows, target: target) else { continue }
                batches.append(PendingBatch(batchID: batchID, target: target, members: rows))
            case .new(let rows):
                guard hold(rows, target: target) else { continue }
                let batchID = PendingBatch.id(members: rows.map(\.deliveryID))
                batches.append(PendingBatch(batchID: batchID, target: target, members: rows))
                forming.append((batchID, rows.map(\.sequence)))
            }
        }
        do {
            try await spool.formBatches(forming)
        } catch {
            for batch in batches { release(batch) }
            throw error
        }
        return batches
    }

    public func delivered(_ batch: PendingBatch) async throws {
        try await spool.complete(rowIDs: batch.members.map(\.sequence))
        release(batch)
    }

    public func retry(
        _ batch: PendingBatch,
        attempts: Int,
        at: Timestamp,
        lastStatus: Int?,
        lastError: String?
    ) async throws {
        try await spool.reschedule(
            rowIDs: batch.members.map(\.sequence),
            attempts: attempts,
            nextAttemptAt: at,
            lastStatus: lastStatus,
            lastError: lastError
        )
        release(batch)
    }

    public func deadLetter(_ batch: PendingBatch, _ letter: DeadLetter) async throws {
        // The line first, as for one delivery: a crash in between writes it twice, never loses it.
        try await deadLetters.append([letter])
        try await spool.complete(rowIDs: batch.members.map(\.sequence))
        release(batch)
    }

    public func release(_ batch: PendingBatch) {
        release(batch.members, target: batch.target)
    }
}
