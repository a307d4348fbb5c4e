/// A W3C Trace Context `traceparent` header value (https://www.w3.org/TR/trace-context/#traceparent-header):
/// `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`, lowercase.
///
/// Every event the relay receives belongs to one trace: the sender's when its request carried a valid
/// `traceparent`, a new one otherwise; every delivery of the event sends a `traceparent` of that trace
/// (docs/operations.md, "Tracing").
public struct TraceParent: Sendable, Hashable, CustomStringConvertible {
    /// The trace id: 16 bytes, not all zero.
    public var traceID: [UInt8]
    /// The id of the span this value names as the parent: 8 bytes, not all zero.
    public var parentID: [UInt8]
    /// The trace flags; bit 0 is `sampled`.
    public var flags: UInt8

    /// A value with the given ids; `nil` when an id has the wrong length or is all zeros.
    public init?(traceID: [UInt8], parentID: [UInt8], flags: UInt8) {
        guard traceID.count == 16, parentID.count == 8, traceID.contains(where: { $0 != 0 }),
            parentID.contains(where: { $0 != 0 })
        else { return nil }
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// Parses a header value; `nil` for anything that is not a valid `traceparent` (then a new trace is started,
    /// the request is never refused for it).
    ///
    /// Version `00` must be exactly 55 characters; a higher version (not `ff`) is read by its first four fields,
    /// as the specification asks. Hex must be lowercase; an all-zero trace id or parent id is invalid.
    public init?(header: some StringProtocol) {
        let bytes = Array(header.utf8)
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"),
            bytes[52] == UInt8(ascii: "-"),
            let version = Self.hexBytes(bytes[0..<2]).first, version != 0xff,
            let flags = Self.hexBytes(bytes[53..<55]).first
        else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            guard bytes[55] == UInt8(ascii: "-") else { return nil }
        }
        let traceID = Self.hexBytes(bytes[3..<35])
        let parentID = Self.hexBytes(bytes[36..<52])
        self.init(traceID: traceID, parentID: parentID, flags: flags)
    }

    /// A new trace: random trace and parent ids, flags as given (`0`: not sampled).
    public static func random(flags: UInt8 = 0, using generator: inout some RandomNumberGenerator) -> TraceParent {
        TraceParent(unchecked: randomID(16, using: &generator), randomID(8, using: &generator), flags)
    }

    /// The same trace and flags with a new random parent id (a span of this relay that no exporter records).
    public func child(using generator: inout some RandomNumberGenerator) -> TraceParent {
        TraceParent(unchecked: traceID, Self.randomID(8, using: &generator), flags)
    }

    /// The trace id as 32 lowercase hex digits.
    public var traceIDHex: String { Self.hex(traceID) }
    /// The parent id as 16 lowercase hex digits.
    public var parentIDHex: String { Self.hex(parentID) }

    /// The header value, version `00`.
    public var description: String {
        "00-\(traceIDHex)-\(parentIDHex)-\(Self.hex([flags]))"
    }

    private init(unchecked traceID: [UInt8], _ parentID: [UInt8], _ flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// Random bytes, never all zero.
    private static func randomID(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        // Eight bytes per draw: the system generator costs a system call per draw, not per byte.
        var bytes = [UInt8](repeating: 0, count: count)
        repeat {
            var index = 0
            while index < count {
                var word = generator.next()
                for _ in 0..<min(8, count - index) {
                    bytes[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
        } while !bytes.contains(where: { $0 != 0 })
        return bytes
    }

    /// Lowercase hex pairs to bytes; empty when a character is not lowercase hex.
    private static func hexBytes(_ digits: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index + 1 < digits.endIndex {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return [] }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
