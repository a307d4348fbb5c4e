/// What to do with a delivery after one attempt, as decided by ``RetryPolicy``.
public enum DeliveryDecision: Sendable, Equatable {
    /// The target answered 2xx: the delivery is done.
    case delivered
    /// Try again after this wait.
    case retry(after: Duration)
    /// Give up and write a dead-letter line.
    case deadLetter(reason: DeadLetterReason)
}

/// Why a delivery was given up. Bounded: it is a metric label and the dead-letter file's `reason`.
public enum DeadLetterReason: String, Sendable, Equatable, CaseIterable {
    /// The target answered a status that retrying cannot change (4xx other than 408, 425, 429; 1xx; 3xx), or the
    /// request cannot be sent as configured (``TransportError/Code/invalidRequest``).
    case rejected
    /// Every attempt of ``RetryConfiguration/attempts`` failed with a retryable outcome.
    case exhausted
}
