import Crypto
import RelayCore

/// The identity of an event record as its sender resends it: equal for a resend of the same event, different for any
/// other event (docs/delivery.md, "Resends").
///
/// MinIO with a queue_dir resends an event whose answer it did not get with the same `x-amz-request-id` and
/// `sequencer`; Ceph RGW resends with the same `eventId`. Stored by the delivery log in the same transaction as the
/// record's deliveries, so it is a 128-bit digest (SHA-256, truncated) that is stable across processes and restarts
/// and that a sender cannot make collide with another sender's event.
public struct ResendIdentity: Hashable, Sendable {
    /// The digest's first 64 bits.
    public let high: UInt64
    /// The digest's next 64 bits.
    public let low: UInt64

    /// Creates an identity from its two halves (as stored).
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The digest of `parts`, each length-prefixed so that no two lists of parts share a digest.
    public init(_ parts: [String]) {
        var hasher = SHA256()
        for part in parts {
            var length = UInt32(truncatingIfNeeded: part.utf8.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(part.utf8))
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        hasher.finalize().withUnsafeBytes { bytes in
            for index in 0..<8 {
                high = high << 8 | UInt64(bytes[index])
                low = low << 8 | UInt64(bytes[index + 8])
            }
        }
        self.high = high
        self.low = low
    }

    /// The 16 bytes of the digest, big-endian, as stored.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: low >> UInt64(shift)))
        }
        return out
    }

    /// The identity of a record, or `nil` when it carries none (then it is never taken for a resend).
    public static func of(_ record: EventRecord) -> ResendIdentity? {
        if let eventID = record.eventID, !eventID.isEmpty {
            // RGW's eventId is only a microsecond timestamp and the ETag: two objects with the same content written
            // in the same microsecond share it. The object's name and version tell them apart.
            return ResendIdentity([
                "id", eventID, record.eventName, record.bucket, record.rawKey, record.versionID ?? "",
            ])
        }
        guard let requestID = record.requestID, !requestID.isEmpty, let sequencer = record.sequencer,
            !sequencer.isEmpty
        else { return nil }
        return ResendIdentity(["rq", requestID, sequencer, record.eventName, record.bucket, record.rawKey])
    }
}
