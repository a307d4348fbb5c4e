import RelayCore

/// The `Retry-After` response header (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
public enum RetryAfter {
    /// The wait a `Retry-After` value asks for.
    /// - Parameters:
    ///   - value: the header value, e.g. `120` or `Wed, 21 Oct 2015 07:28:00 GMT`. All three HTTP-date forms are
    ///     read: IMF-fixdate, RFC 850 (`Wednesday, 21-Oct-15 07:28:00 GMT`) and asctime
    ///     (`Wed Oct 21 07:28:00 2015`).
    ///   - now: the current time (an HTTP-date is relative to it).
    /// - Returns: the wait (`.zero` for a date in the past), or `nil` if the value is neither form.
    public static func parse(_ value: String, now: Timestamp) -> Duration? {
        var bytes = Array(value.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.endIndex
        let trimmed = bytes[start...]
        guard !trimmed.isEmpty else { return nil }
        if trimmed.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            var seconds: Int64 = 0
            for digit in trimmed {
                let (times10, overflow) = seconds.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit - 0x30))
                guard !overflow, !overflow2 else { return .seconds(Int64.max) }
                seconds = sum
            }
            return .seconds(seconds)
        }
        guard let date = httpDate(trimmed) else { return nil }
        let delta = Timestamp(millisecondsSince1970: date * 1000) - now
        return delta > .zero ? delta : .zero
    }

    /// Seconds since 1970-01-01 UTC of an HTTP-date, or `nil`.
    static func httpDate(_ bytes: ArraySlice<UInt8>) -> Int64? {
        let words = bytes.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard let weekday = words.first, weekday.count >= 3 else { return nil }
        let day: Int
        let month: Int
        var year: Int
        let time: String
        if weekday.hasSuffix(",") {
            if words.count == 6, words[5] == "GMT" {
                // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
                guard let d = Int(words[1]), let m = monthNumber(words[2]), let y = Int(words[3]) else { return nil }
                (day, month, year, time) = (d, m, y, words[4])
            } else if words.count == 4, words[3] == "GMT" {
                // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
                let parts = words[1].split(separator: "-")
                guard parts.count == 3, let d = Int(parts[0]), let m = monthNumber(String(parts[1])),
                    let y = Int(parts[2])
                else { return nil }
                (day, month, year, time) = (d, m, y, words[2])
                if parts[2].count == 2 { year += year < 70 ? 2000 : 1900 }
            } else {
                return nil
            }
        } else if words.count == 5 {
            // asctime: Sun Nov  6 08:49:37 1994
            guard let m = monthNumber(words[1]), let d = Int(words[2]), let y = Int(words[4]) else { return nil }
            (day, month, year, time) = (d, m, y, words[3])
        } else {
            return nil
        }
        let clock = time.split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
            (1...31).contains(day), (1...9999).contains(year)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    private static func monthNumber(_ name: String) -> Int? {
        switch name {
        case "Jan": 1
        case "Feb": 2
        case "Mar": 3
        case "Apr": 4
        case "May": 5
        case "Jun": 6
        case "Jul": 7
        case "Aug": 8
        case "Sep": 9
        case "Oct": 10
        case "Nov": 11
        case "Dec": 12
        default: nil
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
