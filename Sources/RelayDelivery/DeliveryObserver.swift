import RelayCore
import RelayLog

/// Watches what delivery attempts lead to, as they happen (the live tap, docs/operations.md, "Live tap").
///
/// The service asks ``isObserving`` before it builds a report, so an observer nobody listens to costs one property
/// read per outcome. ``observe(_:)`` is called on the attempt's task: it must return at once (enqueue, never wait).
public protocol DeliveryObserver: Sendable {
    /// Whether reports are wanted now; read before each report is built, so it should be one atomic load.
    var isObserving: Bool { get }
    /// Takes one report; must not block or suspend.
    func observe(_ report: DeliveryReport)
}

/// What one attempt of one delivery led to, or a delivery dead-lettered without an attempt (its target left the
/// rules).
public struct DeliveryReport: Sendable, Equatable {
    /// The outcome recorded in the delivery log.
    public enum Outcome: Sendable, Equatable {
        /// The target answered 2xx; the delivery is done.
        case delivered
        /// Attempted again after `after`; `counted` is false when the failure used up no attempt (a probe, or the
        /// circuit was not closed).
        case retry(after: Duration, counted: Bool)
        /// Written to the dead-letter file, for `reason`.
        case deadLetter(DeadLetterReason)
    }

    /// The delivery's id (`webhook-id`).
    public var deliveryID: String
    /// The target's name.
    public var target: String
    /// The rule that sent the delivery to the target.
    public var rule: String
    /// The number of the attempt just made (1 for the first); for `unknown_target`, the attempts made before.
    public var attempt: Int
    /// The HTTP status the target answered, nil when it gave none (a transport error, or no attempt).
    public var status: Int?
    /// What went wrong, e.g. `HTTP 503` or libcurl's message; nil for a 2xx.
    public var error: String?
    /// How long the attempt took; nil when no attempt was made.
    public var duration: Duration?
    /// What the service did with the delivery.
    public var outcome: Outcome

    public init(
        deliveryID: String,
        target: String,
        rule: String,
        attempt: Int,
        status: Int?,
        error: String?,
        duration: Duration?,
        outcome: Outcome
    ) {
        self.deliveryID = deliveryID
        self.target = target
        self.rule = rule
        self.attempt = attempt
        self.status = status
        self.error = error
        self.duration = duration
        self.outcome = outcome
    }
}

extension DeliveryService {
    /// Counts `delivery`'s outcome (``ActivityCounts``) and hands it to the observer, when one listens; builds nothing
    /// otherwise.
    /// - Parameters:
    ///   - attempt: the attempt number the report carries.
    ///   - outcome: the attempt's answer or transport error; nil when no attempt was made.
    ///   - duration: how long the attempt took; nil when none was made.
    func report(
        _ delivery: PendingDelivery,
        attempt: Int,
        _ outcome: AttemptOutcome?,
        _ duration: Duration?,
        _ result: DeliveryReport.Outcome
    ) {
        switch result {
        case .delivered: activity.add(.delivered)
        case .retry: activity.add(.retried)
        case .deadLetter: activity.add(.deadLettered)
        }
        guard let observer, observer.isObserving else { return }
        observer.observe(
            DeliveryReport(
                deliveryID: delivery.deliveryID,
                target: delivery.target,
                rule: delivery.rule,
                attempt: attempt,
                status: outcome?.status,
                error: outcome?.errorDescription,
                duration: duration,
                outcome: result
            )
        )
    }
}
