import Logging
import RelayCore
import RelayLog
import ServiceLifecycle
import Synchronization

/// The delivery log of one relay on one disk: the SQLite spool (`<data-dir>/spool.sqlite`) for pending deliveries
/// and resend identities, and the dead-letter file (`<data-dir>/dead-letter.jsonl`) for give-ups
/// (docs/architecture.md, "The delivery log").
///
/// Claims live in memory: a claimed row is handed to no other claim of this process until its outcome is committed or
/// it is released; a restart forgets them, so whatever was in flight is due again (at least once).
///
/// As a `Service` it holds the files open while the relay runs and closes them when the service group stops it;
/// place it first in the group so that it stops last.
public final class SQLiteDeliveryLog: DeliveryLog, Service, CustomStringConvertible {
    /// The spool: pending deliveries and resend identities.
    public let spool: Spool
    /// The dead-letter file.
    public let deadLetters: DeadLetterFile
    private let claimed = Mutex<[String: Claims]>([:])

    /// One target's claimed rows, and the ordering keys of those that carry one (docs/delivery.md, "Ordering").
    private struct Claims {
        var rows: Set<Int64> = []
        var keys: Set<String> = []
        var isEmpty: Bool { rows.isEmpty }
    }

    /// Opens (creating if missing) `<directory>/spool.sqlite` and `<directory>/dead-letter.jsonl`.
    ///
    /// Blocks the calling thread for the open and the migration: call it at startup.
    /// - Throws: ``DeliveryLogError`` `.io` or `.diskFull` when either cannot be opened or created.
    public init(directory: String, configuration: SpoolConfiguration = .init(), logger: Logger) throws {
        let deadLetters = try DeadLetterFile(directory: directory)
        do {
            self.spool = try Spool(directory: directory, configuration: configuration, logger: logger)
        } catch {
            deadLetters.close()
            throw error
        }
        self.deadLetters = deadLetters
    }

    /// Wraps an open spool and dead-letter file (tests).
    public init(spool: Spool, deadLetters: DeadLetterFile) {
        self.spool = spool
        self.deadLetters = deadLetters
    }

    public var description: String { "SQLiteDeliveryLog(\(spool.path))" }

    /// Holds the log open until graceful shutdown, then closes it (waiting for submitted writes).
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    public func append(_ records: [RecordDeliveries], at now: Timestamp) async throws -> [AppendOutcome] {
        try await spool.append(records, at: now)
    }

    public func deadLetter(_ letters: [DeadLetter]) async throws {
        try await deadLetters.append(letters)
    }

    public func claim(target: String, now: Timestamp, limit: Int) async throws -> [PendingDelivery] {
        guard limit > 0 else { return [] }
        let excluding = claimed.withLock { $0[target] ?? Claims() }
        let rows = try await spool.due(
            target: target,
            now: now,
            limit: limit,
            excluding: excluding.rows,
            excludingKeys: excluding.keys
        )
        return takeUnheld(rows, of: target)
    }

    /// One read of the spool for both (``Spool/dueAndNextAttemptTime(target:now:limit:excluding:excludingKeys:)``).
    public func claimAndNextDue(
        target: String,
        now: Timestamp,
        limit: Int
    ) async throws -> (claimed: [PendingDelivery], nextDue: Timestamp?) {
        guard limit > 0 else { return ([], nil) }
        let excluding = claimed.withLock { $0[target] ?? Claims() }
        let (rows, next) = try await spool.dueAndNextAttemptTime(
            target: target,
            now: now,
            limit: limit,
            excluding: excluding.rows,
            excludingKeys: excluding.keys
        )
        let taken = takeUnheld(rows, of: target)
        if taken.count < rows.count {
            // Another claim took some of these rows in between: the answer about later rows may be stale too. The
            // rows taken are the caller's now: an error here must not lose them; look again in a second instead.
            return (taken, (try? await nextDue(target: target)) ?? now + .seconds(1))
        }
        return (taken, next)
    }

    /// Holds the rows of `rows` that nobody took since they were read.
    private func takeUnheld(_ rows: [PendingDelivery], of target: String) -> [PendingDelivery] {
        guard !rows.isEmpty else { return [] }
        // Two claims of one target may race: keep only the rows nobody took in between, and at most one row per
        // ordering key (a key's head can change in between, when a lower position arrives).
        return claimed.withLock { claimed in
            // Moved out and back, not copied: a copy would leave two references, and the first insert would copy the
            // whole set (every claim and release of a busy target paid for all the rows it holds).
            var held = claimed.removeValue(forKey: target) ?? Claims()
            var taken: [PendingDelivery] = []
            taken.reserveCapacity(rows.count)
            for row in rows where !held.rows.contains(row.sequence) {
                if let key = row.ordering?.key {
                    guard held.keys.insert(key).inserted else { continue }
                }
                held.rows.insert(row.sequence)
                taken.append(row)
            }
            claimed[target] = held
            return taken
        }
    }

    /// The rows of `target` claimed now.
    func heldRows(target: String) -> Set<Int64> {
        claimed.withLock { $0[target]?.rows ?? [] }
    }

    /// Claims all of `rows` of `target`, or none when another claim holds any of them.
    func hold(_ rows: [PendingDelivery], target: String) -> Bool {
        claimed.withLock { claimed in
            var held = claimed.removeValue(forKey: target) ?? Claims()
            defer { claimed[target] = held.isEmpty ? nil : held }
            guard rows.allSatisfy({ !held.rows.contains($0.sequence) }) else { return false }
            for row in rows { held.rows.insert(row.sequence) }
            return true
        }
    }

    public func nextDue(target: String) async throws -> Timestamp? {
        let excluding = claimed.withLock { $0[target] ?? Claims() }
        return try await spool.nextAttemptTime(
            target: target,
            excluding: excluding.rows,
            excludingKeys: excluding.keys
        )
    }

    public func delivered(_ delivery: PendingDelivery) async throws {
        try await spool.complete(rowID: delivery.sequence)
        release(delivery)
    }

    public func retry(
        _ delivery: PendingDelivery,
        attempts: Int,
        at: Timestamp,
        lastStatus: Int?,
        lastError: String?
    ) async throws {
        try await spool.reschedule(
            rowID: delivery.sequence,
            attempts: attempts,
            nextAttemptAt: at,
            lastStatus: lastStatus,
            lastError: lastError
        )
        release(delivery)
    }

    public func deadLetter(_ delivery: PendingDelivery, _ letter: DeadLetter) async throws {
        // The line first: if the process dies between the two, the delivery is dead-lettered twice, never lost.
        // A caller that retries after a failed removal appends the line again: the same at-least-once.
        try await deadLetters.append([letter])
        try await spool.removeDeadLettered(rowID: delivery.sequence)
        release(delivery)
    }

    /// Reads the dead-letter file (under its shared lock) and keeps its last `limit` letters.
    public func recentDeadLetters(limit: Int) async throws -> [DeadLetter] {
        guard limit > 0 else { return [] }
        let path = deadLetters.path
        let entries = try DeadLetterFile.read(path: path)
        return Array(entries.compactMap(\.letter).suffix(limit))
    }

    public func release(_ delivery: PendingDelivery) {
        release(CollectionOfOne(delivery), target: delivery.target)
    }

    /// Releases the claims of `deliveries` (all of `target`) under one lock.
    func release(_ deliveries: some Sequence<PendingDelivery>, target: String) {
        claimed.withLock { claimed in
            guard var held = claimed.removeValue(forKey: target) else { return }
            for delivery in deliveries where held.rows.remove(delivery.sequence) != nil {
                if let key = delivery.ordering?.key { held.keys.remove(key) }
            }
            if !held.isEmpty { claimed[target] = held }
        }
    }

    public func pendingTargets() async throws -> [String] {
        try await spool.pendingTargets()
    }

    public func pendingCount(target: String) async throws -> Int {
        try await spool.pendingCount(target: target)
    }

    public func oldestPending(target: String) async throws -> Timestamp? {
        try await spool.oldestPending(target: target)
    }

    /// Ordered deliveries (``NewDelivery/ordering``) are handed out one per key, in order (docs/delivery.md,
    /// "Ordering").
    public var ordersByKey: Bool { true }

    public var totals: DeliveryLogTotals {
        DeliveryLogTotals(
            pendingCount: spool.pendingCount,
            pendingBytes: spool.pendingBytes,
            resendIdentities: spool.resendIdentityCount
        )
    }

    public func isWritable() async -> Bool {
        await spool.isWritable()
    }

    public func close() async {
        await spool.close()
        deadLetters.close()
    }
}
