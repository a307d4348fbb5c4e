import RelayCore
import Synchronization

/// Attempts and failures of the last minutes per target, in fixed time buckets, and each target's last error: what
/// the status page charts (docs/operations.md, "Status page").
///
/// Bounded: at most ``bucketCount`` buckets per target and ``maxTargets`` targets (target names come from the rules);
/// a bucket older than the window is reused for the current time.
public final class AttemptHistory: Sendable {
    /// One bucket: the attempts that ended in it and how many of them failed.
    public struct Bucket: Sendable, Equatable {
        /// The bucket's start, in milliseconds since 1970.
        public var start: Int64
        /// Attempts that ended in the bucket.
        public var attempts: Int
        /// Those of them that did not succeed (any non-2xx answer or no answer).
        public var failures: Int
    }

    /// The last failed attempt of a target.
    public struct LastError: Sendable, Equatable {
        /// When the attempt ended.
        public var time: Timestamp
        /// `HTTP 503`, or the transport error (curl's message).
        public var error: String
    }

    /// A target's history: the buckets of the window, oldest first (empty ones included), and its last error.
    public struct Series: Sendable, Equatable {
        public var buckets: [Bucket]
        public var lastError: LastError?
    }

    /// The width of one bucket in milliseconds: 10 s.
    public let bucketMilliseconds: Int64
    /// Buckets kept per target: 60 (10 minutes).
    public let bucketCount: Int
    /// Targets tracked at most.
    public let maxTargets = 1024

    private struct Ring {
        var buckets: [Bucket]
        var lastError: LastError?
    }

    private let rings = Mutex<[String: Ring]>([:])

    /// - Parameters:
    ///   - bucketMilliseconds: the width of one bucket (default 10 s).
    ///   - bucketCount: the buckets kept per target (default 60).
    public init(bucketMilliseconds: Int64 = 10_000, bucketCount: Int = 60) {
        self.bucketMilliseconds = max(bucketMilliseconds, 1)
        self.bucketCount = max(bucketCount, 1)
    }

    /// Counts one attempt of `target` that ended at `time`; `error` is nil for a success.
    public func record(target: String, at time: Timestamp, error: String?) {
        let start = bucketStart(time)
        let slot = slot(start)
        let count = bucketCount
        rings.withLock { rings in
            if rings[target] == nil {
                guard rings.count < maxTargets else { return }
                rings[target] = Ring(
                    buckets: Array(repeating: Bucket(start: -1, attempts: 0, failures: 0), count: count)
                )
            }
            guard var ring = rings[target] else { return }
            if ring.buckets[slot].start != start {
                ring.buckets[slot] = Bucket(start: start, attempts: 0, failures: 0)
            }
            ring.buckets[slot].attempts += 1
            if let error {
                ring.buckets[slot].failures += 1
                if ring.lastError.map({ $0.time <= time }) ?? true {
                    ring.lastError = LastError(time: time, error: error)
                }
            }
            rings[target] = ring
        }
    }

    /// The window ending at `now` for `target`: ``bucketCount`` buckets, oldest first, and the last error.
    public func series(target: String, now: Timestamp) -> Series {
        let ring = rings.withLock { $0[target] }
        let newest = bucketStart(now)
        var buckets: [Bucket] = []
        buckets.reserveCapacity(bucketCount)
        for index in 0..<bucketCount {
            let start = newest - Int64(bucketCount - 1 - index) * bucketMilliseconds
            if let ring, ring.buckets[slot(start)].start == start {
                buckets.append(ring.buckets[slot(start)])
            } else {
                buckets.append(Bucket(start: start, attempts: 0, failures: 0))
            }
        }
        return Series(buckets: buckets, lastError: ring?.lastError)
    }

    private func bucketStart(_ time: Timestamp) -> Int64 {
        let ms = time.millisecondsSince1970
        return ms - ((ms % bucketMilliseconds) + bucketMilliseconds) % bucketMilliseconds
    }

    private func slot(_ start: Int64) -> Int {
        let index = (start / bucketMilliseconds) % Int64(bucketCount)
        return Int(index < 0 ? index + Int64(bucketCount) : index)
    }
}
