import RelayCore

// The batch operations of a log that forms no batches: batches of one delivery, through the single-delivery calls.
extension DeliveryLog {
    public var supportsBatches: Bool { false }

    /// Claims one due delivery as a batch of one, its id the delivery's own id.
    public func claimBatch(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp
    ) async throws -> PendingBatch? {
        guard let delivery = try await claim(target: target, now: now, limit: 1).first else { return nil }
        return PendingBatch(batchID: delivery.deliveryID, target: target, members: [delivery])
    }

    /// One ``claimBatch(target:now:maxRecords:maxBytes:formBefore:)`` after another, until `limit` or none is due.
    public func claimBatches(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp,
        limit: Int
    ) async throws -> [PendingBatch] {
        var batches: [PendingBatch] = []
        while batches.count < limit {
            let batch: PendingBatch?
            do {
                batch = try await claimBatch(
                    target: target,
                    now: now,
                    maxRecords: maxRecords,
                    maxBytes: maxBytes,
                    formBefore: formBefore
                )
            } catch {
                // What was claimed stays usable: hand it out (the error comes back at the next claim).
                if batches.isEmpty { throw error }
                break
            }
            guard let batch else { break }
            batches.append(batch)
        }
        return batches
    }

    public func delivered(_ batch: PendingBatch) async throws {
        for member in batch.members { try await delivered(member) }
    }

    public func retry(
        _ batch: PendingBatch,
        attempts: Int,
        at: Timestamp,
        lastStatus: Int?,
        lastError: String?
    ) async throws {
        for member in batch.members {
            try await retry(member, attempts: attempts, at: at, lastStatus: lastStatus, lastError: lastError)
        }
    }

    /// Dead-letters each member with `letter` (a batch of one: the letter itself).
    public func deadLetter(_ batch: PendingBatch, _ letter: DeadLetter) async throws {
        for member in batch.members { try await deadLetter(member, letter) }
    }

    public func release(_ batch: PendingBatch) {
        for member in batch.members { release(member) }
    }
}
