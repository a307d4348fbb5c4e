/// The outcome of decoding one element of `Records`: records are routed one by one, so one bad record among good
/// ones is dead-lettered while the others are delivered.
public enum RecordResult: Sendable, Equatable {
    case record(EventRecord)
    /// The element at `index` of `Records` (0 for a bare record) is not a routable S3 event record.
    case undecodable(index: Int, Undecodable)
}
