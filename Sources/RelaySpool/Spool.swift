import Dispatch
import Foundation
import GRDB
import Logging
import RelayCore
import RelayLog
import Synchronization

/// The durable spool of pending deliveries: `<data-dir>/spool.sqlite`, SQLite in WAL mode with
/// `synchronous=FULL` (each commit is fsync'd), through GRDB.
///
/// The storage engine behind ``SQLiteDeliveryLog``: pending deliveries and the resend identities of the resend window
/// (docs/architecture.md, "The delivery log").
///
/// Writes (``append(_:at:)``, ``complete(rowID:)``, ``reschedule(rowID:attempts:nextAttemptAt:lastStatus:lastError:)``,
/// ``isWritable()``) go through one writer that drains every operation waiting at that moment (at most
/// ``SpoolConfiguration/maxBatch``) into ONE transaction and one fsync, then resumes every caller: group commit.
/// The writer is a plain `Task` started when an operation arrives and no writer runs; it ends when the queue is
/// empty, so the caller has nothing to run or stop besides ``close()``. Database work runs on GRDB's own dispatch
/// queues, never blocking the Swift concurrency pool.
///
/// A write call cannot be cancelled once submitted: it returns only when the outcome is known (committed or failed).
/// A failed transaction (disk full, I/O error) fails every call of that group commit with the same error; nothing
/// of it is written.
///
/// Reads (``due(target:now:limit:excluding:excludingKeys:)``, ``nextAttemptTime(target:excluding:excludingKeys:)``, ``pendingTargets()``) run
/// on WAL reader connections concurrently with the writer and see committed rows only. No read loads all pending
/// rows: the backlog stays on disk.
///
/// The spool holds pending deliveries only: a completed row is deleted. Row ids are never reused
/// (`AUTOINCREMENT`), so a stale row id can never designate another delivery.
public final class Spool: Sendable {
    /// The name of the database file inside the data directory.
    public static let fileName = "spool.sqlite"

    /// The path of the database file.
    public let path: String
    /// The limits given at open.
    public let configuration: SpoolConfiguration

    let pool: DatabasePool
    let logger: Logger
    let state: Mutex<State>
    /// Whether the writer connection is at `synchronous=FULL` (true), `NORMAL` (false) or unknown after a failed
    /// `PRAGMA` (nil). Used by the writer only; see `Spool.commit`.
    let writerSynchronousFull = Mutex<Bool?>(true)

    /// Opens or creates `<directory>/spool.sqlite`, creating the directory (and its parents) if missing, in WAL mode
    /// with `synchronous=FULL`, and migrates the schema. Counts the pending rows and their payload bytes
    /// (``pendingCount``, ``pendingBytes``) without loading them.
    ///
    /// This blocks the calling thread for the time of the open and migration: call it at startup.
    ///
    /// - Parameters:
    ///   - directory: The data directory (`--data-dir`).
    ///   - configuration: The caps and the batch size.
    ///   - logger: Receives write failures and open information.
    /// - Throws: ``SpoolError`` `.io` if the directory or the file cannot be created or opened, if WAL mode cannot be
    ///   enabled, or if the file is not a spool; `.diskFull` if the disk is full.
    public init(directory: String, configuration: SpoolConfiguration = .init(), logger: Logger) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        try DataDirectoryFiles.createDirectory(directory)
        try DataDirectoryFiles.prepareDatabase(path)
        var databaseConfiguration = Configuration()
        databaseConfiguration.label = "RelaySpool"
        databaseConfiguration.journalMode = .wal
        databaseConfiguration.busyMode = .timeout(10)
        databaseConfiguration.maximumReaderCount = 4
        let pool: DatabasePool
        let counts: (count: Int, bytes: Int64, identities: Int, oldest: Int64?)
        do {
            pool = try DatabasePool(path: path, configuration: databaseConfiguration)
            try pool.writeWithoutTransaction { db in
                // GRDB sets synchronous=NORMAL with WAL (no fsync per commit): the spool needs FULL.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // Truncates the WAL file to 64 MiB after a checkpoint that emptied it.
                try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
                let journalMode = try String.fetchOne(db, sql: "PRAGMA journal_mode")
                guard journalMode?.lowercased() == "wal" else {
                    throw SpoolError(
                        code: .io,
                        message: "\(path): journal_mode is \(journalMode ?? "unknown"), not wal; put --data-dir "
                            + "on a local file system that supports shared memory (mmap)"
                    )
                }
                let synchronous = try Int.fetchOne(db, sql: "PRAGMA synchronous")
                guard synchronous == 2 else {
                    throw SpoolError(
                        code: .io,
                        message: "\(path): PRAGMA synchronous is \(synchronous.map(String.init) ?? "unknown"), "
                            + "not FULL (2)"
                    )
                }
            }
            try SpoolSchema.migrator.migrate(pool)
            counts = try pool.read { db in
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT count(*), coalesce(sum(length(payload)), 0) FROM deliveries"
                )
                let identities = try Int.fetchOne(db, sql: "SELECT count(*) FROM resend_identities") ?? 0
                let oldest = try Int64.fetchOne(db, sql: "SELECT min(seen_at) FROM resend_identities")
                guard let row else { return (0, 0, identities, oldest) }
                return (
                    try row.decode(Int.self, atIndex: 0), try row.decode(Int64.self, atIndex: 1), identities, oldest
                )
            }
        } catch {
            throw SpoolError(error, path: path, operation: "open")
        }
        self.path = path
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
        self.state = Mutex(
            State(
                pendingCount: counts.count,
                pendingBytes: counts.bytes,
                resendIdentities: counts.identities,
                oldestIdentity: counts.oldest.map(Timestamp.init(millisecondsSince1970:))
            )
        )
        logger.info(
            "spool opened",
            metadata: [
                "spool.path": "\(path)",
                "spool.pending_count": "\(counts.count)",
                "spool.pending_bytes": "\(counts.bytes)",
                "spool.resend_identities": "\(counts.identities)",
            ]
        )
    }

    // MARK: - Counters

    /// The pending deliveries, committed (kept in memory; counted at open).
    public var pendingCount: Int { state.withLock { $0.pendingCount } }

    /// The payload bytes of the pending deliveries, committed (kept in memory; counted at open).
    public var pendingBytes: Int64 { state.withLock { $0.pendingBytes } }

    /// The resend identities held for the resend window, committed.
    public var resendIdentityCount: Int { state.withLock { $0.resendIdentities } }

    /// The write transactions committed since open: each is one group commit and one fsync. For tests and metrics.
    public var commitCount: Int { state.withLock { $0.commitCount } }

    // MARK: - Writes

    /// Durably records the deliveries of one request with their records' resend identities: returns once they are
    /// committed and fsync'd, in one transaction shared with every concurrent caller waiting at that moment (group
    /// commit). All or nothing. The resend check runs inside that transaction, after every operation committed before
    /// it, so N concurrent appends of one identity append it once (see ``DeliveryLog/append(_:at:)``).
    ///
    /// - Returns: One outcome per element of `records`; `appended` carries the new row ids in order.
    /// - Throws: ``SpoolError`` `.full` before writing anything when the pending rows plus these (and plus those
    ///   of appends not yet committed) would exceed a cap; `.diskFull` on SQLITE_FULL; `.io` on other SQLite and
    ///   I/O errors; `.closed` after ``close()``.
    public func append(_ records: [RecordDeliveries], at now: Timestamp) async throws -> [AppendOutcome] {
        var count = 0
        var bytes: Int64 = 0
        for record in records {
            count += record.deliveries.count
            for delivery in record.deliveries { bytes += Int64(delivery.payload.count) }
        }
        if count == 0 { return records.map { _ in .appended(sequences: []) } }
        let outcome = try await submit(.append(records, now: now, count: count, bytes: bytes))
        guard case .appended(let outcomes, _, _, _) = outcome, outcomes.count == records.count else {
            throw SpoolError(code: .io, message: "the spool writer returned an unexpected result for an append")
        }
        return outcomes
    }

    /// Appends deliveries that carry no resend identity; see ``append(_:at:)``.
    ///
    /// - Returns: The stored rows, in the order given, with `attempts` 0 and no last status or error.
    public func enqueue(_ deliveries: [NewDelivery]) async throws -> [PendingDelivery] {
        if deliveries.isEmpty { return [] }
        let now = deliveries[0].createdAt
        let outcomes = try await append([RecordDeliveries(identity: nil, deliveries: deliveries)], at: now)
        guard case .appended(let rowIDs) = outcomes.first, rowIDs.count == deliveries.count else {
            throw SpoolError(code: .io, message: "the spool writer returned an unexpected result for an insert")
        }
        return zip(deliveries, rowIDs).map { delivery, rowID in
            PendingDelivery(
                sequence: rowID,
                deliveryID: delivery.deliveryID,
                target: delivery.target,
                rule: delivery.rule,
                payload: delivery.payload,
                attempts: 0,
                nextAttemptAt: delivery.nextAttemptAt,
                lastStatus: nil,
                lastError: nil,
                createdAt: delivery.createdAt,
                traceparent: delivery.traceparent,
                ordering: delivery.ordering
            )
        }
    }

    /// Removes a delivered row, in the next group commit. Removing a row that is gone is not an error.
    ///
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`. A failed removal leaves the row pending, which at
    ///   worst causes a duplicate delivery.
    public func complete(rowID: Int64) async throws {
        _ = try await submit(.delete(rowID))
    }

    /// Removes a row that was written to the dead-letter file. Same as ``complete(rowID:)``; a separate name for
    /// readability at the call site.
    public func removeDeadLettered(rowID: Int64) async throws {
        _ = try await submit(.delete(rowID))
    }

    /// Records a failed attempt of a row, in the next group commit. A row that is gone is ignored.
    ///
    /// - Parameters:
    ///   - rowID: The row.
    ///   - attempts: The attempts made so far, this one included.
    ///   - nextAttemptAt: When the next attempt is due.
    ///   - lastStatus: The HTTP status of this attempt, `nil` if no response came.
    ///   - lastError: The error of this attempt, `nil` if none.
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func reschedule(
        rowID: Int64,
        attempts: Int,
        nextAttemptAt: Timestamp,
        lastStatus: Int?,
        lastError: String?
    ) async throws {
        _ = try await submit(
            .update(
                Reschedule(
                    rowID: rowID,
                    attempts: attempts,
                    nextAttemptAt: nextAttemptAt,
                    lastStatus: lastStatus,
                    lastError: lastError
                )
            )
        )
    }

    /// Checks that the spool can commit a write, for `/readyz`: a one-row write through the group-commit writer
    /// (it shares the fsync of concurrent callers).
    ///
    /// - Returns: `false` when closed, or when the write failed (disk full, I/O error; the writer logs why).
    public func isWritable() async -> Bool {
        do {
            _ = try await submit(.probe)
            return true
        } catch {
            return false
        }
    }

    /// Stops accepting operations, waits for the operations already submitted to be committed, then closes the
    /// database (checkpointing the WAL). Later calls throw ``SpoolError`` `.closed`. Calling it twice is harmless.
    public func close() async {
        let writerRunning = state.withLock { state in
            state.closed = true
            return state.writerRunning
        }
        if writerRunning {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    guard state.writerRunning else { return true }
                    state.drainWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        let mustClose = state.withLock { state in
            defer { state.databaseClosed = true }
            return !state.databaseClosed
        }
        guard mustClose else { return }
        let pool = self.pool
        let logger = self.logger
        let path = self.path
        // `DatabasePool.close()` is synchronous and may checkpoint (fsync): keep it off the concurrency pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                do {
                    try pool.close()
                } catch {
                    logger.error(
                        "spool close failed",
                        metadata: ["spool.path": "\(path)", "error.message": "\(error)"]
                    )
                }
                continuation.resume()
            }
        }
    }

    // MARK: - Reads

    /// Up to `limit` rows of `target` due at `now` (`nextAttemptAt <= now`), earliest `nextAttemptAt` first (then
    /// oldest row), skipping the rows in `excluding` (rows in flight) and, of the ordered rows, all but each key's
    /// head and the heads of the keys in `excludingKeys` (keys with a delivery in flight; docs/delivery.md,
    /// "Ordering"). Uses the partial index `deliveries_ready` on `(target, next_attempt_at)`; reads at most
    /// `limit + excluding.count + excludingKeys.count + 1` rows.
    ///
    /// - Parameters:
    ///   - target: The target name.
    ///   - now: The current time.
    ///   - limit: The most rows to return; 0 or less returns none.
    ///   - excluding: Row ids to skip.
    ///   - excludingKeys: Ordering keys (``DeliveryOrdering/key``) whose heads to skip.
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func due(
        target: String,
        now: Timestamp,
        limit: Int,
        excluding: Set<Int64>,
        excludingKeys: Set<String> = []
    ) async throws -> [PendingDelivery] {
        try await dueAndNextAttemptTime(
            target: target,
            now: now,
            limit: limit,
            excluding: excluding,
            excludingKeys: excludingKeys
        ).due
    }

    /// ``due(target:now:limit:excluding:excludingKeys:)`` and, when it found fewer than `limit` rows, the earliest
    /// `nextAttemptAt` after `now` of a row it could hand out later (what
    /// ``nextAttemptTime(target:excluding:excludingKeys:)`` answers once those rows are held), in one read of
    /// `deliveries_ready`: a delivery worker's pass costs one read of the spool, not two. Rows not yet due are read
    /// only as far as their `rowid`, `next_attempt_at` and `ordering_key`.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func dueAndNextAttemptTime(
        target: String,
        now: Timestamp,
        limit: Int,
        excluding: Set<Int64>,
        excludingKeys: Set<String> = []
    ) async throws -> (due: [PendingDelivery], next: Timestamp?) {
        guard limit > 0 else { return ([], nil) }
        let now = now.millisecondsSince1970
        return try await read(operation: "due") { db in
            let statement = try db.cachedStatement(sql: Self.readySQL)
            enum Step {
                case skip
                case due(PendingDelivery)
                case later(Timestamp)
            }
            let cursor = try ColumnCursor(statement, arguments: [target]) { columns -> Step in
                let rowID = try columns.int64(0)
                if excluding.contains(rowID) { return .skip }
                if !excludingKeys.isEmpty, let key = columns.optionalText(11), excludingKeys.contains(key) {
                    return .skip
                }
                let nextAttemptAt = try columns.int64(6)
                guard nextAttemptAt <= now else { return .later(Timestamp(millisecondsSince1970: nextAttemptAt)) }
                return .due(try PendingDelivery(columns: columns, rowID: rowID))
            }
            var rows: [PendingDelivery] = []
            while let step = try cursor.next() {
                switch step {
                case .skip:
                    continue
                case .due(let row):
                    rows.append(row)
                    if rows.count >= limit { return (rows, nil) }
                case .later(let next):
                    return (rows, next)
                }
            }
            return (rows, nil)
        }
    }

    /// The earliest `nextAttemptAt` of `target`'s rows that ``due(target:now:limit:excluding:excludingKeys:)`` could
    /// hand out, skipping the rows in `excluding` and the heads of the keys in `excludingKeys`; `nil` if there is
    /// none. Reads the partial index `deliveries_ready`, and each row it passes.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func nextAttemptTime(
        target: String,
        excluding: Set<Int64>,
        excludingKeys: Set<String> = []
    ) async throws -> Timestamp? {
        try await read(operation: "nextAttemptTime") { db in
            let statement = try db.cachedStatement(sql: Self.nextAttemptSQL)
            let cursor = try ColumnCursor(statement, arguments: [target]) { columns -> Timestamp? in
                if excluding.contains(try columns.int64(0)) { return nil }
                if !excludingKeys.isEmpty, let key = columns.optionalText(2), excludingKeys.contains(key) {
                    return nil
                }
                return Timestamp(millisecondsSince1970: try columns.int64(1))
            }
            while let next = try cursor.next() {
                if let next { return next }
            }
            return nil
        }
    }

    /// The distinct targets that have pending rows, sorted, for resuming at startup. One index seek per target.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func pendingTargets() async throws -> [String] {
        try await read(operation: "pendingTargets") { db in
            var targets: [String] = []
            var next = try String.fetchOne(db, sql: "SELECT min(target) FROM deliveries")
            let statement = try db.cachedStatement(sql: "SELECT min(target) FROM deliveries WHERE target > ?")
            while let target = next {
                targets.append(target)
                next = try String.fetchOne(statement, arguments: [target])
            }
            return targets
        }
    }

    /// The pending rows of `target`. Reads the index only.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func pendingCount(target: String) async throws -> Int {
        try await read(operation: "pendingCount") { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM deliveries WHERE target = ?", arguments: [target]) ?? 0
        }
    }

    /// When the oldest pending row of `target` was created; `nil` if it has none. Seeks the target in its index and
    /// reads each of its rows: a status read, not for the delivery path.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func oldestPending(target: String) async throws -> Timestamp? {
        try await read(operation: "oldestPending") { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT min(created_at) FROM deliveries WHERE target = ?",
                arguments: [target]
            ).map(Timestamp.init(millisecondsSince1970:))
        }
    }

    // MARK: - Internals

    /// Every row a claim could hand out, due or not, earliest first: what
    /// ``dueAndNextAttemptTime(target:now:limit:excluding:excludingKeys:)`` and
    /// ``due(target:now:limit:excluding:excludingKeys:)`` read; they stop at the first row not yet due. Rows waiting
    /// behind their key's head (`queued = 1`, docs/delivery.md, "Ordering") are not read: the partial index
    /// `deliveries_ready` holds only the others.
    package static let readySQL = """
        SELECT rowid, delivery_id, target, rule, payload, attempts, next_attempt_at, last_status, last_error,
        created_at, traceparent, ordering_key, ordering_position FROM deliveries INDEXED BY deliveries_ready
        WHERE target = ? AND queued = 0 ORDER BY next_attempt_at, rowid
        """

    package static let nextAttemptSQL = """
        SELECT rowid, next_attempt_at, ordering_key FROM deliveries INDEXED BY deliveries_ready
        WHERE target = ? AND queued = 0 ORDER BY next_attempt_at, rowid
        """

    /// The value of `PRAGMA <name>` on the writer connection, for tests.
    package func writerPragma(_ name: String) async throws -> String? {
        try await pool.writeWithoutTransaction { db in
            try String.fetchOne(db, sql: "PRAGMA \(name)")
        }
    }

    /// The `EXPLAIN QUERY PLAN` details of `sql` with `arguments`, for tests that check index use.
    package func queryPlan(_ sql: String, arguments: [String]) async throws -> [String] {
        try await read(operation: "queryPlan") { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments))
                .map { try $0.decode(String.self, atIndex: 3) }
        }
    }

    func read<T: Sendable>(
        operation: String,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        if state.withLock({ $0.closed }) { throw SpoolError.closed(path: path) }
        do {
            // No read needs one snapshot across its statements (each SELECT runs in a snapshot of its own), so no
            // explicit read transaction: its BEGIN and COMMIT are parsed anew each time, a third of a read's cost.
            return try await pool.unsafeRead(body)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if state.withLock({ $0.closed }) { throw SpoolError.closed(path: path) }
            throw SpoolError(error, path: path, operation: operation)
        }
    }
}
