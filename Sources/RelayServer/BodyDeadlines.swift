import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Bounds how long a request body may take to arrive, for every request, with one sweeper instead of one timer per
/// request: a sender dribbling bytes never goes idle, so the connection's idle timeout alone does not bound it.
///
/// (A `Task.sleep` per request would do the same, but a cancelled sleep's timer is only released at its deadline, so
/// at thousands of requests a second the timers of the last 30 s pile up in memory.)
final class BodyDeadlines: Service, Sendable {
    struct Timeout: Error {}

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let task: Task<ByteBuffer, any Error>
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var expired: Set<Int> = []
        var next = 0
    }

    private let state = Mutex(State())
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Reads the whole body of `request` (at most `maxBody` bytes).
    /// - Throws: `Timeout` when it has not arrived within `timeout`; `HTTPError(.contentTooLarge)` past `maxBody`.
    func collect(_ request: Request, upTo maxBody: Int) async throws -> ByteBuffer {
        let task = Task { try await request.body.collect(upTo: maxBody) }
        let deadline = ContinuousClock.now + timeout
        let id = state.withLock { state -> Int in
            state.next &+= 1
            state.entries[state.next] = Entry(deadline: deadline, task: task)
            return state.next
        }
        defer {
            state.withLock { state in
                state.entries[id] = nil
                state.expired.remove(id)
            }
        }
        do {
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch {
            if state.withLock({ $0.expired.contains(id) }) { throw Timeout() }
            throw error
        }
    }

    /// Cancels the reads past their deadline.
    func sweep(now: ContinuousClock.Instant = .now) {
        let overdue = state.withLock { state -> [Task<ByteBuffer, any Error>] in
            var overdue: [Task<ByteBuffer, any Error>] = []
            for (id, entry) in state.entries where entry.deadline <= now && !state.expired.contains(id) {
                state.expired.insert(id)
                overdue.append(entry.task)
            }
            return overdue
        }
        for task in overdue { task.cancel() }
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            sweep()
        }
    }
}

extension BodyDeadlines: CustomStringConvertible {
    var description: String { "BodyDeadlines(timeout: \(timeout))" }
}
