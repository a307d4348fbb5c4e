import RelayCore

/// What ingress and delivery need of durable storage: the seam between them and the store
/// (docs/architecture.md, "The delivery log").
///
/// Ingress appends one request's deliveries, with each record's resend identity, in one atomic step and answers its
/// sender 2xx only after that step returned. Delivery claims due deliveries per target and records, for each, exactly
/// one outcome: delivered, retried at a time, or dead-lettered. The SQLite spool is the first implementation; a
/// stream-backed one can follow behind the same protocol. Every implementation passes the same contract test suite.
///
/// Errors are ``DeliveryLogError`` (`full`, `diskFull`, `io`, `closed`, `unavailable`) or `CancellationError` for a
/// read whose task was cancelled. A write that throws wrote nothing.
public protocol DeliveryLog: Sendable {
    /// Durably appends one request's deliveries, all or nothing, and returns once they are committed (fsync'd).
    ///
    /// Each element is one event record's deliveries with its resend identity. An element whose identity was seen
    /// within the resend window (by an earlier append, a concurrent one, or an earlier element of `records`) is a
    /// resend: nothing of it is appended and its outcome is ``AppendOutcome/duplicate``. The check and the write are
    /// one step, so N concurrent appends of the same identity append it once.
    ///
    /// - Parameters:
    ///   - records: The records' deliveries; elements with no deliveries are ignored (outcome `appended([])`).
    ///   - now: The time the identities are remembered at.
    /// - Returns: One outcome per element, in order.
    /// - Throws: ``DeliveryLogError`` `.full` before writing anything when the log would exceed its cap; `.diskFull`,
    ///   `.io`, `.unavailable`, `.closed`.
    func append(_ records: [RecordDeliveries], at now: Timestamp) async throws -> [AppendOutcome]

    /// Durably records dead letters that belong to no pending delivery (undecodable input).
    /// - Throws: ``DeliveryLogError``.
    func deadLetter(_ letters: [DeadLetter]) async throws

    /// Claims up to `limit` deliveries of `target` due at `now` (earliest due first), which no one else holds.
    ///
    /// A claimed delivery is handed to no other claim until the caller records its outcome or releases it. When the
    /// log ``ordersByKey``, a delivery with an ``NewDelivery/ordering`` is handed out only while it is its key's head
    /// (the lowest position among the key's pending deliveries, due or not) and no delivery of its key is claimed.
    /// - Returns: At most `limit` deliveries; none when `limit` is 0 or less.
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func claim(target: String, now: Timestamp, limit: Int) async throws -> [PendingDelivery]

    /// When the earliest unclaimed delivery of `target` that a claim could hand out is due; `nil` when there is none.
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func nextDue(target: String) async throws -> Timestamp?

    /// ``claim(target:now:limit:)``, then, when it handed out fewer than `limit`, ``nextDue(target:)`` as it would
    /// answer right after: what a delivery worker asks on every pass. A log may answer both from one read (the SQLite
    /// spool does); the default calls the two.
    /// - Returns: the claimed deliveries, and when to look again (`nil`: no delivery that a claim could hand out, or
    ///   `limit` were claimed and the caller should look again at once).
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func claimAndNextDue(
        target: String,
        now: Timestamp,
        limit: Int
    ) async throws -> (claimed: [PendingDelivery], nextDue: Timestamp?)

    /// Records that a claimed delivery was delivered: it is no longer pending.
    /// - Throws: ``DeliveryLogError``; the delivery then stays claimed, and the caller tries again.
    func delivered(_ delivery: PendingDelivery) async throws

    /// Records a failed attempt of a claimed delivery: it is due again at `at`, with `attempts` counted attempts.
    /// - Throws: ``DeliveryLogError``; the delivery then stays claimed, and the caller tries again.
    func retry(
        _ delivery: PendingDelivery,
        attempts: Int,
        at: Timestamp,
        lastStatus: Int?,
        lastError: String?
    )
        async throws

    /// Records that a claimed delivery was given up: `letter` is written to the dead letters, then the delivery is no
    /// longer pending (if the process dies in between, the letter may be written twice, never lost).
    /// - Throws: ``DeliveryLogError``; the delivery then stays claimed, and the caller tries again.
    func deadLetter(_ delivery: PendingDelivery, _ letter: DeadLetter) async throws

    // MARK: Batches (docs/delivery.md, "Batches")

    /// Whether the log forms stable batches. A log that does not is served by the default implementations below,
    /// which hand out batches of one delivery (each record sent alone, its own id), so a batched target still works.
    var supportsBatches: Bool { get }

    /// Claims the next due batch of `target`, which no one else holds: a batch formed earlier and due again (a retry:
    /// the same members, the same id), or else a new one formed of due deliveries that belong to no batch, earliest
    /// first, at most `maxRecords` of them and no more than fit in a body of `maxBytes` (one delivery alone when it is
    /// bigger). A new batch is formed only when it is full (the next due delivery would not fit) or its earliest
    /// delivery was due at or before `formBefore` (it has waited `maxWait`); forming is durable before this returns.
    /// - Returns: The batch, or nil when nothing is to be sent now (see ``nextDue(target:)`` for when to look again).
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func claimBatch(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp
    ) async throws -> PendingBatch?

    /// Claims up to `limit` due batches of `target` at once, as that many calls of
    /// ``claimBatch(target:now:maxRecords:maxBytes:formBefore:)`` would, in the order they would return them; forming
    /// is durable before this returns (one commit for all of them where the log can).
    /// - Returns: The batches, none when nothing is to be sent now.
    /// - Throws: ``DeliveryLogError``, `CancellationError`; no batch is then claimed.
    func claimBatches(
        target: String,
        now: Timestamp,
        maxRecords: Int,
        maxBytes: Int,
        formBefore: Timestamp,
        limit: Int
    ) async throws -> [PendingBatch]

    /// Records that a claimed batch was delivered: none of its members is pending any more.
    /// - Throws: ``DeliveryLogError``; the batch then stays claimed, and the caller tries again.
    func delivered(_ batch: PendingBatch) async throws

    /// Records a failed attempt of a claimed batch: all its members are due again at `at` with `attempts`, and stay
    /// one batch.
    /// - Throws: ``DeliveryLogError``; the batch then stays claimed, and the caller tries again.
    func retry(_ batch: PendingBatch, attempts: Int, at: Timestamp, lastStatus: Int?, lastError: String?) async throws

    /// Records that a claimed batch was given up: `letter` (one line for the whole batch, with the payload sent and
    /// the members' ids) is written, then no member is pending (a crash in between may write the letter twice).
    /// - Throws: ``DeliveryLogError``; the batch then stays claimed, and the caller tries again.
    func deadLetter(_ batch: PendingBatch, _ letter: DeadLetter) async throws

    /// Gives a claimed batch back unchanged (its attempt did not happen); it stays one batch.
    func release(_ batch: PendingBatch)

    /// The newest dead letters, oldest first: at most `limit` of them.
    /// - Throws: ``DeliveryLogError``.
    func recentDeadLetters(limit: Int) async throws -> [DeadLetter]

    /// Gives a claimed delivery back unchanged (its attempt did not happen, e.g. at shutdown).
    func release(_ delivery: PendingDelivery)

    /// The targets that have pending deliveries, sorted.
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func pendingTargets() async throws -> [String]

    /// The pending deliveries of `target`, claimed ones included.
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func pendingCount(target: String) async throws -> Int

    /// When the oldest pending delivery of `target` (claimed ones included) was created; `nil` when it has none.
    /// - Throws: ``DeliveryLogError``, `CancellationError`.
    func oldestPending(target: String) async throws -> Timestamp?

    /// Whether claims keep the order of ``NewDelivery/ordering`` (docs/delivery.md, "Ordering"); a log that does not
    /// hands ordered deliveries out as any other. Default `false`.
    var ordersByKey: Bool { get }

    /// Pending deliveries, their bytes and the resend identities held, committed.
    var totals: DeliveryLogTotals { get }

    /// Whether the log can commit a write now (for `/readyz`).
    func isWritable() async -> Bool

    /// Waits for submitted writes, then closes the store; later calls throw ``DeliveryLogError`` `.closed`.
    /// Calling it twice is harmless.
    func close() async
}

extension DeliveryLog {
    public func claimAndNextDue(
        target: String,
        now: Timestamp,
        limit: Int
    ) async throws -> (claimed: [PendingDelivery], nextDue: Timestamp?) {
        let claimed = try await claim(target: target, now: now, limit: limit)
        guard claimed.count < limit else { return (claimed, nil) }
        do {
            return (claimed, try await nextDue(target: target))
        } catch {
            // What was claimed is the caller's now: an error here must not lose it (it would stay claimed, never
            // attempted). The caller looks again in a second instead.
            if claimed.isEmpty { throw error }
            return (claimed, now + .seconds(1))
        }
    }
}
