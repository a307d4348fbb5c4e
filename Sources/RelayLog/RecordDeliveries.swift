/// The deliveries one event record produced, with the record's resend identity: the unit that
/// ``DeliveryLog/append(_:at:)`` appends or recognises as a resend.
public struct RecordDeliveries: Sendable, Equatable {
    /// The record's resend identity; `nil` when the record carries none (never taken for a resend).
    public var identity: ResendIdentity?
    /// The record's deliveries, one per matched target; at least one.
    public var deliveries: [NewDelivery]

    public init(identity: ResendIdentity?, deliveries: [NewDelivery]) {
        self.identity = identity
        self.deliveries = deliveries
    }
}

/// What ``DeliveryLog/append(_:at:)`` did with one ``RecordDeliveries``.
public enum AppendOutcome: Sendable, Equatable {
    /// The deliveries were appended, in the order given, with these log sequences.
    case appended(sequences: [Int64])
    /// The identity was seen within the resend window: nothing was appended.
    case duplicate
}

/// The totals of a delivery log, for gauges and caps.
public struct DeliveryLogTotals: Sendable, Equatable {
    /// Pending deliveries (appended, not yet delivered or dead-lettered).
    public var pendingCount: Int
    /// The payload bytes of the pending deliveries.
    public var pendingBytes: Int64
    /// Resend identities held for the resend window.
    public var resendIdentities: Int

    public init(pendingCount: Int, pendingBytes: Int64, resendIdentities: Int) {
        self.pendingCount = pendingCount
        self.pendingBytes = pendingBytes
        self.resendIdentities = resendIdentities
    }
}

/// How long and how many resend identities a delivery log keeps (docs/delivery.md, "Resends").
public struct ResendWindow: Sendable, Equatable {
    /// An identity seen longer ago than this is forgotten. Default 10 minutes.
    public var duration: Duration
    /// At most this many identities are kept; the oldest go first. Default 100,000.
    public var capacity: Int

    public init(duration: Duration = .seconds(600), capacity: Int = 100_000) {
        self.duration = duration
        self.capacity = capacity
    }
}
