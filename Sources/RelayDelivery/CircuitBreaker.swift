import RelayCore

/// A target's circuit breaker: after `failureThreshold` consecutive failed attempts the target is held back, and only
/// one probe attempt goes out per interval until one succeeds (docs/delivery.md, "Circuit breaker": a target that keeps
/// failing cannot starve the others or be hit by a retry storm). While the breaker is not closed, the target is not
/// believed healthy: the delivery service counts no attempt that fails then (``isClosed``).
///
/// A value type with no I/O and no clock: the worker passes the time in and acts on what the events return.
/// States: `closed` (attempts flow, up to `maxInFlight`), `open(until:)` (no attempt before `until`),
/// `halfOpen` (one probe in flight; its outcome closes or re-opens the breaker).
public struct CircuitBreaker: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        /// Consecutive failed attempts that open the breaker.
        public var failureThreshold: Int = 5
        /// The first wait before a probe; doubled after each failed probe. Default 1 s.
        public var initialProbeInterval: Duration = .seconds(1)
        /// The longest wait between probes. Default 30 s.
        public var maxProbeInterval: Duration = .seconds(30)

        public init() {}

        public init(failureThreshold: Int, initialProbeInterval: Duration, maxProbeInterval: Duration) {
            self.failureThreshold = failureThreshold
            self.initialProbeInterval = initialProbeInterval
            self.maxProbeInterval = maxProbeInterval
        }
    }

    public enum State: Sendable, Equatable {
        case closed
        /// Held back until this time.
        case open(until: Timestamp)
        /// One probe is in flight.
        case halfOpen
    }

    /// What the worker may launch now.
    public enum Permission: Sendable, Equatable {
        /// Up to the target's `maxInFlight` attempts.
        case flow
        /// Exactly one attempt, the probe.
        case probe
        /// Nothing before this time.
        case wait(until: Timestamp)
    }

    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    private var probeInterval: Duration
    public let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.probeInterval = configuration.initialProbeInterval
    }

    /// Asks what may be launched at `now`; moves `open` to `halfOpen` when the probe is due.
    public mutating func permission(now: Timestamp) -> Permission {
        switch state {
        case .closed:
            return .flow
        case .halfOpen:
            return .wait(until: now + probeInterval)
        case .open(let until):
            guard now >= until else { return .wait(until: until) }
            state = .halfOpen
            return .probe
        }
    }

    /// The probe allowed by `permission(now:)` was not sent (nothing was due): open again, probe when asked next.
    public mutating func probeNotSent(now: Timestamp) {
        if state == .halfOpen { state = .open(until: now) }
    }

    /// Holds the target back until one probe has shown it answers: for a target whose deliveries were failing when
    /// the relay last stopped (the next attempt is the probe; its failure counts no attempt).
    public mutating func suspect() {
        if state == .closed { state = .halfOpen }
    }

    /// Whether attempts flow (the target is believed healthy).
    public var isClosed: Bool { state == .closed }

    /// Records a successful attempt (a 2xx, or an answer that is not the target's fault, like a 400).
    /// - Returns: true when this closed an open or half-open breaker.
    @discardableResult
    public mutating func recordSuccess() -> Bool {
        consecutiveFailures = 0
        probeInterval = configuration.initialProbeInterval
        if state == .closed { return false }
        state = .closed
        return true
    }

    /// Records a failed attempt (connection error, timeout, 5xx, 408, 425, 429) at `now`.
    /// - Returns: true when this opened the breaker.
    @discardableResult
    public mutating func recordFailure(now: Timestamp) -> Bool {
        consecutiveFailures += 1
        switch state {
        case .closed:
            guard consecutiveFailures >= max(1, configuration.failureThreshold) else { return false }
            state = .open(until: now + probeInterval)
            return true
        case .halfOpen:
            probeInterval = min(probeInterval * 2, configuration.maxProbeInterval)
            state = .open(until: now + probeInterval)
            return false
        case .open:
            // An attempt launched before the breaker opened finished: it does not move the probe time.
            return false
        }
    }
}
