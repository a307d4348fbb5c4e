/// Why a delivery, a record or a body ended in the dead letters. Bounded: it is the dead-letter line's `reason` and a
/// metric label (docs/delivery.md, "Dead letters").
public enum DeadLetterReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// The target answered a status that retrying cannot change (4xx other than 408, 425, 429; 1xx; 3xx), or the
    /// request cannot be sent as configured.
    case rejected
    /// Every counted attempt failed with a retryable outcome while the target was believed healthy.
    case exhausted
    /// Valid JSON that is not a routable S3 event record (the line names the field at fault).
    case undecodable
    /// The delivery's target is no longer in the rules in force.
    case unknownTarget = "unknown_target"
    /// The rest of one request's undecodable records, beyond the per-request cap, counted in one line.
    case undecodableOverflow = "undecodable_overflow"
    /// An SNS notification whose signature does not verify (or cannot be checked: a signed field missing, a
    /// certificate URL off SNS's hosts); never routed (docs/security.md, "SNS signatures").
    case badSignature = "bad_signature"
    /// An SNS notification from a topic that `--sns-topic-arn` does not allow; never routed, its signature unchecked.
    case snsTopicNotAllowed = "sns_topic_not_allowed"
}
