#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in wall-clock time, in whole milliseconds since 1970-01-01 00:00:00 UTC.
///
/// The relay's one type for instants: when a delivery was created or is due, when a dead letter was written, when a
/// resend identity was seen. Spans of time are `Duration`. Millisecond precision is what the delivery log stores and
/// what HTTP dates and dead-letter lines need.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01 00:00:00 UTC (negative before it).
    public var millisecondsSince1970: Int64

    /// Creates an instant from milliseconds since 1970-01-01 00:00:00 UTC.
    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    /// The current wall-clock time (`clock_gettime(CLOCK_REALTIME)`).
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSince1970: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    /// The earliest representable instant; nothing is due before it.
    public static let distantPast = Timestamp(millisecondsSince1970: Int64.min / 2)
    /// The latest representable instant; everything is due before it.
    public static let distantFuture = Timestamp(millisecondsSince1970: Int64.max / 2)

    /// Seconds since 1970-01-01 UTC, rounded down (for `webhook-timestamp`).
    public var secondsSince1970: Int64 {
        millisecondsSince1970 >= 0 ? millisecondsSince1970 / 1000 : (millisecondsSince1970 - 999) / 1000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// The instant `duration` after `instant` (rounded down to the millisecond, saturating).
    public static func + (instant: Timestamp, duration: Duration) -> Timestamp {
        let (sum, overflow) = instant.millisecondsSince1970.addingReportingOverflow(duration.wholeMilliseconds)
        if overflow { return duration > .zero ? .distantFuture : .distantPast }
        return Timestamp(millisecondsSince1970: sum)
    }

    /// The span from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        .milliseconds(lhs.millisecondsSince1970 &- rhs.millisecondsSince1970)
    }

    /// ISO 8601 UTC with milliseconds: `2026-11-25T10:11:12.345Z`.
    public var description: String { iso8601 }

    /// ISO 8601 UTC with milliseconds: `2026-11-25T10:11:12.345Z` (the dead-letter file's `time`).
    public var iso8601: String {
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
        return "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T\(Self.pad(hour, 2)):"
            + "\(Self.pad(minute, 2)):\(Self.pad(second, 2)).\(Self.pad(millisecond, 3))Z"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension Duration {
    /// The span in whole milliseconds, rounded toward zero, saturating at the bounds of `Int64`.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds > 0 ? Int64.max : Int64.min }
        let (total, overflow2) = milliseconds.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if overflow2 { return seconds > 0 ? Int64.max : Int64.min }
        return total
    }
}
