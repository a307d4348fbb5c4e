import Crypto
import RelayCore

/// Where a delivery to a target with `ordering: "key"` stands among the deliveries of its object
/// (docs/delivery.md, "Ordering").
///
/// Deliveries with the same ``key`` go one at a time, lowest ``position`` first (ties in arrival order); the log
/// hands out only the head of each key, and only while no delivery of that key is claimed.
public struct DeliveryOrdering: Sendable, Hashable {
    /// The (bucket, key) the delivery belongs to: 32 lowercase hex digits, the first 128 bits of a SHA-256 of the
    /// length-prefixed bucket and object key. Two objects sharing it (never seen in practice) would only be delivered
    /// one after the other, never out of order.
    public var key: String
    /// The delivery's place among its key's deliveries, compared as text (byte order): `s` followed by the
    /// sequencer's length (3 decimal digits) and its hex digits without leading zeros, upper case, so that texts
    /// compare as the numbers do whatever their lengths; or `t` followed by the event time (or, without one, the
    /// arrival time) as 19 decimal digits of nanoseconds since 1970.
    public var position: String

    /// Creates a value from its stored parts.
    public init(key: String, position: String) {
        self.key = key
        self.position = position
    }

    /// The ordering of `record`, which arrived at `arrival`.
    ///
    /// The position comes from `s3.object.sequencer` when it is hex (MinIO, AWS, EventBridge); from `eventTime`
    /// (RFC 3339) for Ceph RGW, whose sequencer does not follow the object's changes, and for records whose sequencer
    /// is missing or not hex; from `arrival` when neither is usable.
    public static func of(_ record: EventRecord, arrival: Timestamp) -> DeliveryOrdering {
        DeliveryOrdering(
            key: objectKey(bucket: record.bucket, key: record.key),
            position: position(of: record, arrival)
        )
    }

    /// The ``key`` of an object.
    public static func objectKey(bucket: String, key: String) -> String {
        var hasher = SHA256()
        for part in [bucket, key] {
            var length = UInt32(truncatingIfNeeded: part.utf8.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(part.utf8))
        }
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        hasher.finalize().withUnsafeBytes { bytes in
            for byte in bytes.prefix(16) {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func position(of record: EventRecord, _ arrival: Timestamp) -> String {
        if record.eventSource != "ceph:s3", let sequencer = record.sequencer,
            let position = sequencerPosition(sequencer)
        {
            return position
        }
        if let time = record.eventTime, let nanoseconds = RFC3339.nanosecondsSince1970(time) {
            return timePosition(nanoseconds)
        }
        let (nanoseconds, overflow) = arrival.millisecondsSince1970.multipliedReportingOverflow(by: 1_000_000)
        return timePosition(overflow ? (arrival.millisecondsSince1970 < 0 ? 0 : .max) : nanoseconds)
    }

    /// `s<length><digits>` for a hex sequencer of at most 999 significant digits; nil when it is not hex.
    static func sequencerPosition(_ sequencer: String) -> String? {
        var digits: [UInt8] = []
        for byte in sequencer.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "F"):
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
            case UInt8(ascii: "a")...UInt8(ascii: "f"):
                digits.append(byte - 0x20)
            default:
                return nil
            }
        }
        guard !sequencer.isEmpty, digits.count <= 999 else { return nil }
        let length = String(digits.count)
        return "s" + String(repeating: "0", count: 3 - length.count) + length + String(decoding: digits, as: UTF8.self)
    }

    /// `t` and 19 decimal digits: nanoseconds since 1970, from 0 (earlier instants too) to `Int64.max`.
    static func timePosition(_ nanoseconds: Int64) -> String {
        let text = String(max(0, nanoseconds))
        return "t" + String(repeating: "0", count: max(0, 19 - text.count)) + text
    }
}

/// The RFC 3339 timestamps of S3 event records: `2026-11-25T05:40:58.841270Z`, `2026-01-12T17:58:12.011Z`,
/// `2026-03-02T10:15:30Z`, with `Z` or a `+hh:mm` / `-hh:mm` offset.
enum RFC3339 {
    /// Nanoseconds since 1970-01-01 UTC; nil when `text` is not such a timestamp (or before 1970, after 2262).
    static func nanosecondsSince1970(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let offsetHours = number(index + 1..<index + 3), let offsetMinutes = number(index + 4..<index + 6),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        // Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        guard seconds >= 0, seconds < 9_223_372_036 else { return nil }
        return seconds * 1_000_000_000 + fraction
    }
}

extension DeliveryLog {
    /// A log orders nothing unless it says so.
    public var ordersByKey: Bool { false }
}
