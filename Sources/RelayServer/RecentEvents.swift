import RelayCore
import Synchronization

/// The identities of events recently spooled, so that a sender's resend of the same event is not fanned out twice.
///
/// MinIO with a queue_dir resends an event whose answer it did not get (a timeout, a restart of either side) with the
/// same `x-amz-request-id` and `sequencer`; Ceph RGW resends with the same `eventId`. Bounded: at most `capacity`
/// identities, each remembered for `window` milliseconds; the oldest are forgotten first. In memory only: after a
/// relay restart a resend is delivered again, which at-least-once allows.
final class RecentEvents: Sendable {
    /// A 128-bit digest of an event's identity: fixed-size, so remembering 100,000 events costs a few MB and no
    /// allocation per event. (Hasher is seeded per process, which is all an in-memory window needs.)
    struct Identity: Hashable, Sendable {
        let high: UInt64
        let low: UInt64

        init(_ parts: [String]) {
            var first = Hasher()
            var second = Hasher()
            first.combine(0x5EED_0001 as UInt64)
            second.combine(0x5EED_0002 as UInt64)
            for part in parts {
                first.combine(part)
                second.combine(part)
            }
            high = UInt64(bitPattern: Int64(first.finalize()))
            low = UInt64(bitPattern: Int64(second.finalize()))
        }
    }

    private struct State {
        var seen: [Identity: Int64] = [:]
        /// Insertion order, oldest first from `head`; each with the time it was inserted at.
        var order: [(identity: Identity, at: Int64)] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let window: Int64

    /// - Parameters:
    ///   - capacity: the most identities kept.
    ///   - window: how long an identity is kept, in milliseconds.
    init(capacity: Int = 100_000, window: Int64 = 600_000) {
        self.capacity = max(1, capacity)
        self.window = window
    }

    /// The identity of a record, or nil when it carries none (then it is never taken for a duplicate).
    static func identity(of record: EventRecord) -> Identity? {
        if let eventID = record.eventID, !eventID.isEmpty {
            // RGW's eventId is only a microsecond timestamp and the ETag (`set_event_id`): two objects with the
            // same content written in the same microsecond share it. The object's name and version tell them apart.
            return Identity(["id", eventID, record.eventName, record.bucket, record.rawKey, record.versionID ?? ""])
        }
        guard let requestID = record.requestID, !requestID.isEmpty, let sequencer = record.sequencer,
            !sequencer.isEmpty
        else { return nil }
        return Identity(["rq", requestID, sequencer, record.eventName, record.bucket, record.rawKey])
    }

    /// True when `identity` was remembered within the window before `now`.
    func contains(_ identity: Identity, now: Int64) -> Bool {
        state.withLock { state in
            guard let at = state.seen[identity] else { return false }
            return now - at <= window
        }
    }

    /// Remembers `identities` as spooled at `now`.
    func insert(_ identities: [Identity], now: Int64) {
        guard !identities.isEmpty else { return }
        state.withLock { state in
            for identity in identities {
                state.seen[identity] = now
                state.order.append((identity, now))
            }
            // Forget the oldest beyond `capacity`, and everything older than the window.
            while state.head < state.order.count {
                let oldest = state.order[state.head]
                guard state.order.count - state.head > capacity || now - oldest.at > window else { break }
                if state.seen[oldest.identity] == oldest.at {
                    state.seen[oldest.identity] = nil
                }
                state.head += 1
            }
            if state.head > 4096 && state.head * 4 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }
}
