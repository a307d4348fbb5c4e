/// A delivery to record in the spool: one (event, target) pair and the exact bytes to send.
public struct NewDelivery: Sendable {
    /// The stable id of the (event, target) pair, sent to the target so that it can drop repeats.
    public var deliveryID: String
    /// The target name.
    public var target: String
    /// The name of the rule that routed the event to the target (the first one when several did).
    public var rule: String
    /// The request body to send, byte for byte.
    public var payload: [UInt8]
    /// When the delivery was created, in milliseconds since 1970-01-01 UTC.
    public var createdAt: Int64
    /// When the first attempt is due, in milliseconds since 1970-01-01 UTC (usually `createdAt`).
    public var nextAttemptAt: Int64

    /// Creates a delivery; `nextAttemptAt` defaults to `createdAt`.
    public init(
        deliveryID: String,
        target: String,
        rule: String,
        payload: [UInt8],
        createdAt: Int64,
        nextAttemptAt: Int64? = nil
    ) {
        self.deliveryID = deliveryID
        self.target = target
        self.rule = rule
        self.payload = payload
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt ?? createdAt
    }
}
