import RelayCore

/// A delivery handed out by a ``DeliveryLog``: claimed by the caller until it records an outcome
/// (``DeliveryLog/delivered(_:)``, ``DeliveryLog/retry(_:attempts:at:lastStatus:lastError:)``,
/// ``DeliveryLog/deadLetter(_:_:)``) or gives it back (``DeliveryLog/release(_:)``).
public struct PendingDelivery: Sendable, Equatable {
    /// The log's handle of this delivery (the SQLite row id; a stream sequence for a stream-backed log). Never reused
    /// for another delivery of the same log.
    public var sequence: Int64
    /// The stable id of the (event record, target) pair.
    public var deliveryID: String
    /// The target name.
    public var target: String
    /// The name of the rule that routed the record to the target.
    public var rule: String
    /// The request body to send, byte for byte.
    public var payload: [UInt8]
    /// The counted attempts made so far (0 for a new delivery). Attempts made while the target's circuit was open
    /// are not counted (docs/delivery.md, "Circuit breaker").
    public var attempts: Int
    /// When the next attempt is due.
    public var nextAttemptAt: Timestamp
    /// The HTTP status of the last attempt, `nil` before the first attempt or when no response came.
    public var lastStatus: Int?
    /// The error of the last attempt (a curl error or a short reason), `nil` if none.
    public var lastError: String?
    /// When the delivery was created.
    public var createdAt: Timestamp
    /// The W3C `traceparent` stored with the delivery (``NewDelivery/traceparent``), `nil` if none.
    public var traceparent: String?
    /// The ordering stored with the delivery (``NewDelivery/ordering``), `nil` if none.
    public var ordering: DeliveryOrdering?

    /// Creates a value; logs make these, tests may too.
    public init(
        sequence: Int64,
        deliveryID: String,
        target: String,
        rule: String,
        payload: [UInt8],
        attempts: Int,
        nextAttemptAt: Timestamp,
        lastStatus: Int?,
        lastError: String?,
        createdAt: Timestamp,
        traceparent: String? = nil,
        ordering: DeliveryOrdering? = nil
    ) {
        self.sequence = sequence
        self.deliveryID = deliveryID
        self.target = target
        self.rule = rule
        self.payload = payload
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.traceparent = traceparent
        self.ordering = ordering
    }
}
