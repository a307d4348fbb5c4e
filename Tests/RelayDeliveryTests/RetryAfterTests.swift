import RelayCore
import RelayDelivery
import RelayLog
import Testing

@Suite struct RetryAfterTests {
    /// 1994-11-06T08:49:37Z, the example date of RFC 9110.
    static let exampleDate: Double = 784_111_777

    /// The instant `seconds` after 1970-01-01 UTC.
    static func at(_ seconds: Double) -> Timestamp {
        Timestamp(millisecondsSince1970: Int64((seconds * 1000).rounded()))
    }

    @Test(arguments: [("120", 120), ("0", 0), (" 5 ", 5), ("007", 7)])
    func readsDeltaSeconds(value: String, seconds: Int64) {
        #expect(RetryAfter.parse(value, now: Timestamp(millisecondsSince1970: 0)) == .seconds(seconds))
    }

    @Test func clampsAnOverlongDelta() {
        #expect(
            RetryAfter.parse("123456789012345678901234567890", now: Timestamp(millisecondsSince1970: 0))
                == .seconds(Int64.max)
        )
    }

    @Test(
        arguments: [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ]
    )
    func readsAllThreeHTTPDateForms(value: String) {
        #expect(RetryAfter.parse(value, now: Self.at(Self.exampleDate - 60)) == .seconds(60))
    }

    @Test func keepsFractionsOfNow() {
        #expect(
            RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: Self.at(Self.exampleDate - 1.5)) == .seconds(1.5)
        )
    }

    @Test func aDateInThePastMeansNoWait() {
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: Self.at(Self.exampleDate + 3600)) == .zero)
    }

    @Test func countsLeapDays() {
        #expect(RetryAfter.parse("Thu, 29 Feb 2024 00:00:10 GMT", now: Self.at(1_709_164_800)) == .seconds(10))
    }

    @Test(
        arguments: [
            "", "   ", "-1", "1.5", "soon", "12s",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sunday, 06-Nov 08:49:37 GMT",
        ]
    )
    func rejectsUnreadableValues(value: String) {
        #expect(RetryAfter.parse(value, now: Timestamp(millisecondsSince1970: 0)) == nil)
    }
}
