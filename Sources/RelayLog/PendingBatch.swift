import Crypto
import RelayCore

/// A batch of claimed deliveries of one target, sent in one request with one delivery id (docs/delivery.md,
/// "Batches"), handed out by ``DeliveryLog/claimBatch(target:now:maxRecords:maxBytes:formBefore:)``.
///
/// A batch is formed once, when it is first claimed, and stays the same batch (the same members, the same id) across
/// retries and restarts, so that a receiver can drop a repeat by its id. Its outcome is recorded for all members at
/// once: `delivered(_:)`, `retry(_:attempts:at:lastStatus:lastError:)`,
/// `deadLetter(_:_:)` or `release(_:)` of ``DeliveryLog``, each taking the batch.
public struct PendingBatch: Sendable, Equatable {
    /// The batch's delivery id, sent as `webhook-id`: ``id(members:)`` of the members' delivery ids.
    public var batchID: String
    /// The target name.
    public var target: String
    /// The batch's deliveries, in the order their records appear in the body (the log's order: oldest first).
    /// Never empty.
    public var members: [PendingDelivery]

    /// Creates a batch; logs make these, tests may too.
    public init(batchID: String, target: String, members: [PendingDelivery]) {
        self.batchID = batchID
        self.target = target
        self.members = members
    }

    /// The counted attempts of the batch (the members share them; the most of any member).
    public var attempts: Int { members.lazy.map(\.attempts).max() ?? 0 }
    /// The HTTP status of the batch's last attempt, if a response came.
    public var lastStatus: Int? { members.first?.lastStatus }
    /// The error of the batch's last attempt, if any.
    public var lastError: String? { members.first?.lastError }
    /// The rule of the first member (sent as `X-Relay-Rule`).
    public var rule: String { members.first?.rule ?? "" }
    /// The `traceparent` of the first member that has one: each attempt of the batch continues that event's trace.
    public var traceparent: String? { members.lazy.compactMap(\.traceparent).first }

    /// The id of the batch of these deliveries: `msg_` and 32 hex digits of SHA-256 over `batch` and the member ids,
    /// each length-prefixed. The same members in the same order give the same id on any relay, so a batch formed
    /// again (after a crash lost its forming) keeps its id.
    public static func id(members: [String]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("batch".utf8))
        for member in members {
            var length = UInt32(truncatingIfNeeded: member.utf8.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(member.utf8))
        }
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("msg_".utf8)
        for byte in hasher.finalize().prefix(16) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
