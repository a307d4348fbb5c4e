/// How a target's deliveries are ordered: the `ordering` field of a target (docs/delivery.md, "Ordering").
public enum TargetOrdering: String, Sendable, Hashable, CaseIterable {
    /// No order: deliveries run in parallel, up to `maxInFlight` (the default, `ordering` absent).
    case none
    /// `"key"`: deliveries of one (bucket, key) go one at a time, in `sequencer` order (Ceph RGW: `eventTime`);
    /// deliveries of other keys stay parallel.
    case key
}
