import Logging
import Metrics
import RelayCore
import RelayDelivery
import RelayLog
import ServiceLifecycle
import Synchronization

/// The live tap's fan-out (docs/operations.md, "Live tap"): ingress publishes each record's decision, the delivery
/// service each delivery's outcome, and every connected tap whose filter matches gets it in its own bounded buffer.
///
/// Cost: with no tap connected a publisher pays one atomic load (``isActive``) and builds nothing. With taps, the
/// event's JSON is built once and appended to each matching tap's buffer under a short lock; a full buffer drops the
/// event for that tap and counts it. Nothing here waits for a tap, so a tap never slows ingress or delivery.
///
/// A `Service` only to end the taps when the relay stops: each gets a `closing` event, and a tap whose client reads
/// nothing is disconnected, so the HTTP server's graceful stop does not wait on it.
public final class TapHub: Service, DeliveryObserver, Sendable {
    /// The default cap on taps connected at once (the next one gets 503).
    public static let defaultMaxTaps = 8
    /// The default number of events each tap's buffer holds.
    public static let defaultBufferCapacity = 512

    /// The most taps connected at once.
    public let maxTaps: Int
    /// Events each tap's buffer holds before events for it are dropped.
    public let bufferCapacity: Int
    /// How often an idle tap gets a keep-alive comment.
    let heartbeat: Duration
    private let now: @Sendable () -> Timestamp

    private struct State {
        var taps: [TapSubscriber] = []
        var nextID: UInt64 = 0
        var closed = false
    }

    private let count = Atomic<Int>(0)
    private let state = Mutex(State())
    /// `relay_tap_connections`: taps connected now.
    private let connections = Gauge(label: "relay_tap_connections")
    /// `relay_tap_dropped_events_total`: events not sent to a tap because it read too slowly.
    private let droppedEvents = Counter(label: "relay_tap_dropped_events_total")

    /// - Parameters:
    ///   - maxTaps: the most taps connected at once; default ``defaultMaxTaps``.
    ///   - bufferCapacity: events each tap's buffer holds; default ``defaultBufferCapacity``.
    ///   - heartbeat: how often an idle tap gets a keep-alive comment; default 15 s.
    ///   - now: the wall clock, for the events' `time`.
    public init(
        maxTaps: Int = TapHub.defaultMaxTaps,
        bufferCapacity: Int = TapHub.defaultBufferCapacity,
        heartbeat: Duration = .seconds(15),
        now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }
    ) {
        self.maxTaps = max(0, maxTaps)
        self.bufferCapacity = max(1, bufferCapacity)
        self.heartbeat = heartbeat
        self.now = now
    }

    /// Whether any tap is connected: one relaxed atomic load, the whole cost of publishing when none is.
    public var isActive: Bool { count.load(ordering: .relaxed) > 0 }

    /// The number of taps connected now.
    public var connectedTaps: Int { count.load(ordering: .relaxed) }

    /// Why ``subscribe(filter:close:)`` refused a tap.
    enum Refusal: Error {
        /// ``maxTaps`` are connected.
        case full
        /// The relay is stopping.
        case closed
    }

    /// Adds a tap.
    /// - Parameter close: closes the tap's connection (used when the relay stops).
    /// - Throws: ``Refusal``.
    func subscribe(filter: TapFilter, close: @escaping @Sendable () -> Void) throws(Refusal) -> TapSubscriber {
        let result = state.withLock { state -> Result<TapSubscriber, Refusal> in
            if state.closed { return .failure(.closed) }
            guard state.taps.count < maxTaps else { return .failure(.full) }
            state.nextID += 1
            let tap = TapSubscriber(id: state.nextID, filter: filter, capacity: bufferCapacity, close: close)
            state.taps.append(tap)
            count.store(state.taps.count, ordering: .relaxed)
            return .success(tap)
        }
        connections.record(connectedTaps)
        return try result.get()
    }

    /// Removes a tap and ends it; calling it again does nothing.
    func unsubscribe(_ tap: TapSubscriber) {
        state.withLock { state in
            state.taps.removeAll { $0 === tap }
            count.store(state.taps.count, ordering: .relaxed)
        }
        connections.record(connectedTaps)
        tap.finish(reason: nil)
    }

    /// Hands `event` to each tap whose filter matches. Never waits.
    func publish(_ event: TapEvent) {
        let taps = state.withLock { $0.taps }
        var dropped = 0
        for tap in taps where tap.filter.matches(event) {
            if !tap.enqueue(event) { dropped += 1 }
        }
        if dropped > 0 { droppedEvents.increment(by: dropped) }
    }

    /// Publishes the decisions of a request's decoded records (ingress calls it once the deliveries are in the
    /// delivery log, before the targets' workers are woken, so a tap sees a decision before its outcomes).
    /// - Parameters:
    ///   - duplicate: per record, whether the log recognised it as a resend.
    ///   - deliveries: per record with matches, keyed by the record's position, the deliveries it produced.
    public func publishDecisions(
        _ records: [EventRecord],
        envelope: DecodedEvents.Envelope,
        duplicate: [Bool],
        deliveries: [Int: [NewDelivery]]
    ) {
        guard isActive else { return }
        let time = now()
        for (position, record) in records.enumerated() {
            publish(
                TapEvent.decision(
                    time: time,
                    record: record,
                    envelope: envelope,
                    duplicate: position < duplicate.count && duplicate[position],
                    deliveries: deliveries[position] ?? []
                )
            )
        }
    }

    /// Publishes the decisions of undecodable bodies or records, once they are dead-lettered.
    public func publishUndecodable(_ problems: some Sequence<Undecodable>) {
        guard isActive else { return }
        let time = now()
        for problem in problems {
            publish(TapEvent.undecodable(time: time, problem))
        }
    }

    // MARK: - DeliveryObserver

    public var isObserving: Bool { isActive }

    public func observe(_ report: DeliveryReport) {
        publish(TapEvent.outcome(time: now(), report))
    }

    // MARK: - Service

    /// Waits for the relay to stop, then ends every tap (each gets a `closing` event) and refuses new ones; after
    /// 1 s, the connections of taps still writing (their clients read nothing) are closed.
    public func run() async throws {
        try? await gracefulShutdown()
        let taps = state.withLock { state -> [TapSubscriber] in
            state.closed = true
            return state.taps
        }
        for tap in taps { tap.finish(reason: "the relay is stopping") }
        let deadline = ContinuousClock.now + .seconds(1)
        while isActive, !Task.isCancelled, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let stuck = state.withLock { $0.taps }
        for tap in stuck { tap.close() }
    }
}
