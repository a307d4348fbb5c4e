import RelayLog

/// What to do with a delivery after one attempt, as decided by ``RetryPolicy``.
public enum DeliveryDecision: Sendable, Equatable {
    /// The target answered 2xx: the delivery is done.
    case delivered
    /// Try again after this wait.
    case retry(after: Duration)
    /// Give up and write a dead-letter line.
    case deadLetter(reason: DeadLetterReason)
}
