/// How often and how patiently one target's deliveries are retried (DESIGN §4).
public struct RetryConfiguration: Sendable, Equatable {
    /// Attempts in total, the first included; after the last failed one the delivery is dead-lettered as
    /// ``DeadLetterReason/exhausted``. Values below 1 count as 1. Default 10. Rule file: `retry.attempts`.
    public var attempts: Int = 10
    /// Backoff ceiling before the first retry; it doubles with every retry. Default 1 s.
    /// Rule file: `retry.initialBackoff`.
    public var initialBackoff: Duration = .seconds(1)
    /// Highest backoff ceiling: `min(maxBackoff, initialBackoff * 2^n)`. Default 300 s. Rule file: `retry.maxBackoff`.
    public var maxBackoff: Duration = .seconds(300)
    /// Longest wait a `Retry-After` header can ask for; longer requests are cut to this. Default 600 s.
    public var retryAfterCap: Duration = .seconds(600)

    /// Creates a configuration with the defaults above.
    public init() {}

    /// Creates a configuration.
    public init(attempts: Int, initialBackoff: Duration, maxBackoff: Duration, retryAfterCap: Duration = .seconds(600))
    {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.retryAfterCap = retryAfterCap
    }
}
