import RelayCore
import RelayDelivery
import Testing

/// The status page's per-target ring of attempt buckets.
struct AttemptHistoryTests {
    static func t(_ milliseconds: Int64) -> Timestamp { Timestamp(millisecondsSince1970: milliseconds) }

    @Test func countsAttemptsAndFailuresPerBucketOldestFirst() {
        let history = AttemptHistory(bucketMilliseconds: 10_000, bucketCount: 6)
        history.record(target: "a", at: Self.t(1_000_001), error: nil)
        history.record(target: "a", at: Self.t(1_000_002), error: "HTTP 503")
        history.record(target: "a", at: Self.t(1_030_000), error: nil)
        let series = history.series(target: "a", now: Self.t(1_035_000))
        #expect(series.buckets.map(\.start) == [980_000, 990_000, 1_000_000, 1_010_000, 1_020_000, 1_030_000])
        #expect(series.buckets.map(\.attempts) == [0, 0, 2, 0, 0, 1])
        #expect(series.buckets.map(\.failures) == [0, 0, 1, 0, 0, 0])
        #expect(series.lastError?.time == Self.t(1_000_002))
        #expect(series.lastError?.error == "HTTP 503")
        #expect(history.series(target: "b", now: Self.t(1_035_000)).buckets.allSatisfy { $0.attempts == 0 })
    }

    @Test func forgetsBucketsOlderThanTheWindow() {
        let history = AttemptHistory(bucketMilliseconds: 10_000, bucketCount: 6)
        history.record(target: "a", at: Self.t(0), error: "HTTP 500")
        // 60 s later the same slot of the ring is reused: the old count is gone, the last error stays.
        history.record(target: "a", at: Self.t(60_000), error: nil)
        let series = history.series(target: "a", now: Self.t(60_000))
        #expect(series.buckets.reduce(0) { $0 + $1.attempts } == 1)
        #expect(series.buckets.reduce(0) { $0 + $1.failures } == 0)
        #expect(series.lastError?.error == "HTTP 500")
        #expect(history.series(target: "a", now: Self.t(200_000)).buckets.allSatisfy { $0.attempts == 0 })
    }
}
