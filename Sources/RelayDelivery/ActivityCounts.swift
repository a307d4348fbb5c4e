import Synchronization

/// What the relay did since the last summary: records received and what became of them, and delivery outcomes.
///
/// Per-event log lines are at `debug` (docs/operations.md, "Logs"); at `info` a periodic summary reads and resets
/// these counts. Each count is one relaxed atomic add, so counting costs nothing measurable on the hot path.
public final class ActivityCounts: Sendable {
    /// One summary's counts.
    public struct Snapshot: Sendable, Equatable {
        /// Event records read from request bodies or stream messages (routable ones).
        public var records = 0
        /// Records appended to the delivery log with at least one delivery.
        public var spooled = 0
        /// Records that matched no rule.
        public var unmatched = 0
        /// Records recognised as resends of records already in the delivery log.
        public var duplicates = 0
        /// Records or bodies dead-lettered as undecodable.
        public var undecodable = 0
        /// Deliveries the targets answered 2xx.
        public var delivered = 0
        /// Failed attempts scheduled again.
        public var retried = 0
        /// Deliveries written to the dead letters.
        public var deadLettered = 0

        public init() {}

        /// True when nothing happened.
        public var isEmpty: Bool { self == Snapshot() }
    }

    private let records = Atomic(0)
    private let spooled = Atomic(0)
    private let unmatched = Atomic(0)
    private let duplicates = Atomic(0)
    private let undecodable = Atomic(0)
    private let delivered = Atomic(0)
    private let retried = Atomic(0)
    private let deadLettered = Atomic(0)

    public init() {}

    /// The counts one event or outcome adds to.
    public enum Kind: Sendable {
        case records, spooled, unmatched, duplicates, undecodable, delivered, retried, deadLettered
    }

    /// Adds `amount` to the count of `kind`.
    @inline(__always)
    public func add(_ kind: Kind, _ amount: Int = 1) {
        switch kind {
        case .records: records.wrappingAdd(amount, ordering: .relaxed)
        case .spooled: spooled.wrappingAdd(amount, ordering: .relaxed)
        case .unmatched: unmatched.wrappingAdd(amount, ordering: .relaxed)
        case .duplicates: duplicates.wrappingAdd(amount, ordering: .relaxed)
        case .undecodable: undecodable.wrappingAdd(amount, ordering: .relaxed)
        case .delivered: delivered.wrappingAdd(amount, ordering: .relaxed)
        case .retried: retried.wrappingAdd(amount, ordering: .relaxed)
        case .deadLettered: deadLettered.wrappingAdd(amount, ordering: .relaxed)
        }
    }

    /// The counts since the last call, which starts the next period at zero.
    public func take() -> Snapshot {
        var snapshot = Snapshot()
        snapshot.records = records.exchange(0, ordering: .relaxed)
        snapshot.spooled = spooled.exchange(0, ordering: .relaxed)
        snapshot.unmatched = unmatched.exchange(0, ordering: .relaxed)
        snapshot.duplicates = duplicates.exchange(0, ordering: .relaxed)
        snapshot.undecodable = undecodable.exchange(0, ordering: .relaxed)
        snapshot.delivered = delivered.exchange(0, ordering: .relaxed)
        snapshot.retried = retried.exchange(0, ordering: .relaxed)
        snapshot.deadLettered = deadLettered.exchange(0, ordering: .relaxed)
        return snapshot
    }
}
