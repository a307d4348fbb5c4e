import Testing

@testable import RelayCore

@Suite struct ByteSearchTests {
    static let needle = Array(#""TopicArn""#.utf8)

    /// Agrees with a naive scan on every placement of the marker and of near misses, at every anchor.
    @Test func agreesWithANaiveScan() {
        let pieces = [#""TopicArn""#, #"TopicArn""#, #""TopicAr"#, #""Topic"#, "T", "\"", "x", #""TTopicArn""#, ""]
        func naive(_ haystack: [UInt8]) -> Bool {
            guard haystack.count >= Self.needle.count else { return false }
            return (0...(haystack.count - Self.needle.count)).contains { start in
                Array(haystack[start..<start + Self.needle.count]) == Self.needle
            }
        }
        var checked = 0
        for first in pieces {
            for second in pieces {
                for third in pieces {
                    let haystack = Array((first + second + third).utf8)
                    for anchor in Self.needle.indices {
                        #expect(
                            ByteSearch.contains(haystack, Self.needle, anchor: anchor) == naive(haystack),
                            "\(first + second + third) anchor \(anchor)"
                        )
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 9 * 9 * 9 * 10)
    }

    @Test func findsTheMarkerAtTheEdgesAndNotInAShorterBody() {
        #expect(ByteSearch.contains(Array(#""TopicArn":1}"#.utf8), Self.needle, anchor: 1))
        #expect(ByteSearch.contains(Array(#"{"a":"TopicArn","TopicArn""#.utf8), Self.needle, anchor: 1))
        #expect(!ByteSearch.contains(Array(#""TopicArn"#.utf8), Self.needle, anchor: 1))
        #expect(!ByteSearch.contains([], Self.needle, anchor: 1))
        #expect(!ByteSearch.contains(Array(#""topicArn""#.utf8), Self.needle, anchor: 1))
    }
}
