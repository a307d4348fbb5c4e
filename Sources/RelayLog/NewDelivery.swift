import RelayCore

/// A delivery to append to the delivery log: one (event record, target) pair and the exact bytes to send.
public struct NewDelivery: Sendable, Equatable {
    /// The stable id of the (event record, target) pair, sent to the target as `webhook-id` so that it can drop
    /// repeats.
    public var deliveryID: String
    /// The target name.
    public var target: String
    /// The name of the rule that routed the record to the target (the first one when several did).
    public var rule: String
    /// The request body to send, byte for byte.
    public var payload: [UInt8]
    /// When the delivery was created.
    public var createdAt: Timestamp
    /// When the first attempt is due (usually `createdAt`).
    public var nextAttemptAt: Timestamp
    /// The W3C `traceparent` of the event's trace that each attempt continues (its parent span is the event's
    /// `spool` span), `nil` for deliveries stored without one (docs/operations.md, "Tracing").
    public var traceparent: String?
    /// For a target with `ordering: "key"`: the delivery's object and its place among that object's deliveries,
    /// which the log hands out one at a time in that order; `nil` (the default) for a delivery with no order
    /// (docs/delivery.md, "Ordering").
    public var ordering: DeliveryOrdering?

    /// Creates a delivery; `nextAttemptAt` defaults to `createdAt`, `traceparent` and `ordering` to none.
    public init(
        deliveryID: String,
        target: String,
        rule: String,
        payload: [UInt8],
        createdAt: Timestamp,
        nextAttemptAt: Timestamp? = nil,
        traceparent: String? = nil,
        ordering: DeliveryOrdering? = nil
    ) {
        self.deliveryID = deliveryID
        self.target = target
        self.rule = rule
        self.payload = payload
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt ?? createdAt
        self.traceparent = traceparent
        self.ordering = ordering
    }
}
