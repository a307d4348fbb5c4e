import Synchronization

/// A cap on the request-body bytes the relay holds in memory at once, across all connections, and a smaller one
/// per client (remote IP address).
///
/// Bytes are reserved as they arrive, chunk by chunk, and released once the request has been answered: a sender
/// that opens a request and dribbles its body holds only what it has sent, so a crowd of slow senders cannot make
/// the budget look full to everyone else (docs/security.md). A chunk that would pass either cap is refused: the
/// request is answered 503 with `Retry-After`. Without the cap, many senders holding nearly `--max-body`-sized
/// bodies open could grow the process without bound; without the per-client cap, one client could take all of it.
final class BodyBudget: Sendable {
    /// What one request holds; released in one call when it is answered.
    final class Reservation: Sendable {
        let client: String
        fileprivate let bytes = Atomic<Int>(0)

        init(client: String) {
            self.client = client
        }

        /// The bytes this request holds.
        var held: Int { bytes.load(ordering: .relaxed) }
    }

    private struct State {
        var used = 0
        var byClient: [String: Int] = [:]
    }

    private let state = Mutex(State())
    /// The cap across all clients, in bytes.
    let limit: Int
    /// The cap for one client (one remote address), in bytes.
    let perClientLimit: Int

    /// - Parameters:
    ///   - limit: bytes held at once across all requests.
    ///   - perClientLimit: bytes held at once by the requests of one remote address (at most `limit`).
    init(limit: Int, perClientLimit: Int) {
        self.limit = limit
        self.perClientLimit = min(perClientLimit, limit)
    }

    /// Adds `bytes` to what `reservation` holds; false (and nothing added) when that would pass the global or the
    /// client's cap.
    func reserve(_ bytes: Int, for reservation: Reservation) -> Bool {
        let granted = state.withLock { state -> Bool in
            let client = state.byClient[reservation.client, default: 0]
            guard state.used + bytes <= limit, client + bytes <= perClientLimit else { return false }
            state.used += bytes
            state.byClient[reservation.client] = client + bytes
            return true
        }
        if granted { reservation.bytes.add(bytes, ordering: .relaxed) }
        return granted
    }

    /// Releases everything `reservation` holds.
    func release(_ reservation: Reservation) {
        let bytes = reservation.bytes.exchange(0, ordering: .relaxed)
        if bytes == 0 { return }
        state.withLock { state in
            state.used -= bytes
            let left = state.byClient[reservation.client, default: 0] - bytes
            state.byClient[reservation.client] = left > 0 ? left : nil
        }
    }

    /// Bytes held now, in total and by `client`. For tests.
    func held(client: String? = nil) -> Int {
        state.withLock { state in client.map { state.byClient[$0, default: 0] } ?? state.used }
    }
}
