import Dispatch
import Foundation
import GRDB
import Logging
import Synchronization

/// The durable spool of pending deliveries: `<data-dir>/spool.sqlite`, SQLite in WAL mode with
/// `synchronous=FULL` (each commit is fsync'd), through GRDB.
///
/// Writes (``enqueue(_:)``, ``complete(rowID:)``, ``reschedule(rowID:attempts:nextAttemptAt:lastStatus:lastError:)``,
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
/// Reads (``due(target:now:limit:excluding:)``, ``nextAttemptTime(target:excluding:)``, ``pendingTargets()``) run
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

    private let pool: DatabasePool
    private let logger: Logger
    private let state: Mutex<State>

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
        let counts: (count: Int, bytes: Int64)
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
            try Self.migrator.migrate(pool)
            counts = try pool.read { db in
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT count(*), coalesce(sum(length(payload)), 0) FROM deliveries"
                )
                guard let row else { return (0, 0) }
                return (try row.decode(Int.self, atIndex: 0), try row.decode(Int64.self, atIndex: 1))
            }
        } catch {
            throw SpoolError(error, path: path, operation: "open")
        }
        self.path = path
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
        self.state = Mutex(State(pendingCount: counts.count, pendingBytes: counts.bytes))
        logger.info(
            "spool opened",
            metadata: [
                "spool.path": "\(path)",
                "spool.pending_count": "\(counts.count)",
                "spool.pending_bytes": "\(counts.bytes)",
            ]
        )
    }

    // MARK: - Counters

    /// The pending deliveries, committed (kept in memory; counted at open).
    public var pendingCount: Int { state.withLock { $0.pendingCount } }

    /// The payload bytes of the pending deliveries, committed (kept in memory; counted at open).
    public var pendingBytes: Int64 { state.withLock { $0.pendingBytes } }

    /// The write transactions committed since open: each is one group commit and one fsync. For tests and metrics.
    public var commitCount: Int { state.withLock { $0.commitCount } }

    // MARK: - Writes

    /// Durably records the deliveries of one request: returns once they are committed and fsync'd, in one
    /// transaction shared with every concurrent caller waiting at that moment (group commit). All or nothing.
    ///
    /// - Parameter deliveries: The deliveries; an empty array returns at once.
    /// - Returns: The stored rows, in the order given, with their row ids, `attempts` 0 and no last status/error.
    /// - Throws: ``SpoolError`` `.full` before writing anything when the pending rows plus these (and plus those
    ///   of enqueues not yet committed) would exceed a cap; `.diskFull` on SQLITE_FULL; `.io` on other SQLite and
    ///   I/O errors; `.closed` after ``close()``.
    public func enqueue(_ deliveries: [NewDelivery]) async throws -> [SpooledDelivery] {
        if deliveries.isEmpty { return [] }
        var bytes: Int64 = 0
        for delivery in deliveries { bytes += Int64(delivery.payload.count) }
        let outcome = try await submit(.insert(deliveries, bytes: bytes))
        guard case .inserted(let rowIDs) = outcome, rowIDs.count == deliveries.count else {
            throw SpoolError(code: .io, message: "the spool writer returned an unexpected result for an insert")
        }
        var rows: [SpooledDelivery] = []
        rows.reserveCapacity(deliveries.count)
        for (delivery, rowID) in zip(deliveries, rowIDs) {
            rows.append(
                SpooledDelivery(
                    rowID: rowID,
                    deliveryID: delivery.deliveryID,
                    target: delivery.target,
                    rule: delivery.rule,
                    payload: delivery.payload,
                    attempts: 0,
                    nextAttemptAt: delivery.nextAttemptAt,
                    lastStatus: nil,
                    lastError: nil,
                    createdAt: delivery.createdAt
                )
            )
        }
        return rows
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
    ///   - nextAttemptAt: When the next attempt is due, in milliseconds since 1970-01-01 UTC.
    ///   - lastStatus: The HTTP status of this attempt, `nil` if no response came.
    ///   - lastError: The error of this attempt, `nil` if none.
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func reschedule(
        rowID: Int64,
        attempts: Int,
        nextAttemptAt: Int64,
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
    /// oldest row), skipping the rows in `excluding` (rows in flight). Uses the index `(target, next_attempt_at)`;
    /// reads at most `limit + excluding.count` rows.
    ///
    /// - Parameters:
    ///   - target: The target name.
    ///   - now: The current time, in milliseconds since 1970-01-01 UTC.
    ///   - limit: The most rows to return; 0 or less returns none.
    ///   - excluding: Row ids to skip.
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func due(target: String, now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [SpooledDelivery] {
        guard limit > 0 else { return [] }
        return try await read(operation: "due") { db in
            let statement = try db.cachedStatement(sql: Self.dueSQL)
            let cursor = try Row.fetchCursor(statement, arguments: [target, now])
            var rows: [SpooledDelivery] = []
            while let row = try cursor.next() {
                let rowID = try row.decode(Int64.self, atIndex: 0)
                if excluding.contains(rowID) { continue }
                rows.append(try SpooledDelivery(row: row, rowID: rowID))
                if rows.count >= limit { break }
            }
            return rows
        }
    }

    /// The earliest `nextAttemptAt` of `target`'s rows, skipping the rows in `excluding`, in milliseconds since
    /// 1970-01-01 UTC; `nil` if there is none. Reads the index only.
    ///
    /// - Throws: ``SpoolError`` `.io` or `.closed`; `CancellationError` if the task is cancelled.
    public func nextAttemptTime(target: String, excluding: Set<Int64>) async throws -> Int64? {
        try await read(operation: "nextAttemptTime") { db in
            let statement = try db.cachedStatement(sql: Self.nextAttemptSQL)
            let cursor = try Row.fetchCursor(statement, arguments: [target])
            while let row = try cursor.next() {
                if excluding.contains(try row.decode(Int64.self, atIndex: 0)) { continue }
                return try row.decode(Int64.self, atIndex: 1)
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

    // MARK: - Internals

    package static let dueSQL = """
        SELECT rowid, delivery_id, target, rule, payload, attempts, next_attempt_at, last_status, last_error,
        created_at FROM deliveries WHERE target = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid
        """

    package static let nextAttemptSQL = """
        SELECT rowid, next_attempt_at FROM deliveries WHERE target = ? ORDER BY next_attempt_at, rowid
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

    private func read<T: Sendable>(
        operation: String,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        if state.withLock({ $0.closed }) { throw SpoolError.closed(path: path) }
        do {
            return try await pool.read(body)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if state.withLock({ $0.closed }) { throw SpoolError.closed(path: path) }
            throw SpoolError(error, path: path, operation: operation)
        }
    }

    /// Queues one operation for the writer and waits for its outcome. Reserves an insert's rows against the caps
    /// first, so that concurrent enqueues cannot together exceed them.
    private func submit(_ work: Work) async throws -> Outcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
            let admission = state.withLock { state -> Admission in
                if state.closed { return .rejected(SpoolError.closed(path: path)) }
                if case .insert(let deliveries, let bytes) = work {
                    if let error = state.capError(adding: deliveries.count, bytes: bytes, configuration) {
                        return .rejected(error)
                    }
                    state.reservedCount += deliveries.count
                    state.reservedBytes += bytes
                }
                state.queue.append(Pending(work: work, continuation: continuation))
                if state.writerRunning { return .queued }
                state.writerRunning = true
                return .startWriter
            }
            switch admission {
            case .rejected(let error):
                continuation.resume(throwing: error)
            case .queued:
                break
            case .startWriter:
                Task { await self.drain() }
            }
        }
    }

    /// The writer: takes every waiting operation (up to `maxBatch`), commits them in one transaction, resumes
    /// their callers, and repeats until the queue is empty.
    private func drain() async {
        let maxBatch = max(1, configuration.maxBatch)
        while true {
            let taken = state.withLock { state -> (batch: [Pending], waiters: [CheckedContinuation<Void, Never>]) in
                if state.queue.isEmpty {
                    state.writerRunning = false
                    defer { state.drainWaiters = [] }
                    return ([], state.drainWaiters)
                }
                if state.queue.count <= maxBatch {
                    defer { state.queue = [] }
                    return (state.queue, [])
                }
                defer { state.queue.removeFirst(maxBatch) }
                return (Array(state.queue.prefix(maxBatch)), [])
            }
            if taken.batch.isEmpty {
                for waiter in taken.waiters { waiter.resume() }
                return
            }
            await commit(taken.batch)
        }
    }

    private func commit(_ batch: [Pending]) async {
        let works = batch.map(\.work)
        let probeValue = Int64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds)
        // Only inserts (and the writability probe) carry a promise to a sender. A batch of deletes and reschedules
        // commits without its own fsync: if a crash loses it, a delivery is repeated (at least once) or retried
        // early, never lost, and the next insert's fsync makes it durable anyway (one WAL file). This keeps
        // delivery throughput independent of the disk's fsync latency.
        let needsSync = works.contains { work in
            switch work {
            case .insert, .probe: true
            case .delete, .update: false
            }
        }
        let result: Result<[Outcome], any Error>
        do {
            let outcomes = try await pool.writeWithoutTransaction { db in
                if !needsSync { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
                defer { if !needsSync { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                var outcomes: [Outcome] = []
                outcomes.reserveCapacity(works.count)
                try db.inTransaction(.immediate) {
                    for work in works {
                        outcomes.append(try Self.apply(work, db: db, probeValue: probeValue))
                    }
                    return .commit
                }
                return outcomes
            }
            result = .success(outcomes)
        } catch {
            result = .failure(error)
        }

        var reservedCount = 0
        var reservedBytes: Int64 = 0
        for work in works {
            if case .insert(let deliveries, let bytes) = work {
                reservedCount += deliveries.count
                reservedBytes += bytes
            }
        }
        switch result {
        case .success(let outcomes):
            var deletedCount = 0
            var deletedBytes: Int64 = 0
            for outcome in outcomes {
                if case .deleted(let count, let bytes) = outcome {
                    deletedCount += count
                    deletedBytes += bytes
                }
            }
            state.withLock { state in
                state.reservedCount -= reservedCount
                state.reservedBytes -= reservedBytes
                state.pendingCount += reservedCount - deletedCount
                state.pendingBytes += reservedBytes - deletedBytes
                state.commitCount += 1
            }
            for (pending, outcome) in zip(batch, outcomes) {
                pending.continuation.resume(returning: outcome)
            }
        case .failure(let error):
            state.withLock { state in
                state.reservedCount -= reservedCount
                state.reservedBytes -= reservedBytes
            }
            let spoolError = SpoolError(error, path: path, operation: "write")
            logger.error(
                "spool write failed",
                metadata: [
                    "spool.path": "\(path)",
                    "spool.batch_size": "\(batch.count)",
                    "error.code": "\(spoolError.code)",
                    "error.message": "\(spoolError.message)",
                ]
            )
            for pending in batch {
                pending.continuation.resume(throwing: spoolError)
            }
        }
    }

    private static func apply(_ work: Work, db: Database, probeValue: Int64) throws -> Outcome {
        switch work {
        case .insert(let deliveries, _):
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO deliveries (delivery_id, target, rule, payload, attempts, next_attempt_at,
                    last_status, last_error, created_at) VALUES (?, ?, ?, ?, 0, ?, NULL, NULL, ?)
                    """
            )
            var rowIDs: [Int64] = []
            rowIDs.reserveCapacity(deliveries.count)
            for delivery in deliveries {
                try statement.execute(arguments: [
                    delivery.deliveryID,
                    delivery.target,
                    delivery.rule,
                    Data(delivery.payload),
                    delivery.nextAttemptAt,
                    delivery.createdAt,
                ])
                rowIDs.append(db.lastInsertedRowID)
            }
            return .inserted(rowIDs)
        case .delete(let rowID):
            let statement = try db.cachedStatement(
                sql: "DELETE FROM deliveries WHERE rowid = ? RETURNING length(payload)"
            )
            var count = 0
            var bytes: Int64 = 0
            let cursor = try Int64.fetchCursor(statement, arguments: [rowID])
            while let length = try cursor.next() {
                count += 1
                bytes += length
            }
            return .deleted(count: count, bytes: bytes)
        case .update(let reschedule):
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?
                    WHERE rowid = ?
                    """
            )
            try statement.execute(arguments: [
                reschedule.attempts,
                reschedule.nextAttemptAt,
                reschedule.lastStatus,
                reschedule.lastError,
                reschedule.rowID,
            ])
            return .done
        case .probe:
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO spool_probe (id, checked_at) VALUES (1, ?)
                    ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
                    """
            )
            try statement.execute(arguments: [probeValue])
            return .done
        }
    }

    private static var migrator: DatabaseMigrator {
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
        return migrator
    }
}

extension Spool {
    /// One write operation, as data the transaction closure can take.
    fileprivate enum Work: Sendable {
        case insert([NewDelivery], bytes: Int64)
        case delete(Int64)
        case update(Reschedule)
        case probe
    }

    fileprivate struct Reschedule: Sendable {
        var rowID: Int64
        var attempts: Int
        var nextAttemptAt: Int64
        var lastStatus: Int?
        var lastError: String?
    }

    fileprivate enum Outcome: Sendable {
        case inserted([Int64])
        case deleted(count: Int, bytes: Int64)
        case done
    }

    fileprivate struct Pending: Sendable {
        var work: Work
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    fileprivate enum Admission {
        case rejected(SpoolError)
        case queued
        case startWriter
    }

    fileprivate struct State: Sendable {
        var queue: [Pending] = []
        var writerRunning = false
        var closed = false
        var databaseClosed = false
        /// Committed pending rows and their payload bytes.
        var pendingCount: Int
        var pendingBytes: Int64
        /// Rows and bytes of enqueues accepted but not yet committed; they count against the caps.
        var reservedCount = 0
        var reservedBytes: Int64 = 0
        var commitCount = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []

        init(pendingCount: Int, pendingBytes: Int64) {
            self.pendingCount = pendingCount
            self.pendingBytes = pendingBytes
        }

        func capError(adding count: Int, bytes: Int64, _ configuration: SpoolConfiguration) -> SpoolError? {
            if let maxCount = configuration.maxPendingCount, pendingCount + reservedCount + count > maxCount {
                return SpoolError(
                    code: .full,
                    message: "the spool holds \(pendingCount + reservedCount) deliveries and \(count) more would "
                        + "exceed --spool-max \(maxCount); wait for the targets to drain or raise --spool-max"
                )
            }
            if let maxBytes = configuration.maxPendingBytes, pendingBytes + reservedBytes + bytes > maxBytes {
                return SpoolError(
                    code: .full,
                    message: "the spool holds \(pendingBytes + reservedBytes) payload bytes and \(bytes) more would "
                        + "exceed --spool-max \(maxBytes) bytes; wait for the targets to drain or raise --spool-max"
                )
            }
            return nil
        }
    }
}

extension SpooledDelivery {
    /// Reads a row selected as `rowid, delivery_id, target, rule, payload, attempts, next_attempt_at,
    /// last_status, last_error, created_at`.
    fileprivate init(row: Row, rowID: Int64) throws {
        self.init(
            rowID: rowID,
            deliveryID: try row.decode(String.self, atIndex: 1),
            target: try row.decode(String.self, atIndex: 2),
            rule: try row.decode(String.self, atIndex: 3),
            payload: try row.withUnsafeData(atIndex: 4) { data in data.map { [UInt8]($0) } ?? [] },
            attempts: try row.decode(Int.self, atIndex: 5),
            nextAttemptAt: try row.decode(Int64.self, atIndex: 6),
            lastStatus: try row.decode(Int?.self, atIndex: 7),
            lastError: try row.decode(String?.self, atIndex: 8),
            createdAt: try row.decode(Int64.self, atIndex: 9)
        )
    }
}

extension SpoolError {
    fileprivate static func closed(path: String) -> SpoolError {
        SpoolError(code: .closed, message: "the spool \(path) is closed; the relay is shutting down")
    }

    /// Maps a GRDB, SQLite or other error to a spool error: SQLITE_FULL → `.diskFull`, everything else → `.io`.
    fileprivate init(_ error: any Error, path: String, operation: String) {
        if let error = error as? SpoolError {
            self = error
            return
        }
        guard let error = error as? DatabaseError else {
            self.init(code: .io, message: "spool \(operation) failed on \(path): \(error)")
            return
        }
        let sqlite = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
        switch error.resultCode {
        case .SQLITE_FULL:
            self.init(
                code: .diskFull,
                message: "spool \(operation) failed: the disk holding \(path) is full (\(sqlite)); free space or "
                    + "lower --spool-max"
            )
        case .SQLITE_IOERR, .SQLITE_CANTOPEN:
            self.init(
                code: .io,
                message: "spool \(operation) failed: I/O error on \(path) (\(sqlite)); check the disk, the "
                    + "permissions of --data-dir and the kernel log"
            )
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            self.init(
                code: .io,
                message: "spool \(operation) failed: \(path) is damaged or not a spool (\(sqlite)); move it aside "
                    + "and restart (its pending deliveries are lost)"
            )
        default:
            self.init(code: .io, message: "spool \(operation) failed on \(path) (\(sqlite))")
        }
    }
}
