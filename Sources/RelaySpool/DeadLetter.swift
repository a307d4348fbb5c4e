/// One line of the dead-letter file: a failed (event, target) delivery, or an input that could not be routed.
///
/// Encoded as one JSON object per line with sorted keys; `nil` fields are omitted. Field names are the property
/// names (`deliveryID`, `lastStatus`, ...).
public struct DeadLetter: Codable, Sendable, Equatable {
    /// When the line was written: ISO 8601 UTC with milliseconds, `2026-11-25T10:11:12.345Z`
    /// (see ``timestamp(millisecondsSince1970:)``).
    public var time: String
    /// Why: `rejected` (the target answered a 4xx that is not retried), `exhausted` (every attempt failed) or
    /// `undecodable` (valid JSON that is not a routable S3 event).
    public var reason: String
    /// The rule that routed the event, if any.
    public var rule: String?
    /// The target name, if any.
    public var target: String?
    /// The target URL as configured (after `${NAME}` substitution), if any.
    public var url: String?
    /// The stable id of the (event, target) pair, if any.
    public var deliveryID: String?
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
    /// The exact bytes that were sent (or, for `undecodable`, the body received), as UTF-8 text. Bytes that are
    /// not valid UTF-8 cannot be represented and become U+FFFD.
    public var payload: String

    /// Creates a dead letter; every optional field defaults to `nil`.
    public init(
        time: String,
        reason: String,
        rule: String? = nil,
        target: String? = nil,
        url: String? = nil,
        deliveryID: String? = nil,
        attempts: Int? = nil,
        lastStatus: Int? = nil,
        lastError: String? = nil,
        field: String? = nil,
        detail: String? = nil,
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
        self.payload = payload
    }

    /// Formats a time as ISO 8601 UTC with milliseconds: `2026-11-25T10:11:12.345Z`.
    ///
    /// - Parameter millisecondsSince1970: Milliseconds since 1970-01-01 00:00:00 UTC (negative values allowed).
    public static func timestamp(millisecondsSince1970: Int64) -> String {
        let millisecondsPerDay: Int64 = 86_400_000
        var days = millisecondsSince1970 / millisecondsPerDay
        var milliseconds = millisecondsSince1970 % millisecondsPerDay
        if milliseconds < 0 {
            milliseconds += millisecondsPerDay
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        let hour = milliseconds / 3_600_000
        let minute = milliseconds / 60_000 % 60
        let second = milliseconds / 1000 % 60
        let millisecond = milliseconds % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))."
            + "\(pad(millisecond, 3))Z"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
