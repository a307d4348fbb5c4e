/// How often and how patiently deliveries to a target are retried: a target's `retry` object, and what the retry
/// policy reads (docs/delivery.md, "Retries and backoff").
///
/// The wait before retry n (0-based) is `min(maxBackoff, initialBackoff * 2^n)` with full jitter.
public struct RetryConfiguration: Sendable, Equatable {
    /// Total counted attempts, the first included, before a delivery is dead-lettered as `exhausted`: 1...1000;
    /// default 10. Values below 1 count as 1. Rule file: `retry.attempts`.
    public var attempts: Int
    /// The backoff ceiling before the first retry; it doubles with every retry. Default 1 s.
    /// Rule file: `retry.initialBackoff`.
    public var initialBackoff: Duration
    /// The cap on any backoff, at least `initialBackoff`; default 5 min. Rule file: `retry.maxBackoff`.
    public var maxBackoff: Duration
    /// The longest wait a `Retry-After` header can ask for; longer requests are cut to this. Default 10 min.
    public var retryAfterCap: Duration

    /// Creates a configuration; every field defaults to the value above.
    public init(
        attempts: Int = 10,
        initialBackoff: Duration = .seconds(1),
        maxBackoff: Duration = .seconds(300),
        retryAfterCap: Duration = .seconds(600)
    ) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.retryAfterCap = retryAfterCap
    }
}
