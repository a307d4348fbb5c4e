import Crypto
import Foundation
import RelayLog

/// Ids of deliveries: one per (event record, target), the same across every attempt, sent as `webhook-id`.
public enum DeliveryID {
    /// A new random id, `msg_` followed by 32 lowercase hex digits (a UUID's 128 bits).
    public static func make() -> String {
        let uuid = UUID().uuid
        return hex([
            uuid.0, uuid.1, uuid.2, uuid.3, uuid.4, uuid.5, uuid.6, uuid.7,
            uuid.8, uuid.9, uuid.10, uuid.11, uuid.12, uuid.13, uuid.14, uuid.15,
        ])
    }

    /// The id of the delivery of a record with resend identity `identity` to `target`: the same for every sending of
    /// the same event, on any relay, so that a stream's duplicate window (`Nats-Msg-Id`) stores two concurrent
    /// appends of one resent event once, and a receiver sees one `webhook-id` per (event, target) whatever the
    /// sender resent. `msg_` and 32 hex digits of SHA-256 over the identity and the target name.
    public static func make(identity: ResendIdentity, target: String) -> String {
        var hasher = SHA256()
        hasher.update(data: identity.bytes)
        hasher.update(data: Array(target.utf8))
        return hex(Array(hasher.finalize().prefix(16)))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("msg_".utf8)
        out.reserveCapacity(36)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
