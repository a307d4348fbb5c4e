import RelayCore
import RelayLog

/// Decides, after each delivery attempt, whether a delivery is done, retried (and after how long) or dead-lettered.
///
/// A pure function of its inputs (docs/delivery.md, "Retries and backoff"): no I/O, no clock (the current time is passed in), randomness from the
/// caller's generator.
/// - 2xx: ``DeliveryDecision/delivered``.
/// - 408, 425, 429, 5xx and every ``TransportError`` except `invalidRequest`: retried, until
///   ``RetryConfiguration/attempts`` attempts have been made, then dead-lettered as ``DeadLetterReason/exhausted``.
/// - Any other status (other 4xx, 1xx, 3xx) and `invalidRequest`: dead-lettered at once as
///   ``DeadLetterReason/rejected``.
/// - Wait before retry number `n` (0 for the first retry): full jitter, uniform in
///   `0 ... min(maxBackoff, initialBackoff * 2^n)`. A `Retry-After` header raises the wait to at least its value,
///   which is first cut to ``RetryConfiguration/retryAfterCap``.
///
/// A ``TransportError/Code/shutdown`` error is retried like any transport error; callers should not count it as an
/// attempt, since the target was never asked.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts and backoff limits.
    public var configuration: RetryConfiguration

    /// Creates a policy.
    public init(configuration: RetryConfiguration = .init()) {
        self.configuration = configuration
    }

    /// Decides what follows one attempt.
    /// - Parameters:
    ///   - outcome: the attempt's response or transport error.
    ///   - attempts: attempts made so far, this one included (1 after the first attempt).
    ///   - now: the current time, used only for a `Retry-After` HTTP-date.
    ///   - generator: source of the jitter.
    /// - Returns: delivered, retry after a wait, or dead-letter with a reason.
    public func decide(
        _ outcome: AttemptOutcome,
        attempts: Int,
        now: Timestamp,
        using generator: inout some RandomNumberGenerator
    ) -> DeliveryDecision {
        var retryAfter: Duration?
        switch outcome {
        case .response(let response):
            if (200...299).contains(response.status) { return .delivered }
            guard Self.isRetryable(status: response.status) else { return .deadLetter(reason: .rejected) }
            retryAfter = response.header("Retry-After").flatMap {
                RetryAfter.parse($0, now: now)
            }
        case .transportError(let error):
            guard Self.isRetryable(error) else { return .deadLetter(reason: .rejected) }
        }
        guard attempts < max(1, configuration.attempts) else { return .deadLetter(reason: .exhausted) }
        var wait = backoff(retry: max(0, attempts - 1), using: &generator)
        if let retryAfter {
            wait = max(wait, min(retryAfter, configuration.retryAfterCap))
        }
        return .retry(after: wait)
    }

    /// `true` for the statuses worth retrying: 408, 425, 429 and 5xx. (2xx is success, not a retry.)
    public static func isRetryable(status: Int) -> Bool {
        switch status {
        case 408, 425, 429, 500...599: true
        default: false
        }
    }

    /// `true` for every transport error except ``TransportError/Code/invalidRequest``.
    public static func isRetryable(_ error: TransportError) -> Bool {
        error.code != .invalidRequest
    }

    /// The largest wait before retry number `retry` (0-based): `min(maxBackoff, initialBackoff * 2^retry)`,
    /// computed without overflow for any `retry`. Negative limits count as zero.
    public func backoffCeiling(retry: Int) -> Duration {
        .nanoseconds(ceilingNanoseconds(retry: retry))
    }

    /// A wait before retry number `retry` (0-based), uniform in `0 ... backoffCeiling(retry:)` (full jitter).
    public func backoff(retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceilingNanoseconds(retry: retry)
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
    }

    private func ceilingNanoseconds(retry: Int) -> Int64 {
        let initial = Self.nanoseconds(configuration.initialBackoff)
        let maximum = Self.nanoseconds(configuration.maxBackoff)
        let n = max(0, retry)
        guard initial > 0 else { return 0 }
        // initial << n stays within Int64 and below maximum only if initial <= maximum >> n.
        guard n < 63, initial <= maximum >> n else { return maximum }
        return min(maximum, initial << n)
    }

    /// Whole nanoseconds of `duration`, clamped to `0 ... Int64.max`.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (sum, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : sum
    }
}
