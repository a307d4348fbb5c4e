import Foundation

/// Ids of deliveries: one per (event record, target), the same across every attempt, sent as `webhook-id`.
public enum DeliveryID {
    /// A new random id, `msg_` followed by 32 lowercase hex digits (a UUID's 128 bits).
    public static func make() -> String {
        let uuid = UUID().uuid
        let bytes = [
            uuid.0, uuid.1, uuid.2, uuid.3, uuid.4, uuid.5, uuid.6, uuid.7,
            uuid.8, uuid.9, uuid.10, uuid.11, uuid.12, uuid.13, uuid.14, uuid.15,
        ]
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("msg_".utf8)
        out.reserveCapacity(36)
        for byte in bytes {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
