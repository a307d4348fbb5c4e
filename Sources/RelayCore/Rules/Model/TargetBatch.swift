/// How a target's deliveries are grouped into batches: a target's `batch` object (docs/delivery.md, "Batches").
///
/// With `batch`, the relay sends up to `maxRecords` records in one `{"Records":[...]}` POST (as S3 itself may), the
/// body at most `maxBytes` long, as soon as the batch is full or its oldest record has waited `maxWait`. A batch has
/// one delivery id, is signed over its body, and is retried and dead-lettered as a whole. Only format `records`
/// carries several records, so `batch` requires it.
public struct TargetBatch: Sendable, Equatable {
    /// The most records in one batch: 1...10,000. Rule file: `batch.maxRecords` (required).
    public var maxRecords: Int
    /// The longest batch body, in bytes: 1 KiB...64 MiB; default 256 KiB. A record larger than this on its own is
    /// sent alone. Rule file: `batch.maxBytes`, a number of bytes or a size string such as `"256KiB"`.
    public var maxBytes: Int
    /// The longest the oldest record of a batch that is not full waits before the batch is sent: 1 ms...1 min;
    /// default 200 ms. Rule file: `batch.maxWait`, a duration string such as `"200ms"`.
    public var maxWait: Duration

    /// `maxRecords`' upper bound.
    public static let maxRecordsLimit = 10_000
    /// `maxBytes`' bounds.
    public static let maxBytesRange: ClosedRange<Int> = 1024...(64 << 20)
    /// `maxBytes` when a rule file gives none: 256 KiB.
    public static let defaultMaxBytes = 256 << 10
    /// `maxWait`'s upper bound: 1 minute.
    public static let maxWaitLimit: Duration = .seconds(60)
    /// `maxWait` when a rule file gives none: 200 ms.
    public static let defaultMaxWait: Duration = .milliseconds(200)

    /// Creates a batch policy; `maxBytes` and `maxWait` default to the values above.
    public init(
        maxRecords: Int,
        maxBytes: Int = TargetBatch.defaultMaxBytes,
        maxWait: Duration = TargetBatch.defaultMaxWait
    ) {
        self.maxRecords = maxRecords
        self.maxBytes = maxBytes
        self.maxWait = maxWait
    }
}
