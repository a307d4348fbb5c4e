import Synchronization

/// A cap on the request-body bytes the relay holds in memory at once, across all connections.
///
/// Each request reserves its `Content-Length` (or `--max-body` when the length is unknown) before its body is read;
/// beyond the cap it is answered 503 with `Retry-After` instead of being read. Without it, many senders holding
/// nearly `--max-body`-sized bodies open could grow the process without bound.
final class BodyBudget: Sendable {
    private let used = Atomic<Int>(0)
    /// The cap, in bytes.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Reserves `bytes`; false (and nothing reserved) when that would exceed the cap.
    func reserve(_ bytes: Int) -> Bool {
        let after = used.add(bytes, ordering: .relaxed).newValue
        if after > limit && after != bytes {
            used.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
