/// Reads and writes durations in Go's notation: one or more `<number><unit>` groups such as `200ms`, `5s`, `1m`,
/// `1h30m` or `1.5s`.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. A number may have a fraction (`1.5s`); a bare `0` is zero.
/// Negative durations and numbers without a unit are refused. Used by rule files (`timeout`, `retry.*Backoff`) and
/// by the server's flags.
public enum DurationParser {
    /// Parses `text` into a duration with nanosecond precision (finer fractions are truncated).
    /// - Throws: `UnitParseError` (`invalidDuration`, or `outOfRange` beyond about 292 years).
    public static func parse(_ text: String) throws(UnitParseError) -> Duration {
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: "0")] { return .zero }
        guard !bytes.isEmpty else { throw invalid(text) }
        if bytes[0] == UInt8(ascii: "-"), (try? parse(String(decoding: bytes.dropFirst(), as: UTF8.self))) != nil {
            throw UnitParseError(
                code: .invalidDuration,
                input: text,
                message: "\(text.quotedForMessage): durations must be positive; drop the \"-\""
            )
        }
        var index = 0
        var total: Int64 = 0
        while index < bytes.count {
            let integerStart = index
            while index < bytes.count, ASCII.isDigit(bytes[index]) { index += 1 }
            let integerDigits = index - integerStart
            var integerPart: Int64 = 0
            for byte in bytes[integerStart..<index] {
                integerPart = try checked(integerPart, times: 10, plus: Int64(byte - UInt8(ascii: "0")), text)
            }
            var fractionDigits: [UInt8] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                while index < bytes.count, ASCII.isDigit(bytes[index]) {
                    fractionDigits.append(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                }
            }
            guard integerDigits + fractionDigits.count > 0 else { throw invalid(text) }
            let unitStart = index
            while index < bytes.count, !ASCII.isDigit(bytes[index]), bytes[index] != UInt8(ascii: ".") { index += 1 }
            guard let unit = nanoseconds(ofUnit: bytes[unitStart..<index]) else { throw invalid(text) }
            var value = try checked(integerPart, times: unit, plus: 0, text)
            // Fraction: digit by digit, each worth unit / 10^position, truncated below a nanosecond.
            var scale = unit
            for digit in fractionDigits {
                scale /= 10
                if scale == 0 { break }
                value = try checked(value, times: 1, plus: Int64(digit) * scale, text)
            }
            total = try checked(total, times: 1, plus: value, text)
        }
        return .nanoseconds(total)
    }

    /// Formats `duration` so that `parse` reads it back: `0s`, `200ms`, `5s`, `1m30s`, `1h`, `1s500ms`, `1500ns`.
    /// Negative durations are formatted with a leading `-` (which `parse` refuses).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || attoseconds < 0 {
            return "-" + format(.zero - duration)
        }
        if seconds == 0, attoseconds == 0 { return "0s" }
        var out = ""
        let hours = seconds / 3600
        let minutes = seconds % 3600 / 60
        let secs = seconds % 60
        if hours > 0 { out += "\(hours)h" }
        if minutes > 0 { out += "\(minutes)m" }
        if secs > 0 { out += "\(secs)s" }
        let nanos = attoseconds / 1_000_000_000
        if nanos > 0 {
            if nanos % 1_000_000 == 0 {
                out += "\(nanos / 1_000_000)ms"
            } else if nanos % 1000 == 0 {
                out += "\(nanos / 1000)us"
            } else {
                out += "\(nanos)ns"
            }
        }
        return out.isEmpty ? "0s" : out
    }

    private static func nanoseconds(ofUnit unit: ArraySlice<UInt8>) -> Int64? {
        switch String(decoding: unit, as: UTF8.self) {
        case "ns": 1
        case "us", "µs", "μs": 1000
        case "ms": 1_000_000
        case "s": 1_000_000_000
        case "m": 60_000_000_000
        case "h": 3_600_000_000_000
        default: nil
        }
    }

    private static func checked(
        _ value: Int64,
        times factor: Int64,
        plus addend: Int64,
        _ text: String
    ) throws(UnitParseError) -> Int64 {
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        let (sum, overflow2) = product.addingReportingOverflow(addend)
        guard !overflow, !overflow2 else {
            throw UnitParseError(
                code: .outOfRange,
                input: text,
                message: "\(text.quotedForMessage) is too long a duration; the maximum is about 292 years"
            )
        }
        return sum
    }

    private static func invalid(_ text: String) -> UnitParseError {
        UnitParseError(
            code: .invalidDuration,
            input: text,
            message: "\(text.quotedForMessage) is not a duration; write a number and a unit (ms, s, m, h), "
                + "e.g. \"200ms\", \"5s\", \"1h30m\""
        )
    }
}
