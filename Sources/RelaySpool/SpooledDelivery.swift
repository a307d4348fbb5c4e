/// A pending delivery as stored in the spool.
public struct SpooledDelivery: Sendable, Equatable {
    /// The row id: the handle for ``Spool/complete(rowID:)`` and
    /// ``Spool/reschedule(rowID:attempts:nextAttemptAt:lastStatus:lastError:)``. Never reused while the spool file
    /// exists.
    public var rowID: Int64
    /// The stable id of the (event, target) pair.
    public var deliveryID: String
    /// The target name.
    public var target: String
    /// The name of the rule that routed the event to the target.
    public var rule: String
    /// The request body to send, byte for byte.
    public var payload: [UInt8]
    /// The attempts made so far (0 for a new delivery).
    public var attempts: Int
    /// When the next attempt is due, in milliseconds since 1970-01-01 UTC.
    public var nextAttemptAt: Int64
    /// The HTTP status of the last attempt, `nil` before the first attempt or when no response came.
    public var lastStatus: Int?
    /// The error of the last attempt (a curl error or a short reason), `nil` if none.
    public var lastError: String?
    /// When the delivery was created, in milliseconds since 1970-01-01 UTC.
    public var createdAt: Int64

    /// Creates a value; ``Spool`` makes these, tests and callers may too.
    public init(
        rowID: Int64,
        deliveryID: String,
        target: String,
        rule: String,
        payload: [UInt8],
        attempts: Int,
        nextAttemptAt: Int64,
        lastStatus: Int?,
        lastError: String?,
        createdAt: Int64
    ) {
        self.rowID = rowID
        self.deliveryID = deliveryID
        self.target = target
        self.rule = rule
        self.payload = payload
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
    }
}
