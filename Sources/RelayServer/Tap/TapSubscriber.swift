import Synchronization

/// What a tap wants to see: events about one of `rules` (when any is given) and one of `targets` (when any is given).
struct TapFilter: Sendable, Equatable {
    var rules: Set<String> = []
    var targets: Set<String> = []

    func matches(_ event: TapEvent) -> Bool {
        (rules.isEmpty || event.rules.contains(where: rules.contains))
            && (targets.isEmpty || event.targets.contains(where: targets.contains))
    }
}

/// One connected tap: a fixed-size buffer of events between the publishers (ingress, delivery) and the task that
/// writes the tap's response.
///
/// Publishing never waits: ``enqueue(_:)`` takes a short lock, appends, and wakes the writer; when the buffer is full
/// the event is dropped and counted instead, and the writer sends one `dropped` event with the count once it has
/// caught up.
final class TapSubscriber: Sendable {
    /// What ``next()`` hands the writer.
    enum Batch: Sendable {
        /// Events in the order they were published, then how many were dropped after the buffer filled (0: none).
        case events([TapEvent], dropped: Int)
        /// Nothing happened for a while: write a keep-alive comment (and learn whether the client is gone).
        case heartbeat
        /// The tap is over; `reason` is sent as a `closing` event when given (the relay is stopping).
        case finished(reason: String?)
    }

    private struct State {
        var events: [TapEvent] = []
        var dropped = 0
        var heartbeat = false
        var finished = false
        var reason: String?
        var waiter: CheckedContinuation<Void, Never>?
    }

    let id: UInt64
    let filter: TapFilter
    /// The most events held for the writer; more are dropped and counted.
    let capacity: Int
    /// Closes the tap's connection: used when the relay stops and the writer is stuck on a client that reads
    /// nothing.
    let close: @Sendable () -> Void
    private let state = Mutex(State())

    init(id: UInt64, filter: TapFilter, capacity: Int, close: @escaping @Sendable () -> Void) {
        self.id = id
        self.filter = filter
        self.capacity = max(1, capacity)
        self.close = close
    }

    /// Adds `event` for the writer, or counts it as dropped when the buffer is full. Never waits.
    /// - Returns: false when the event was dropped.
    @discardableResult
    func enqueue(_ event: TapEvent) -> Bool {
        let (kept, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.finished else { return (true, nil) }
            guard state.events.count < capacity else {
                state.dropped += 1
                return (false, nil)
            }
            state.events.append(event)
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return kept
    }

    /// Asks the writer for a keep-alive comment when it has nothing else to write.
    func poke() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.heartbeat = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Ends the tap: the writer gets what is buffered, then `.finished(reason)`.
    func finish(reason: String?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.finished {
                state.finished = true
                state.reason = reason
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The next batch for the writer: waits until there is one. Cancellation ends the tap.
    func next() async -> Batch {
        while true {
            if let batch = take() { return batch }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if !state.events.isEmpty || state.dropped > 0 || state.heartbeat || state.finished {
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                finish(reason: nil)
            }
        }
    }

    private func take() -> Batch? {
        state.withLock { state -> Batch? in
            if !state.events.isEmpty || state.dropped > 0 {
                let batch = Batch.events(state.events, dropped: state.dropped)
                state.events = []
                state.events.reserveCapacity(min(capacity, 64))
                state.dropped = 0
                state.heartbeat = false
                return batch
            }
            if state.finished { return .finished(reason: state.reason) }
            if state.heartbeat {
                state.heartbeat = false
                return .heartbeat
            }
            return nil
        }
    }
}
