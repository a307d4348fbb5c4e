import Foundation
import Testing

@testable import RelayCore

/// One pattern against the shared record of `RulePatternTests.record`: whether it matches.
struct RulePatternCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var matches: Bool
    var why: String

    init(_ pattern: String, _ matches: Bool, _ why: String) {
        self.pattern = pattern
        self.matches = matches
        self.why = why
    }

    var testDescription: String { "\(matches ? "matches" : "misses"): \(why)" }
}

@Suite struct RulePatternTests {
    typealias R = RuleTesting

    /// A MinIO-shaped record (the key form-escaped, so decoded as `uploads/2026/Cat Photo.JPG`), with a `test` member
    /// of values of every JSON type for the operators. The decoder ignores members it does not know; patterns see
    /// them all.
    static let recordJSON = #"""
        {"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-01-12T17:58:12.011Z",
         "eventName":"s3:ObjectCreated:Put",
         "userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},
         "requestParameters":{"principalId":"minioadmin","region":"","sourceIPAddress":"10.1.2.3"},
         "responseElements":{"x-amz-request-id":"188A"},
         "s3":{"bucket":{"name":"photos","arn":"arn:aws:s3:::photos"},
               "object":{"key":"uploads%2F2026%2FCat+Photo.JPG","size":48213,"contentType":"image/jpeg",
                         "userMetadata":{"X-Amz-Meta-Kind":"avatar"}}},
         "source":{"host":"10.1.2.3","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7.0.90"},
         "test":{"five":5,"fiveDecimal":5.0,"fiveExp":5e0,"negZero":-0,"big":1e300,
                 "inexact":12345678901234567890,"fraction":0.1,"flag":true,"off":false,"nothing":null,"empty":"",
                 "text":"5","star":"a*b","tags":["red","green"],"emptyList":[],"nested":[["deep"]],
                 "items":[{"name":"a","n":1},{"name":"b","n":2}],"ipv6":"2001:db8::1"}}
        """#

    static func record(_ json: String = recordJSON) throws -> EventRecord {
        try DecoderFixture.record(Array(#"{"Records":["#.utf8) + Array(json.utf8) + Array("]}".utf8))
    }

    static func singleRule(pattern: String, match: String? = nil) -> String {
        let matchPart = match.map { #""match": \#($0), "# } ?? ""
        return """
            {"targets": {"t": {"url": "http://127.0.0.1:9/"}},
             "rules": [{"name": "r", \(matchPart)"pattern": \(pattern), "to": ["t"]}]}
            """
    }

    static let cases: [RulePatternCase] = [
        // Exact values.
        RulePatternCase(#"{"eventName": ["s3:ObjectCreated:Put"]}"#, true, "exact event name"),
        RulePatternCase(#"{"eventName": ["s3:ObjectRemoved:Delete"]}"#, false, "another event name"),
        RulePatternCase(#"{"s3": {"bucket": {"name": ["photos"]}}}"#, true, "nested object as a field path"),
        RulePatternCase(#"{"s3": {"object": {"key": ["uploads/2026/Cat Photo.JPG"]}}}"#, true, "the decoded key"),
        RulePatternCase(#"{"s3": {"object": {"key": ["uploads%2F2026%2FCat+Photo.JPG"]}}}"#, false, "the raw key"),
        RulePatternCase(#"{"userIdentity": {"principalId": ["x", "AWS:AIDAEXAMPLE"]}}"#, true, "values are ORed"),
        RulePatternCase(#"{"test": {"flag": [true]}}"#, true, "true"),
        RulePatternCase(#"{"test": {"flag": [false]}}"#, false, "false is not true"),
        RulePatternCase(#"{"test": {"nothing": [null]}}"#, true, "null matches null"),
        RulePatternCase(#"{"test": {"missing": [null]}}"#, false, "null does not match a missing field"),
        RulePatternCase(#"{"test": {"empty": [""]}}"#, true, "the empty string"),
        RulePatternCase(#"{"test": {"text": [5]}}"#, false, "a number does not match the string \"5\""),
        RulePatternCase(#"{"test": {"five": ["5"]}}"#, false, "a string does not match the number 5"),
        RulePatternCase(
            #"{"eventName": ["s3:ObjectCreated:Put"], "s3": {"bucket": {"name": ["docs"]}}}"#,
            false,
            "fields are ANDed"
        ),
        // Numbers in every JSON spelling.
        RulePatternCase(#"{"test": {"five": [5]}}"#, true, "5 is 5"),
        RulePatternCase(#"{"test": {"fiveDecimal": [5]}}"#, true, "5 matches 5.0"),
        RulePatternCase(#"{"test": {"fiveExp": [5]}}"#, true, "5 matches 5e0"),
        RulePatternCase(#"{"test": {"five": [5.0]}}"#, true, "5.0 matches 5"),
        RulePatternCase(#"{"test": {"five": [50E-1]}}"#, true, "50E-1 matches 5"),
        RulePatternCase(#"{"test": {"negZero": [0]}}"#, true, "-0 is 0"),
        RulePatternCase(#"{"test": {"big": [1e300]}}"#, true, "a big value"),
        RulePatternCase(#"{"test": {"big": [1.0e300]}}"#, true, "a big value spelled otherwise"),
        RulePatternCase(#"{"test": {"inexact": [12345678901234567890]}}"#, true, "too many digits: the same text"),
        RulePatternCase(
            #"{"test": {"inexact": [12345678901234567891]}}"#,
            false,
            "too many digits: another text, though the same double"
        ),
        RulePatternCase(#"{"test": {"fraction": [0.1]}}"#, true, "0.1"),
        // numeric
        RulePatternCase(#"{"s3": {"object": {"size": [{"numeric": [">", 0, "<=", 48213]}]}}}"#, true, "a range"),
        RulePatternCase(#"{"s3": {"object": {"size": [{"numeric": [">", 48213]}]}}}"#, false, "> is exclusive"),
        RulePatternCase(#"{"s3": {"object": {"size": [{"numeric": [">=", 48213]}]}}}"#, true, ">= is inclusive"),
        RulePatternCase(#"{"s3": {"object": {"size": [{"numeric": ["<", 48213]}]}}}"#, false, "< is exclusive"),
        RulePatternCase(#"{"s3": {"object": {"size": [{"numeric": ["=", 4.8213e4]}]}}}"#, true, "= in exponent form"),
        RulePatternCase(#"{"test": {"fiveExp": [{"numeric": ["<=", 5]}]}}"#, true, "5e0 <= 5"),
        RulePatternCase(#"{"test": {"negZero": [{"numeric": [">=", 0, "<", 1]}]}}"#, true, "-0 >= 0"),
        RulePatternCase(#"{"test": {"big": [{"numeric": [">", 1e299]}]}}"#, true, "a big value compared"),
        RulePatternCase(#"{"test": {"inexact": [{"numeric": [">", 0]}]}}"#, false, "an inexact number compares never"),
        RulePatternCase(#"{"test": {"text": [{"numeric": ["=", 5]}]}}"#, false, "numeric needs a number"),
        // prefix, suffix, equals-ignore-case
        RulePatternCase(#"{"s3": {"object": {"key": [{"prefix": "uploads/"}]}}}"#, true, "prefix"),
        RulePatternCase(#"{"s3": {"object": {"key": [{"prefix": "Uploads/"}]}}}"#, false, "prefix is case-sensitive"),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"prefix": {"equals-ignore-case": "UPLOADS/2026"}}]}}}"#,
            true,
            "prefix ignoring case"
        ),
        RulePatternCase(#"{"s3": {"object": {"key": [{"suffix": ".jpg"}]}}}"#, false, "suffix is case-sensitive"),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"suffix": {"equals-ignore-case": ".jpg"}}]}}}"#,
            true,
            "suffix ignoring case"
        ),
        RulePatternCase(#"{"eventName": [{"prefix": "s3:ObjectCreated:"}]}"#, true, "an event family by prefix"),
        RulePatternCase(#"{"test": {"five": [{"prefix": "5"}]}}"#, false, "prefix needs a string"),
        RulePatternCase(
            #"{"source": {"userAgent": [{"equals-ignore-case": "minio (LINUX; amd64) MINIO-GO/v7.0.90"}]}}"#,
            true,
            "equals-ignore-case"
        ),
        RulePatternCase(#"{"s3": {"bucket": {"name": [{"equals-ignore-case": "PHOTO"}]}}}"#, false, "not a prefix"),
        // wildcard
        RulePatternCase(#"{"s3": {"object": {"key": [{"wildcard": "uploads/*/*.JPG"}]}}}"#, true, "two stars"),
        RulePatternCase(#"{"s3": {"object": {"key": [{"wildcard": "uploads/*.png"}]}}}"#, false, "wrong end"),
        RulePatternCase(#"{"s3": {"object": {"key": [{"wildcard": "*"}]}}}"#, true, "a lone star"),
        RulePatternCase(#"{"source": {"userAgent": [{"wildcard": "MinIO (*) minio-go/*"}]}}"#, true, "the user agent"),
        RulePatternCase(#"{"test": {"star": [{"wildcard": "a\\*b"}]}}"#, true, "an escaped star is literal"),
        RulePatternCase(#"{"test": {"empty": [{"wildcard": "a\\*b"}]}}"#, false, "an escaped star needs a star"),
        RulePatternCase(#"{"test": {"text": [{"wildcard": "*5*"}]}}"#, true, "stars match empty runs"),
        // anything-but
        RulePatternCase(#"{"eventName": [{"anything-but": "s3:ObjectRemoved:Delete"}]}"#, true, "anything-but"),
        RulePatternCase(
            #"{"eventName": [{"anything-but": ["x", "s3:ObjectCreated:Put"]}]}"#,
            false,
            "anything-but a list"
        ),
        RulePatternCase(#"{"s3": {"object": {"size": [{"anything-but": 48213}]}}}"#, false, "anything-but a number"),
        RulePatternCase(#"{"s3": {"object": {"size": [{"anything-but": [1, 2]}]}}}"#, true, "anything-but numbers"),
        RulePatternCase(#"{"test": {"five": [{"anything-but": [5.0]}]}}"#, false, "anything-but numbers by value"),
        RulePatternCase(#"{"test": {"text": [{"anything-but": [5]}]}}"#, true, "a string is not a number"),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"anything-but": {"prefix": "tmp/"}}]}}}"#,
            true,
            "anything-but prefix"
        ),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"anything-but": {"prefix": ["tmp/", "uploads/"]}}]}}}"#,
            false,
            "anything-but prefixes"
        ),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"anything-but": {"suffix": ".JPG"}}]}}}"#,
            false,
            "anything-but suffix"
        ),
        RulePatternCase(
            #"{"s3": {"bucket": {"name": [{"anything-but": {"equals-ignore-case": ["PHOTOS"]}}]}}}"#,
            false,
            "anything-but ignoring case"
        ),
        RulePatternCase(
            #"{"s3": {"object": {"key": [{"anything-but": {"wildcard": "*/tmp/*"}}]}}}"#,
            true,
            "anything-but wildcard"
        ),
        RulePatternCase(#"{"test": {"missing": [{"anything-but": "x"}]}}"#, false, "anything-but needs the field"),
        RulePatternCase(#"{"test": {"tags": [{"anything-but": "red"}]}}"#, true, "one element is not red"),
        RulePatternCase(#"{"test": {"tags": [{"anything-but": ["red", "green"]}]}}"#, false, "every element excluded"),
        // exists
        RulePatternCase(#"{"userIdentity": {"principalId": [{"exists": true}]}}"#, true, "exists true"),
        RulePatternCase(#"{"test": {"missing": [{"exists": true}]}}"#, false, "exists true, missing"),
        RulePatternCase(#"{"test": {"missing": [{"exists": false}]}}"#, true, "exists false, missing"),
        RulePatternCase(#"{"userIdentity": {"principalId": [{"exists": false}]}}"#, false, "exists false, present"),
        RulePatternCase(#"{"test": {"nothing": [{"exists": true}]}}"#, true, "null is a value"),
        RulePatternCase(#"{"test": {"items": [{"exists": false}]}}"#, true, "objects are not leaves"),
        RulePatternCase(#"{"test": {"emptyList": [{"exists": false}]}}"#, true, "an empty array holds no value"),
        RulePatternCase(#"{"absent": {"deeper": [{"exists": false}]}}"#, true, "a missing parent"),
        RulePatternCase(#"{"test": {"tags": [{"exists": true}]}}"#, true, "an array of values exists"),
        RulePatternCase(#"{"test": {"missing": ["x", {"exists": false}]}}"#, true, "a value or absent"),
        // cidr and IP addresses
        RulePatternCase(#"{"requestParameters": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}}"#, true, "IPv4 /8"),
        RulePatternCase(#"{"requestParameters": {"sourceIPAddress": [{"cidr": "10.1.3.0/24"}]}}"#, false, "IPv4 /24"),
        RulePatternCase(#"{"requestParameters": {"sourceIPAddress": [{"cidr": "10.1.2.3/32"}]}}"#, true, "IPv4 /32"),
        RulePatternCase(#"{"test": {"ipv6": [{"cidr": "2001:db8::/32"}]}}"#, true, "IPv6"),
        RulePatternCase(#"{"test": {"ipv6": [{"cidr": "2001:db9::/32"}]}}"#, false, "another IPv6 block"),
        RulePatternCase(#"{"test": {"ipv6": [{"cidr": "0.0.0.0/0"}]}}"#, false, "an IPv6 address in no IPv4 block"),
        RulePatternCase(#"{"test": {"ipv6": ["2001:0db8:0:0:0:0:0:1"]}}"#, true, "an IP address spelled otherwise"),
        RulePatternCase(#"{"test": {"text": [{"cidr": "0.0.0.0/0"}]}}"#, false, "not an address"),
        // Arrays in the record.
        RulePatternCase(#"{"test": {"tags": ["green"]}}"#, true, "an array matches if an element does"),
        RulePatternCase(#"{"test": {"tags": ["blue"]}}"#, false, "no element matches"),
        RulePatternCase(#"{"test": {"nested": ["deep"]}}"#, true, "nested arrays"),
        RulePatternCase(#"{"test": {"items": {"name": ["b"]}}}"#, true, "an array of objects"),
        RulePatternCase(#"{"test": {"items": {"name": ["b"], "n": [2]}}}"#, true, "both in one element"),
        RulePatternCase(#"{"test": {"items": {"name": ["a"], "n": [2]}}}"#, false, "fields in different elements"),
        // $or
        RulePatternCase(
            #"{"$or": [{"eventName": ["s3:ObjectRemoved:Delete"]}, {"s3": {"bucket": {"name": ["photos"]}}}]}"#,
            true,
            "$or: the second alternative"
        ),
        RulePatternCase(
            #"{"$or": [{"eventName": ["s3:ObjectRemoved:Delete"]}, {"s3": {"bucket": {"name": ["docs"]}}}]}"#,
            false,
            "$or: no alternative"
        ),
        RulePatternCase(
            #"{"s3": {"object": {"$or": [{"size": [{"numeric": [">", 1e9]}]}, {"contentType": [{"prefix": "image/"}]}]}}}"#,
            true,
            "$or inside an object names its fields"
        ),
        RulePatternCase(
            #"{"$or": [{"test": {"flag": [false]}}, {"test": {"five": [5], "$or": [{"off": [true]}, {"empty": [""]}]}}]}"#,
            true,
            "$or nested in an alternative"
        ),
        RulePatternCase(
            #"{"$or": [{"test": {"flag": [true]}}, {"test": {"off": [true]}}], "test": {"$or": [{"five": [6]}, {"fraction": [0.2]}]}}"#,
            false,
            "two $or are ANDed"
        ),
        // Missing fields and wrong shapes.
        RulePatternCase(#"{"userIdentity": ["AWS:AIDAEXAMPLE"]}"#, false, "an object is not a value"),
        RulePatternCase(#"{"s3": {"object": {"size": {"value": [48213]}}}}"#, false, "a value is not an object"),
        RulePatternCase(#"{"nowhere": {"at": ["all"]}}"#, false, "a missing field"),
        RulePatternCase(
            #"{"s3": {"object": {"userMetadata": {"X-Amz-Meta-Kind": ["avatar"]}}}}"#,
            true,
            "user metadata as sent"
        ),
    ]

    @Test(arguments: cases)
    func matchesAsEventBridgeDoes(_ testCase: RulePatternCase) throws {
        let ruleSet = R.ruleSet(Self.singleRule(pattern: testCase.pattern))
        let record = try Self.record()
        #expect(ruleSet.match(record).isEmpty == !testCase.matches)
        // The explanation agrees with the matcher.
        let explanation = try #require(ruleSet.explain(record).first)
        #expect(explanation.matched == testCase.matches)
        #expect((explanation.reason == nil) == testCase.matches)
    }

    @Test func tableCoversEveryOperator() {
        #expect(Self.cases.count >= 60)
        let all = Self.cases.map(\.pattern).joined()
        for word in RuleFileReader.patternOperators + ["$or"] {
            #expect(all.contains("\"\(word)\""), "no case uses \(word)")
        }
    }

    @Test(
        arguments: [
            (nil, #"{"eventName": ["s3:ObjectCreated:Put"]}"#, true),
            (#"{"bucket": "photos"}"#, #"{"eventName": ["s3:ObjectCreated:Put"]}"#, true),
            (#"{"bucket": "docs"}"#, #"{"eventName": ["s3:ObjectCreated:Put"]}"#, false),
            (#"{"bucket": "photos"}"#, #"{"eventName": ["s3:ObjectRemoved:*"]}"#, false),
            (#"{"suffix": ".JPG"}"#, #"{"s3": {"object": {"size": [{"numeric": [">", 1000]}]}}}"#, true),
            (#"{"not": {"prefix": "uploads/"}}"#, #"{"test": {"flag": [true]}}"#, false),
        ] as [(String?, String, Bool)]
    )
    func matchAndPatternAreAnded(match: String?, pattern: String, matches: Bool) throws {
        let ruleSet = R.ruleSet(Self.singleRule(pattern: pattern, match: match))
        #expect(ruleSet.match(try Self.record()).isEmpty == !matches)
    }

    // MARK: - Explanations

    @Test(arguments: [
        (
            #"{"source": {"userAgent": ["Internal: [ILM-Expiry]"]}}"#,
            #"pattern.source.userAgent: "MinIO (linux; amd64) minio-go/v7.0.90" matches none of ["Internal: [ILM-Expiry]"]"#
        ),
        (
            #"{"eventName": [{"prefix": "s3:ObjectCreated:"}], "userIdentity": {"type": ["AssumedRole"]}}"#,
            #"pattern.userIdentity.type: missing; expected ["AssumedRole"]"#
        ),
        (
            #"{"s3": {"object": {"size": [{"numeric": [">", 0, "<", 1000]}, {"anything-but": [48213]}]}}}"#,
            #"pattern.s3.object.size: 48213 matches none of [{"numeric": [">", 0, "<", 1000]}, {"anything-but": 48213}]"#
        ),
        (
            #"{"userIdentity": [{"exists": true}]}"#,
            #"pattern.userIdentity: an object, not a value; expected [{"exists": true}]"#
        ),
        (
            #"{"$or": [{"eventName": ["s3:ObjectRemoved:Delete"]}, {"test": {"five": [{"numeric": ["=", 6]}]}}]}"#,
            #"pattern.$or: none of the 2 alternatives holds: pattern.eventName: "s3:ObjectCreated:Put" matches none of "#
                + #"["s3:ObjectRemoved:Delete"]; pattern.test.five: 5 matches none of [{"numeric": ["=", 6]}]"#
        ),
        (
            #"{"test": {"items": {"name": ["a"], "n": [2]}}}"#,
            #"no element of pattern.test.items matches; element 0: pattern.test.items.n: 1 matches none of [2]"#
        ),
    ])
    func explainNamesTheFirstFailingField(pattern: String, reason: String) throws {
        let ruleSet = R.ruleSet(Self.singleRule(pattern: pattern))
        let explanations = ruleSet.explain(try Self.record())
        #expect(explanations.map(\.reason) == [reason])
    }

    @Test func explainReportsTheMatchBeforeThePattern() throws {
        let ruleSet = R.ruleSet(
            Self.singleRule(pattern: #"{"eventName": ["s3:ObjectRemoved:Delete"]}"#, match: #"{"bucket": "docs"}"#)
        )
        #expect(ruleSet.explain(try Self.record()).map(\.reason) == [#"bucket: "photos" is none of "docs""#])
    }

    // MARK: - One rule for every source

    /// The same object, `photos/uploads/summer trip/a+b ü.JPG`, as MinIO, AWS and Ceph RGW each spell its record.
    static func sameObjectFromEverySource() throws -> [(source: String, record: EventRecord)] {
        let minio = String(decoding: try DecoderFixture.bytes("minio/put-special-key.json"), as: UTF8.self)
        let aws = String(decoding: try DecoderFixture.bytes("aws/two-records.json"), as: UTF8.self)
            .replacingOccurrences(of: "uploads/beach+day/IMG%C3%9C01.jpg", with: "uploads/summer+trip/a%2Bb+%C3%BC.JPG")
        let rgw = String(decoding: try DecoderFixture.bytes("rgw/put.json"), as: UTF8.self)
            .replacingOccurrences(of: "demo-bucket", with: "photos")
            .replacingOccurrences(of: "in/hello world ü.txt", with: "uploads/summer trip/a+b ü.JPG")
        return [
            ("minio", try DecoderFixture.record(Array(minio.utf8))),
            ("aws", try #require(try DecoderFixture.events(Array(aws.utf8)).decodedRecords.first)),
            ("rgw", try DecoderFixture.record(Array(rgw.utf8))),
        ]
    }

    @Test func minioAwsAndRgwRecordsOfOneObjectMatchOnePatternRule() throws {
        let records = try Self.sameObjectFromEverySource()
        #expect(records.map(\.record.key) == Array(repeating: "uploads/summer trip/a+b ü.JPG", count: 3))
        let ruleSet = R.ruleSet(
            Self.singleRule(
                pattern: #"""
                    {"eventName": ["s3:ObjectCreated:Put"],
                     "s3": {"bucket": {"name": ["photos"]},
                            "object": {"key": [{"prefix": "uploads/summer trip/"}], "size": [{"numeric": [">", 0]}]}},
                     "userIdentity": {"principalId": [{"exists": true}]}}
                    """#
            )
        )
        for (source, record) in records {
            #expect(ruleSet.match(record).map(\.rule) == ["r"], "\(source)")
        }
        // The key as one sender escapes it matches none of them: patterns see the decoded key.
        let raw = R.ruleSet(Self.singleRule(pattern: #"{"s3": {"object": {"key": [{"prefix": "uploads%2F"}]}}}"#))
        for (source, record) in records {
            #expect(raw.match(record).isEmpty, "\(source)")
        }
    }

    @Test func rgwMetadataListIsMatchedElementByElement() throws {
        let record = try DecoderFixture.record(try DecoderFixture.bytes("rgw/put.json"))
        let both = R.ruleSet(
            Self.singleRule(pattern: #"{"s3": {"object": {"metadata": {"key": ["x-amz-meta-demo"], "val": ["1"]}}}}"#)
        )
        #expect(both.match(record).count == 1)
        let other = R.ruleSet(
            Self.singleRule(pattern: #"{"s3": {"object": {"metadata": {"key": ["x-amz-meta-demo"], "val": ["2"]}}}}"#)
        )
        #expect(other.match(record).isEmpty)
    }

    @Test func aRecordBuiltInCodeShowsPatternsItsNormalisedFields() {
        let record = R.record("s3:ObjectRemoved:Delete", bucket: "b", key: "a b")
        let ruleSet = R.ruleSet(
            Self.singleRule(
                pattern:
                    #"{"eventName": ["s3:ObjectRemoved:Delete"], "s3": {"bucket": {"name": ["b"]}, "object": {"key": ["a b"]}}}"#
            )
        )
        #expect(ruleSet.match(record).count == 1)
    }

    // MARK: - Indexes

    @Test func patternRulesAreIndexedByEventBucketAndKeyPrefix() throws {
        var rules: [String] = []
        for index in 0..<200 {
            rules.append(
                #"{"name": "p\#(index)", "to": ["t"], "pattern": {"eventName": ["s3:ObjectCreated:Put"], "#
                    + #""s3": {"bucket": {"name": ["bucket-\#(index)"]}, "object": {"key": [{"prefix": "k\#(index)/"}]}}}}"#
            )
        }
        rules.append(#"{"name": "hit", "to": ["t"], "pattern": {"s3": {"bucket": {"name": ["photos"]}}}}"#)
        let text =
            #"{"targets": {"t": {"url": "http://127.0.0.1:9/"}}, "rules": ["# + rules.joined(separator: ",") + "]}"
        let ruleSet = R.ruleSet(text)
        let record = try Self.record()
        #expect(ruleSet.matcher.matchingRules(record) == [200])
        #expect(ruleSet.matcher.candidateCount(record) == 1)
        // Only the rule without an event condition is a candidate for a delete.
        let deleted = R.record("s3:ObjectRemoved:Delete", bucket: "bucket-7", key: "k7/x")
        #expect(ruleSet.matcher.candidateCount(deleted) == 1)
        #expect(ruleSet.matcher.matchingRules(deleted).isEmpty)
        let put = R.record("s3:ObjectCreated:Put", bucket: "bucket-7", key: "k7/x")
        #expect(ruleSet.matcher.matchingRules(put) == [7])
        #expect(ruleSet.matcher.candidateCount(put) == 1)
    }

    @Test func indexOfMatchAndPatternTogetherIsTheirIntersection() {
        let ruleSet = R.ruleSet(
            Self.singleRule(
                pattern: #"{"eventName": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"]}"#,
                match: #"{"event": "s3:ObjectRemoved:*"}"#
            )
        )
        #expect(ruleSet.matcher.candidateCount(R.record("s3:ObjectCreated:Put")) == 0)
        #expect(ruleSet.matcher.candidateCount(R.record("s3:ObjectRemoved:Delete")) == 1)
        #expect(ruleSet.match(R.record("s3:ObjectRemoved:Delete")).count == 1)
    }

    @Test func patternRulesWithoutEventBucketOrKeyAreIndexedByAnExactField() throws {
        var rules: [String] = []
        for index in 0..<300 {
            rules.append(
                #"{"name": "u\#(index)", "to": ["t"], "pattern": {"userIdentity": {"principalId": ["user-\#(index)"]}}}"#
            )
        }
        // An element of an array in the record, and an IP address (matched in any spelling, so never indexed by text).
        rules.append(#"{"name": "tag", "to": ["t"], "pattern": {"test": {"tags": ["green"]}}}"#)
        rules.append(#"{"name": "ip", "to": ["t"], "pattern": {"test": {"ipv6": ["2001:0db8::0:1"]}}}"#)
        rules.append(
            #"{"name": "principal", "to": ["t"], "pattern": {"userIdentity": {"principalId": ["AWS:AIDAEXAMPLE"]}}}"#
        )
        let text =
            #"{"targets": {"t": {"url": "http://127.0.0.1:9/"}}, "rules": ["# + rules.joined(separator: ",") + "]}"
        let ruleSet = R.ruleSet(text)
        let record = try Self.record()
        #expect(ruleSet.matcher.matchingRules(record) == [300, 301, 302])
        // "ip" (in every index list), "tag" and "principal" (each found by its value): not the 300 others.
        #expect(ruleSet.matcher.candidateCount(record) == 3)
        var other = record
        other.json = try Self.record(Self.recordJSON.replacingOccurrences(of: "AWS:AIDAEXAMPLE", with: "user-42")).json
        #expect(ruleSet.matcher.matchingRules(other) == [42, 300, 301])
        // A record whose event name no index knows still reaches the value-indexed rules.
        other.eventName = "s3:SomethingNew:Happened"
        #expect(ruleSet.matcher.matchingRules(other) == [42, 300, 301])
        #expect(ruleSet.matcher.matchingRules(R.record()) == [])
    }

    // MARK: - The example

    @Test func examplePatternRulesRouteTheExampleEvents() throws {
        let examples = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples")
        let file = try Data(contentsOf: examples.appendingPathComponent("patterns/rules.json"))
        let ruleSet = try RuleSetCompiler.compile(
            [RuleSource(path: "examples/patterns/rules.json", bytes: [UInt8](file))],
            environment: [:]
        ).get()
        func rules(for record: EventRecord) -> [String] { ruleSet.match(record).map(\.rule) }
        let expiry = try DecoderFixture.record(
            [UInt8](try Data(contentsOf: examples.appendingPathComponent("events/minio-ilm-expiry.json")))
        )
        #expect(rules(for: expiry) == ["lifecycle-expiries"])
        #expect(
            rules(for: try DecoderFixture.record(try DecoderFixture.bytes("minio/delete.json"))) == [
                "deletes-by-people"
            ]
        )
        #expect(
            rules(for: try DecoderFixture.record(try DecoderFixture.bytes("minio/put-image.json"))) == [
                "office-uploads"
            ]
        )
        #expect(
            rules(for: try DecoderFixture.record(try DecoderFixture.bytes("minio/multipart.json"))) == ["large-videos"]
        )
        #expect(rules(for: try DecoderFixture.record(try DecoderFixture.bytes("minio/get.json"))).isEmpty)
        let explanation = ruleSet.explain(expiry).first { $0.rule == "deletes-by-people" }
        #expect(
            explanation?.reason
                == #"pattern.source.userAgent: "Internal: [ILM-Expiry]" matches none of [{"anything-but": {"prefix": "Internal: ["}}]"#
        )
    }
}
