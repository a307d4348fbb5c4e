import RelayCore
import RelayLog
import Testing

/// Where an event record stands among its object's deliveries (docs/delivery.md, "Ordering").
@Suite struct DeliveryOrderingTests {
    static func record(
        source: String = "minio:s3",
        bucket: String = "photos",
        key: String = "cat.jpg",
        sequencer: String? = nil,
        eventTime: String? = nil
    ) -> EventRecord {
        EventRecord(
            eventName: "s3:ObjectCreated:Put",
            eventSource: source,
            bucket: bucket,
            key: key,
            eventTime: eventTime,
            sequencer: sequencer
        )
    }

    static func position(_ record: EventRecord, arrival: Int64 = 1_000) -> String {
        DeliveryOrdering.of(record, arrival: Timestamp(millisecondsSince1970: arrival)).position
    }

    /// Pairs of sequencers, the first one earlier: hex compared as numbers, whatever the lengths and the case.
    static let sequencerPairs: [(String, String)] = [
        ("188A0D8A74975E28", "188A0D8A74AE4188"),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
        ("FF", "100"),
        ("0000A", "FF"),
        ("9", "A"),
        ("00FF", "100"),
        ("abc", "ABD"),
        ("17A9AB4FA93B35D8", "188A0A4443FD42A8"),
        ("0", "1"),
    ]

    @Test(arguments: sequencerPairs)
    func sequencersCompareAsHexNumbers(_ earlier: String, _ later: String) {
        #expect(Self.position(Self.record(sequencer: earlier)) < Self.position(Self.record(sequencer: later)))
    }

    @Test func leadingZerosAndCaseDoNotChangeThePosition() {
        #expect(
            Self.position(Self.record(sequencer: "00188a0d8a74975e28"))
                == Self.position(Self.record(sequencer: "188A0D8A74975E28"))
        )
        #expect(Self.position(Self.record(sequencer: "FF")) == "s002FF")
    }

    @Test func rgwIsOrderedByEventTimeNotByItsSequencer() {
        let earlier = Self.record(source: "ceph:s3", sequencer: "FFFF", eventTime: "2026-11-25T05:40:58.841270Z")
        let later = Self.record(source: "ceph:s3", sequencer: "0001", eventTime: "2026-11-25T05:40:58.841271Z")
        #expect(Self.position(earlier) < Self.position(later))
        #expect(Self.position(earlier) == "t1795585258841270000")
    }

    /// Pairs of event times, the first one earlier: fractions of any length, offsets converted.
    static let timePairs: [(String, String)] = [
        ("2026-01-12T17:58:12.011Z", "2026-01-12T17:58:12.0111Z"),
        ("2026-01-12T17:58:12Z", "2026-01-12T17:58:12.000001Z"),
        ("2026-01-12T17:58:12.9Z", "2026-01-12T17:58:13Z"),
        ("2026-01-12T19:58:12+02:00", "2026-01-12T17:58:12.5Z"),
        ("2026-01-12T17:58:12Z", "2026-01-12T12:58:13-05:00"),
        ("2025-12-31T23:59:59.999Z", "2026-01-01T00:00:00Z"),
        ("2024-02-28T12:00:00Z", "2024-02-29T12:00:00Z"),
    ]

    @Test(arguments: timePairs)
    func eventTimesCompareAsInstants(_ earlier: String, _ later: String) {
        let first = Self.position(Self.record(source: "ceph:s3", eventTime: earlier))
        let second = Self.position(Self.record(source: "ceph:s3", eventTime: later))
        #expect(first.hasPrefix("t") && second.hasPrefix("t"))
        #expect(first < second)
    }

    @Test func withoutAUsableSequencerTheEventTimeThenTheArrivalOrders() {
        let timed = Self.record(sequencer: "not-hex", eventTime: "1970-01-01T00:00:01Z")
        #expect(Self.position(timed) == "t0000000001000000000")
        let bare = Self.record(sequencer: "")
        #expect(Self.position(bare, arrival: 2_000) == "t0000000002000000000")
        #expect(Self.position(bare, arrival: 2_000) < Self.position(bare, arrival: 2_001))
        let badTime = Self.record(eventTime: "yesterday")
        #expect(Self.position(badTime, arrival: 3_000) == "t0000000003000000000")
    }

    @Test func theKeyNamesTheBucketAndTheObject() {
        let key = DeliveryOrdering.of(Self.record(), arrival: .distantPast).key
        #expect(key.count == 32)
        #expect(key.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(DeliveryOrdering.of(Self.record(sequencer: "1"), arrival: .distantPast).key == key)
        #expect(DeliveryOrdering.objectKey(bucket: "photos", key: "cat.jpg") == key)
        #expect(DeliveryOrdering.objectKey(bucket: "other", key: "cat.jpg") != key)
        #expect(
            DeliveryOrdering.objectKey(bucket: "a", key: "bc") != DeliveryOrdering.objectKey(bucket: "ab", key: "c")
        )
    }
}
