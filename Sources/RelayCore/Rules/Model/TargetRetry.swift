/// How often and how patiently a delivery to a target is retried (a target's `retry` object).
///
/// The wait before retry n (0-based) is `min(maxBackoff, initialBackoff * 2^n)` with full jitter (DESIGN §4).
public struct TargetRetry: Sendable, Equatable {
    /// Total attempts, the first included, before a delivery is dead-lettered: 1...1000; default 10.
    public var attempts: Int
    /// The backoff before the first retry; default 1 s.
    public var initialBackoff: Duration
    /// The cap on any backoff, at least `initialBackoff`; default 5 min.
    public var maxBackoff: Duration

    public init(attempts: Int = 10, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300)) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}
