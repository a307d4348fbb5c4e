import RelayLog

/// Limits of the spool.
public struct SpoolConfiguration: Sendable {
    /// The most pending deliveries the spool holds; an enqueue that would exceed it throws ``SpoolError/Code/full``.
    /// `nil` means no count cap. Flag `--spool-max` (count form, e.g. `100000`), environment `RELAY_SPOOL_MAX`.
    /// Default: `nil`.
    public var maxPendingCount: Int?
    /// The most payload bytes the pending deliveries hold (the sum of their payload sizes; row overhead is not
    /// counted); an enqueue that would exceed it throws ``SpoolError/Code/full``. `nil` means no byte cap.
    /// Flag `--spool-max` (size form, e.g. `2GiB`), environment `RELAY_SPOOL_MAX`. Default: `nil`.
    public var maxPendingBytes: Int64?
    /// The most operations (enqueue, complete, reschedule calls) one group-commit transaction holds; the rest wait
    /// for the next transaction. Values below 1 count as 1. Default: 512.
    public var maxBatch: Int

    /// How long and how many resend identities are kept. Default: 10 minutes, 100,000.
    public var resendWindow: ResendWindow

    /// Creates a configuration; every limit defaults to the documented value.
    public init(
        maxPendingCount: Int? = nil,
        maxPendingBytes: Int64? = nil,
        maxBatch: Int = 512,
        resendWindow: ResendWindow = .init()
    ) {
        self.maxPendingCount = maxPendingCount
        self.maxPendingBytes = maxPendingBytes
        self.maxBatch = maxBatch
        self.resendWindow = resendWindow
    }
}
