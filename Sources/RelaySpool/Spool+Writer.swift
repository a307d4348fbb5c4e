import Dispatch
import Foundation
import GRDB
import Logging
import RelayCore
import RelayLog
import Synchronization

// The group-commit writer: every operation waiting at one moment goes into one transaction and one fsync.

extension Spool {
    /// Queues one operation for the writer and waits for its outcome. Reserves an append's rows against the caps
    /// first, so that concurrent appends cannot together exceed them.
    func submit(_ work: Work) async throws -> Outcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
            let admission = state.withLock { state -> Admission in
                if state.closed { return .rejected(SpoolError.closed(path: path)) }
                if case .append(_, _, let count, let bytes) = work {
                    if let error = state.capError(adding: count, bytes: bytes, configuration) {
                        return .rejected(error)
                    }
                    state.reservedCount += count
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
            let taken = state.withLock {
                state -> (batch: [Pending], waiters: [CheckedContinuation<Void, Never>], window: WindowState) in
                if state.queue.isEmpty {
                    state.writerRunning = false
                    defer { state.drainWaiters = [] }
                    return ([], state.drainWaiters, state.window)
                }
                if state.queue.count <= maxBatch {
                    defer { state.queue = [] }
                    return (state.queue, [], state.window)
                }
                defer { state.queue.removeFirst(maxBatch) }
                return (Array(state.queue.prefix(maxBatch)), [], state.window)
            }
            if taken.batch.isEmpty {
                for waiter in taken.waiters { waiter.resume() }
                return
            }
            await commit(taken.batch, window: taken.window)
        }
    }

    private static let synchronousFull = "PRAGMA synchronous = FULL"
    private static let synchronousNormal = "PRAGMA synchronous = NORMAL"

    private func commit(_ batch: [Pending], window: WindowState) async {
        let works = batch.map(\.work)
        let probeValue = Int64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds)
        // Only appends (and the writability probe) carry a promise to a sender. A batch of deletes and reschedules
        // commits without its own fsync: if a crash loses it, a delivery is repeated (at least once) or retried
        // early, never lost, and the next append's fsync makes it durable anyway (one WAL file). This keeps
        // delivery throughput independent of the disk's fsync latency.
        let needsSync = works.contains { work in
            switch work {
            case .append, .probe: true
            // A batch's membership is made durable before its first attempt: its id is what the receiver saw.
            case .formBatches: true
            case .delete, .update, .deleteRows, .updateRows: false
            }
        }
        let resendWindow = configuration.resendWindow
        let result: Result<(outcomes: [Outcome], window: WindowState), any Error>
        do {
            result = .success(
                try await pool.writeWithoutTransaction { db in
                    // The level this commit needs, set only when the connection is not known to be at it. A PRAGMA
                    // takes effect when it is compiled, so SQLite compiles it again at every execution (thousands of
                    // instructions): running it on every commit cost about 17,000 instructions an event. A failed
                    // PRAGMA leaves the level unknown, so the next commit sets it again; if setting FULL fails, the
                    // whole batch fails (503, sent again): an append never commits without its fsync.
                    let current = self.writerSynchronousFull.withLock { $0 }
                    if current != needsSync {
                        self.writerSynchronousFull.withLock { $0 = nil }
                        try db.cachedStatement(sql: needsSync ? Self.synchronousFull : Self.synchronousNormal)
                            .execute()
                        self.writerSynchronousFull.withLock { $0 = needsSync }
                    }
                    var outcomes: [Outcome] = []
                    outcomes.reserveCapacity(works.count)
                    var window = window
                    try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
                    do {
                        for work in works {
                            outcomes.append(
                                try Self.apply(work, db: db, probeValue: probeValue, window: &window, resendWindow)
                            )
                        }
                        try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
                    } catch {
                        if db.isInsideTransaction { try? db.rollback() }
                        throw error
                    }
                    return (outcomes, window)
                }
            )
        } catch {
            result = .failure(error)
        }

        var reservedCount = 0
        var reservedBytes: Int64 = 0
        for work in works {
            if case .append(_, _, let count, let bytes) = work {
                reservedCount += count
                reservedBytes += bytes
            }
        }
        switch result {
        case .success(let (outcomes, window)):
            var insertedCount = 0
            var insertedBytes: Int64 = 0
            var deletedCount = 0
            var deletedBytes: Int64 = 0
            for outcome in outcomes {
                switch outcome {
                case .deleted(let count, let bytes):
                    deletedCount += count
                    deletedBytes += bytes
                case .appended(_, let count, let bytes, _):
                    insertedCount += count
                    insertedBytes += bytes
                case .done:
                    break
                }
            }
            state.withLock { state in
                state.reservedCount -= reservedCount
                state.reservedBytes -= reservedBytes
                state.pendingCount += insertedCount - deletedCount
                state.pendingBytes += insertedBytes - deletedBytes
                state.resendIdentities = window.count
                state.window = window
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

    private static func apply(
        _ work: Work,
        db: Database,
        probeValue: Int64,
        window: inout WindowState,
        _ resendWindow: ResendWindow
    ) throws -> Outcome {
        switch work {
        case .append(let records, let now, _, _):
            try pruneIdentities(db: db, now: now, window: &window, resendWindow)
            let insert = try db.cachedStatement(sql: SpoolSchema.insertDelivery)
            let findIdentity = try db.cachedStatement(sql: SpoolSchema.findIdentity)
            let upsertIdentity = try db.cachedStatement(sql: SpoolSchema.upsertIdentity)
            let windowMilliseconds = resendWindow.duration.wholeMilliseconds
            var outcomes: [AppendOutcome] = []
            outcomes.reserveCapacity(records.count)
            var count = 0
            var bytes: Int64 = 0
            for record in records {
                if record.deliveries.isEmpty {
                    outcomes.append(.appended(sequences: []))
                    continue
                }
                if let identity = record.identity {
                    let blob = Data(identity.bytes)
                    let seenAt = try Int64.fetchOne(findIdentity, arguments: [blob])
                    if let seenAt, now.millisecondsSince1970 - seenAt <= windowMilliseconds {
                        outcomes.append(.duplicate)
                        continue
                    }
                    try upsertIdentity.execute(arguments: [blob, now.millisecondsSince1970])
                    if seenAt == nil { window.count += 1 }
                    window.oldest = min(window.oldest ?? now, now)
                }
                var rowIDs: [Int64] = []
                rowIDs.reserveCapacity(record.deliveries.count)
                for delivery in record.deliveries {
                    try insert.execute(arguments: [
                        delivery.deliveryID,
                        delivery.target,
                        delivery.rule,
                        Data(delivery.payload),
                        delivery.nextAttemptAt.millisecondsSince1970,
                        delivery.createdAt.millisecondsSince1970,
                        delivery.traceparent,
                    ])
                    rowIDs.append(db.lastInsertedRowID)
                    if let ordering = delivery.ordering {
                        try placeOrdered(db: db, rowID: db.lastInsertedRowID, target: delivery.target, ordering)
                    }
                    count += 1
                    bytes += Int64(delivery.payload.count)
                }
                outcomes.append(.appended(sequences: rowIDs))
            }
            return .appended(outcomes, count: count, bytes: bytes, identities: window.count)
        case .delete(let rowID):
            let statement = try db.cachedStatement(sql: SpoolSchema.deleteDelivery)
            var count = 0
            var bytes: Int64 = 0
            // RETURNING length(payload), target, ordering_key, queued.
            let cursor = try ColumnCursor(statement, arguments: [rowID]) { columns in
                (
                    bytes: try columns.int64(0),
                    head: try columns.optionalText(2).flatMap { key in
                        try columns.int(3) == 0 ? (target: try columns.text(1), key: key) : nil
                    }
                )
            }
            var heads: [(target: String, key: String)] = []
            while let row = try cursor.next() {
                count += 1
                bytes += row.bytes
                if let head = row.head { heads.append(head) }
            }
            for head in heads {
                try promoteOrderedHead(db: db, target: head.target, key: head.key)
            }
            return .deleted(count: count, bytes: bytes)
        case .update(let reschedule):
            let statement = try db.cachedStatement(sql: SpoolSchema.rescheduleDelivery)
            try statement.execute(arguments: [
                reschedule.attempts,
                reschedule.nextAttemptAt.millisecondsSince1970,
                reschedule.lastStatus,
                reschedule.lastError,
                reschedule.rowID,
            ])
            return .done
        case .formBatches(let batches):
            try formBatches(batches, db: db)
            return .done
        case .deleteRows(let rowIDs):
            return try deleteRows(rowIDs, db: db)
        case .updateRows(let reschedules):
            try updateRows(reschedules, db: db)
            return .done
        case .probe:
            let statement = try db.cachedStatement(sql: SpoolSchema.probe)
            try statement.execute(arguments: [probeValue])
            return .done
        }
    }

    /// Forgets resend identities older than the window, and the oldest beyond its capacity, as the window moves: at
    /// most once a second by time, and whenever the count exceeds the capacity.
    private static func pruneIdentities(
        db: Database,
        now: Timestamp,
        window: inout WindowState,
        _ resendWindow: ResendWindow
    ) throws {
        let horizon = now.millisecondsSince1970 - resendWindow.duration.wholeMilliseconds
        if let oldest = window.oldest, oldest.millisecondsSince1970 < horizon,
            now - window.prunedAt >= .seconds(1)
        {
            try db.execute(sql: "DELETE FROM resend_identities WHERE seen_at < ?", arguments: [horizon])
            window.count -= db.changesCount
            window.prunedAt = now
            window.oldest = try Int64.fetchOne(db, sql: "SELECT min(seen_at) FROM resend_identities")
                .map(Timestamp.init(millisecondsSince1970:))
        }
        let capacity = max(1, resendWindow.capacity)
        if window.count >= capacity {
            // Leave room for this append's identities; delete a little more so this runs rarely.
            let excess = window.count - capacity + 1 + capacity / 64
            try db.execute(
                sql: """
                    DELETE FROM resend_identities WHERE identity IN
                    (SELECT identity FROM resend_identities ORDER BY seen_at LIMIT ?)
                    """,
                arguments: [excess]
            )
            window.count -= db.changesCount
            window.oldest = try Int64.fetchOne(db, sql: "SELECT min(seen_at) FROM resend_identities")
                .map(Timestamp.init(millisecondsSince1970:))
        }
    }
}

extension Spool {
    /// One write operation, as data the transaction closure can take.
    enum Work: Sendable {
        case append([RecordDeliveries], now: Timestamp, count: Int, bytes: Int64)
        case delete(Int64)
        case update(Reschedule)
        /// Puts the rows of each batch in it (docs/delivery.md, "Batches").
        case formBatches([(batchID: String, rowIDs: [Int64])])
        /// Deletes the rows of one batch.
        case deleteRows([Int64])
        /// Reschedules the rows of one batch.
        case updateRows([Reschedule])
        case probe
    }

    struct Reschedule: Sendable {
        var rowID: Int64
        var attempts: Int
        var nextAttemptAt: Timestamp
        var lastStatus: Int?
        var lastError: String?
    }

    enum Outcome: Sendable {
        case appended([AppendOutcome], count: Int, bytes: Int64, identities: Int)
        case deleted(count: Int, bytes: Int64)
        case done
    }

    struct Pending: Sendable {
        var work: Work
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    enum Admission {
        case rejected(SpoolError)
        case queued
        case startWriter
    }

    /// The writer's view of the resend identities: only the writer changes it, between commits.
    struct WindowState: Sendable {
        var count: Int
        var oldest: Timestamp?
        var prunedAt: Timestamp = .distantPast
    }

    struct State: Sendable {
        var queue: [Pending] = []
        var writerRunning = false
        var closed = false
        var databaseClosed = false
        /// Committed pending rows and their payload bytes.
        var pendingCount: Int
        var pendingBytes: Int64
        /// Committed resend identities.
        var resendIdentities: Int
        var window: WindowState
        /// Rows and bytes of appends accepted but not yet committed; they count against the caps.
        var reservedCount = 0
        var reservedBytes: Int64 = 0
        var commitCount = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []

        init(pendingCount: Int, pendingBytes: Int64, resendIdentities: Int, oldestIdentity: Timestamp?) {
            self.pendingCount = pendingCount
            self.pendingBytes = pendingBytes
            self.resendIdentities = resendIdentities
            self.window = WindowState(count: resendIdentities, oldest: oldestIdentity)
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
