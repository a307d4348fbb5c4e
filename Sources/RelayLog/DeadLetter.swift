import RelayCore

/// One line of the dead-letter file: a failed (event, target) delivery, or an input that could not be routed.
///
/// Encoded as one JSON object per line with sorted keys; `nil` fields are omitted. Field names are the property
/// names (`deliveryID`, `lastStatus`, ...).
public struct DeadLetter: Codable, Sendable, Equatable {
    /// When the line was written: ISO 8601 UTC with milliseconds, `2026-11-25T10:11:12.345Z`
    /// (see ``Timestamp/iso8601``).
    public var time: String
    /// Why the line was written.
    public var reason: DeadLetterReason
    /// The rule that routed the event, if any.
    public var rule: String?
    /// The target name, if any.
    public var target: String?
    /// The target URL as configured (after `${NAME}` substitution), if any.
    public var url: String?
    /// The stable id of the (event, target) pair, if any; for a batch, the batch's id.
    public var deliveryID: String?
    /// For a batch (docs/delivery.md, "Batches"): the delivery ids of its records, in the order of the payload's
    /// `Records`; nil for a single delivery.
    public var members: [String]?
    /// The attempts made, if any.
    public var attempts: Int?
    /// The HTTP status of the last attempt, if a response came.
    public var lastStatus: Int?
    /// The error of the last attempt (a curl error or a short reason), if any.
    public var lastError: String?
    /// For `undecodable`: the field that was wrong, e.g. `Records[0].s3.object.size`.
    public var field: String?
    /// A human-readable explanation, if any.
    public var detail: String?
    /// The W3C `traceparent` of the event's trace the delivery belonged to, if any: a replay continues it.
    public var traceparent: String?
    /// The exact bytes that were sent (or, for `undecodable`, the body received), as UTF-8 text. Bytes that are
    /// not valid UTF-8 cannot be represented and become U+FFFD.
    public var payload: String

    /// Creates a dead letter; every optional field defaults to `nil`.
    public init(
        time: String,
        reason: DeadLetterReason,
        rule: String? = nil,
        target: String? = nil,
        url: String? = nil,
        deliveryID: String? = nil,
        attempts: Int? = nil,
        lastStatus: Int? = nil,
        lastError: String? = nil,
        field: String? = nil,
        detail: String? = nil,
        traceparent: String? = nil,
        members: [String]? = nil,
        payload: String
    ) {
        self.time = time
        self.reason = reason
        self.rule = rule
        self.target = target
        self.url = url
        self.deliveryID = deliveryID
        self.attempts = attempts
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.field = field
        self.detail = detail
        self.traceparent = traceparent
        self.members = members
        self.payload = payload
    }
}
