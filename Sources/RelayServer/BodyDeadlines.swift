import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Reads request bodies chunk by chunk against the ``BodyBudget``, and bounds how long they may take, for every
/// request, with one sweeper instead of one timer per request:
///
/// - a body that brings no new byte for `stallTimeout` (default 5 s) is cut: a sender that opens a request and
///   stops, or sends a byte now and then, is answered 408 within a few seconds instead of holding its connection;
/// - a body that has not fully arrived `timeout` (30 s) after the request began is cut too: a sender dribbling bytes
///   never stalls, so the connection's idle timeout alone does not bound it.
///
/// (A `Task.sleep` per request would do the same, but a cancelled sleep's timer is only released at its deadline, so
/// at thousands of requests a second the timers of the last 30 s pile up in memory.)
final class BodyDeadlines: Service, Sendable {
    /// The body was cut; `stalled` when no byte arrived for the stall timeout, else the overall deadline passed.
    struct Timeout: Error {
        let stalled: Bool
    }

    /// A chunk would pass the ``BodyBudget``: the relay holds too many body bytes (in total or from this client).
    struct Busy: Error {}

    /// When a read began and when its last byte arrived, in nanoseconds of `ContinuousClock`; shared with the sweeper.
    private final class Progress: Sendable {
        let started: Int64
        let lastByte: Atomic<Int64>

        init(now: Int64) {
            started = now
            lastByte = Atomic(now)
        }
    }

    private struct Entry {
        let progress: Progress
        let stallNanoseconds: Int64
        let task: Task<ByteBuffer, any Error>
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        /// Reads cut by the sweeper: true when stalled.
        var expired: [Int: Bool] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    private let epoch = ContinuousClock.now
    /// The overall deadline of a body.
    let timeout: Duration
    /// The default longest gap between two chunks of a body.
    let stallTimeout: Duration
    /// How often the sweeper looks.
    let sweepInterval: Duration

    init(timeout: Duration, stallTimeout: Duration = .seconds(5), sweepInterval: Duration = .seconds(1)) {
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.sweepInterval = sweepInterval
    }

    /// Reads the whole body of `request` (at most `maxBody` bytes), reserving each chunk from `budget` for
    /// `reservation` as it arrives (the caller releases the reservation once it has answered).
    /// - Parameter stallTimeout: overrides the longest gap between two chunks; nil keeps ``stallTimeout``.
    /// - Throws: `Timeout` when the body stalls or is not complete within `timeout`; `Busy` when a chunk would pass
    ///   the budget; `HTTPError(.contentTooLarge)` past `maxBody`.
    func collect(
        _ request: Request,
        upTo maxBody: Int,
        budget: BodyBudget,
        reservation: BodyBudget.Reservation,
        stallTimeout: Duration? = nil
    ) async throws -> ByteBuffer {
        let progress = Progress(now: nanoseconds(.now))
        let epoch = self.epoch
        let task = Task {
            var collected = ByteBuffer()
            for try await chunk in request.body {
                let count = chunk.readableBytes
                if count == 0 { continue }
                progress.lastByte.store(Self.nanoseconds(ContinuousClock.now, since: epoch), ordering: .relaxed)
                guard collected.readableBytes + count <= maxBody else { throw HTTPError(.contentTooLarge) }
                guard budget.reserve(count, for: reservation) else { throw Busy() }
                if collected.readableBytes == 0 {
                    // Most bodies come in one chunk: keep it as it is rather than copying it.
                    collected = chunk
                } else {
                    var chunk = chunk
                    collected.writeBuffer(&chunk)
                }
            }
            // A read cut by the sweeper may end like a complete body: never hand on a truncated one.
            try Task.checkCancellation()
            return collected
        }
        let stall = Self.nanoseconds(stallTimeout ?? self.stallTimeout)
        let id = state.withLock { state -> Int in
            state.next &+= 1
            state.entries[state.next] = Entry(progress: progress, stallNanoseconds: stall, task: task)
            return state.next
        }
        defer {
            state.withLock { state in
                state.entries[id] = nil
                state.expired[id] = nil
            }
        }
        do {
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch {
            if let stalled = state.withLock({ $0.expired[id] }) { throw Timeout(stalled: stalled) }
            throw error
        }
    }

    /// Cancels the reads that stalled or passed their deadline.
    func sweep(now: ContinuousClock.Instant = .now) {
        let now = nanoseconds(now)
        let total = Self.nanoseconds(timeout)
        let overdue = state.withLock { state -> [Task<ByteBuffer, any Error>] in
            var overdue: [Task<ByteBuffer, any Error>] = []
            for (id, entry) in state.entries where state.expired[id] == nil {
                let stalled = now - entry.progress.lastByte.load(ordering: .relaxed) >= entry.stallNanoseconds
                if stalled || now - entry.progress.started >= total {
                    state.expired[id] = stalled
                    overdue.append(entry.task)
                }
            }
            return overdue
        }
        for task in overdue { task.cancel() }
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: sweepInterval)
            sweep()
        }
    }

    private func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        Self.nanoseconds(instant, since: epoch)
    }

    private static func nanoseconds(_ instant: ContinuousClock.Instant, since epoch: ContinuousClock.Instant) -> Int64 {
        nanoseconds(instant - epoch)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension BodyDeadlines: CustomStringConvertible {
    var description: String { "BodyDeadlines(timeout: \(timeout), stallTimeout: \(stallTimeout))" }
}
