import Foundation
import RelayCore
import Testing

/// Reads the request bodies in `Tests/Fixtures` (found from this file's path; no bundle resources).
enum DecoderFixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// Every fixture that is valid JSON.
    static let jsonFixtures = [
        "minio/put-image.json", "minio/put-special-key.json", "minio/put-zero-size.json", "minio/delete.json",
        "minio/multipart.json", "minio/get.json", "minio/copy.json", "minio/blog-record.json", "rgw/put.json",
        "rgw/delete.json", "rgw/put-literal-percent.json", "aws/two-records.json", "aws/test-event.json",
        "bad/records-not-array.json", "bad/record-without-s3.json", "bad/size-is-string.json",
        "bad/empty-records.json", "bad/top-level-array.json",
    ]

    /// The MinIO `notify_webhook` bodies (envelope and one record).
    static let minioEnvelopes = [
        "minio/put-image.json", "minio/put-special-key.json", "minio/put-zero-size.json", "minio/delete.json",
        "minio/multipart.json", "minio/get.json", "minio/copy.json",
    ]

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Decodes `bytes` and returns its events, or records an issue.
    static func events(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> DecodedEvents {
        let decoded = EventDecoder.decode(bytes)
        guard case .events(let events) = decoded else {
            Issue.record("expected events, got \(decoded)", sourceLocation: sourceLocation)
            throw FixtureError()
        }
        return events
    }

    /// The only record of `bytes`, which must decode.
    static func record(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> EventRecord {
        let events = try events(bytes, sourceLocation: sourceLocation)
        guard events.records.count == 1, case .record(let record) = events.records[0] else {
            Issue.record("expected one decoded record, got \(events.records)", sourceLocation: sourceLocation)
            throw FixtureError()
        }
        return record
    }

    /// The only record's result for `json`.
    static func recordResult(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> RecordResult {
        let events = try events(Array(json.utf8), sourceLocation: sourceLocation)
        try #require(events.records.count == 1, sourceLocation: sourceLocation)
        return events.records[0]
    }

    struct FixtureError: Error {}
}

/// What one fixture's single (or first) record decodes to.
struct ExpectedRecord: Sendable, CustomTestStringConvertible {
    var fixture: String
    var envelope: DecodedEvents.Envelope
    var eventName: String
    var eventSource: String
    var bucket: String
    var key: String
    var rawKey: String
    var size: Int64?
    var contentType: String?
    var metadata: [String: String]

    var testDescription: String { fixture }
}

/// A record body with placeholders, for field-by-field cases.
private func minioRecord(
    eventName: String = #""s3:ObjectCreated:Put""#,
    eventSource: String = #""minio:s3""#,
    bucket: String = #"{"name":"photos"}"#,
    key: String = #""uploads%2Fa.jpg""#,
    size: String = "12",
    extraObject: String = "",
    extraRecord: String = ""
) -> String {
    #"{"Records":[{"eventSource":\#(eventSource),"eventName":\#(eventName),\#(extraRecord)"s3":{"bucket":\#(bucket),"#
        + #""object":{"key":\#(key),"size":\#(size)\#(extraObject)}}}]}"#
}

@Suite("EventDecoder")
struct EventDecoderTests {
    static let goodFixtures: [ExpectedRecord] = [
        ExpectedRecord(
            fixture: "minio/put-image.json",
            envelope: .minio,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "minio:s3",
            bucket: "photos",
            key: "uploads/2026/cat.jpg",
            rawKey: "uploads%2F2026%2Fcat.jpg",
            size: 48213,
            contentType: "image/jpeg",
            metadata: ["x-amz-meta-kind": "avatar", "content-type": "image/jpeg"]
        ),
        ExpectedRecord(
            fixture: "minio/put-special-key.json",
            envelope: .minio,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "minio:s3",
            bucket: "photos",
            key: "uploads/summer trip/a+b ü.JPG",
            rawKey: "uploads%2Fsummer+trip%2Fa%2Bb+%C3%BC.JPG",
            size: 1234,
            contentType: "image/jpeg",
            metadata: ["content-type": "image/jpeg"]
        ),
        ExpectedRecord(
            fixture: "minio/put-zero-size.json",
            envelope: .minio,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "minio:s3",
            bucket: "logs",
            key: "empty.marker",
            rawKey: "empty.marker",
            size: nil,
            contentType: "text/plain",
            metadata: ["content-type": "text/plain"]
        ),
        ExpectedRecord(
            fixture: "minio/delete.json",
            envelope: .minio,
            eventName: "s3:ObjectRemoved:Delete",
            eventSource: "minio:s3",
            bucket: "photos",
            key: "uploads/2026/cat.jpg",
            rawKey: "uploads%2F2026%2Fcat.jpg",
            size: nil,
            contentType: nil,
            metadata: [:]
        ),
        ExpectedRecord(
            fixture: "minio/multipart.json",
            envelope: .minio,
            eventName: "s3:ObjectCreated:CompleteMultipartUpload",
            eventSource: "minio:s3",
            bucket: "videos",
            key: "raw/clip-0001.mp4",
            rawKey: "raw%2Fclip-0001.mp4",
            size: 734_003_200,
            contentType: "video/mp4",
            metadata: ["content-type": "video/mp4"]
        ),
        ExpectedRecord(
            fixture: "minio/get.json",
            envelope: .minio,
            eventName: "s3:ObjectAccessed:Get",
            eventSource: "minio:s3",
            bucket: "photos",
            key: "uploads/2026/cat.jpg",
            rawKey: "uploads%2F2026%2Fcat.jpg",
            size: 48213,
            contentType: "image/jpeg",
            metadata: ["content-type": "image/jpeg"]
        ),
        ExpectedRecord(
            fixture: "minio/copy.json",
            envelope: .minio,
            eventName: "s3:ObjectCreated:Copy",
            eventSource: "minio:s3",
            bucket: "docs",
            key: "reports/q1 (final).pdf",
            rawKey: "reports%2Fq1+%28final%29.pdf",
            size: 99,
            contentType: "application/pdf",
            metadata: ["content-type": "application/pdf"]
        ),
        ExpectedRecord(
            fixture: "minio/blog-record.json",
            envelope: .bareRecord,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "minio:s3",
            bucket: "mybucket",
            key: "cmd.md",
            rawKey: "cmd.md",
            size: 5,
            contentType: "text/markdown",
            metadata: ["content-type": "text/markdown"]
        ),
        ExpectedRecord(
            fixture: "rgw/put.json",
            envelope: .records,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "ceph:s3",
            bucket: "demo-bucket",
            key: "in/hello world ü.txt",
            rawKey: "in/hello world ü.txt",
            size: 30,
            contentType: nil,
            metadata: ["x-amz-meta-demo": "1"]
        ),
        ExpectedRecord(
            fixture: "rgw/delete.json",
            envelope: .records,
            eventName: "s3:ObjectRemoved:Delete",
            eventSource: "ceph:s3",
            bucket: "demo-bucket",
            key: "in/hello world ü.txt",
            rawKey: "in/hello world ü.txt",
            size: 30,
            contentType: nil,
            metadata: [
                "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "x-amz-date": "20261125T054058Z",
                "x-amz-meta-demo": "1",
            ]
        ),
        ExpectedRecord(
            fixture: "rgw/put-literal-percent.json",
            envelope: .records,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "ceph:s3",
            bucket: "demo-bucket",
            key: "in/a+b%20c.txt",
            rawKey: "in/a+b%20c.txt",
            size: 12,
            contentType: nil,
            metadata: [:]
        ),
        ExpectedRecord(
            fixture: "aws/two-records.json",
            envelope: .records,
            eventName: "s3:ObjectCreated:Put",
            eventSource: "aws:s3",
            bucket: "photos",
            key: "uploads/beach day/IMG\u{DC}01.jpg",
            rawKey: "uploads/beach+day/IMG%C3%9C01.jpg",
            size: 1024,
            contentType: nil,
            metadata: [:]
        ),
    ]

    // MARK: Fixtures

    @Test(arguments: goodFixtures)
    func decodesFixtureRecord(expected: ExpectedRecord) throws {
        let body = try DecoderFixture.bytes(expected.fixture)
        let events = try DecoderFixture.events(body)
        #expect(events.envelope == expected.envelope)
        let first = try #require(events.records.first)
        guard case .record(let record) = first else {
            Issue.record("first record undecodable: \(first)")
            return
        }
        #expect(record.eventName == expected.eventName)
        #expect(record.eventSource == expected.eventSource)
        #expect(record.bucket == expected.bucket)
        #expect(record.key == expected.key)
        #expect(Array(record.key.utf8) == Array(expected.key.utf8))
        #expect(record.rawKey == expected.rawKey)
        #expect(record.size == expected.size)
        #expect(record.contentType == expected.contentType)
        #expect(record.metadata == expected.metadata)
    }

    @Test(arguments: goodFixtures)
    func recordRangeIsTheRecordsExactText(expected: ExpectedRecord) throws {
        let body = try DecoderFixture.bytes(expected.fixture)
        let root = try JSONParser.parse(body)
        let events = try DecoderFixture.events(body)
        let elements = root["Records"]?.arrayValue ?? [root]
        #expect(events.records.count == elements.count)
        for (result, element) in zip(events.records, elements) {
            guard case .record(let record) = result else {
                Issue.record("undecodable: \(result)")
                continue
            }
            #expect(record.recordRange == element.range)
            let slice = Array(body[record.recordRange])
            #expect(slice.first == UInt8(ascii: "{") && slice.last == UInt8(ascii: "}"))
            #expect(try JSONParser.parse(slice)["eventName"]?.stringValue != nil)
        }
    }

    @Test func minioRecordCarriesTheInformationalFields() throws {
        let record = try DecoderFixture.record(DecoderFixture.bytes("minio/put-image.json"))
        #expect(record.eventTime == "2026-01-12T17:58:12.011Z")
        #expect(record.awsRegion == "")
        #expect(record.requestID == "188A0D8A74A2F2BF")
        #expect(record.sequencer == "188A0D8A74975E28")
        #expect(record.eventID == nil)
        #expect(record.versionID == nil)
        #expect(record.isCreated)
    }

    @Test func rgwRecordCarriesEventIDAndDropsEmptyVersionID() throws {
        let record = try DecoderFixture.record(DecoderFixture.bytes("rgw/put.json"))
        #expect(record.eventID == "1795585258.766767.bcab24f51de849be1b847809ebcf1dcb")
        #expect(record.versionID == nil)
        #expect(record.requestID == "bf2c742e-cc39-47cc-b097-f833c4c05e82.4122.12293797495469957995")
        #expect(record.eventTime == "2026-11-25T05:40:58.764890Z")
        #expect(record.sequencer == "EA74066B7AF1B32D")
    }

    @Test func awsBodyYieldsBothRecordsInOrder() throws {
        let body = try DecoderFixture.bytes("aws/two-records.json")
        let events = try DecoderFixture.events(body)
        #expect(events.envelope == .records)
        let records = events.decodedRecords
        try #require(records.count == 2)
        #expect(records[0].eventName == "s3:ObjectCreated:Put")
        #expect(records[0].key == "uploads/beach day/IMGÜ01.jpg")
        #expect(records[0].awsRegion == "us-west-2")
        #expect(records[0].requestID == "C3D13FE58DE4C810")
        #expect(records[0].versionID == "096fKKXTRTtl3on89fVO.nfljtsv6qko")
        #expect(records[1].eventName == "s3:ObjectRemoved:Delete")
        #expect(records[1].key == "tmp/old.txt")
        #expect(records[1].size == nil)
        #expect(records[1].contentType == nil)
        #expect(records[1].metadata.isEmpty)
        #expect(!records[1].isCreated)
        #expect(records[0].recordRange.upperBound < records[1].recordRange.lowerBound)
        #expect(body[records[0].recordRange.upperBound] == UInt8(ascii: ","))
    }

    @Test func testEventIsRecognised() throws {
        let decoded = EventDecoder.decode(try DecoderFixture.bytes("aws/test-event.json"))
        #expect(decoded == .testEvent("photos"))
    }

    @Test func testEventWithoutBucketIsStillATestEvent() {
        #expect(EventDecoder.decode(Array(#"{"Event":"s3:TestEvent"}"#.utf8)) == .testEvent(""))
    }

    @Test(
        arguments: [
            ("bad/records-not-array.json", "Records", "expected an array, found object"),
            ("bad/top-level-array.json", "$", "expected an object, found array"),
            ("bad/empty-records.json", "Records", "expected at least one record, found an empty array"),
        ]
    )
    func refusesBadBodyAsAWhole(fixture: String, field: String, reason: String) throws {
        let decoded = EventDecoder.decode(try DecoderFixture.bytes(fixture))
        #expect(decoded == .undecodable(Undecodable(field: field, reason: reason)))
    }

    @Test(
        arguments: [
            ("bad/record-without-s3.json", "Records[0].s3", "missing; expected an object"),
            ("bad/size-is-string.json", "Records[0].s3.object.size", "expected an integer, found string"),
        ]
    )
    func refusesBadRecordWithTheFieldAtFault(fixture: String, field: String, reason: String) throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes(fixture))
        #expect(events.records == [.undecodable(index: 0, Undecodable(field: field, reason: reason))])
    }

    @Test func deepButValidJSONIsUndecodableNotRefused() {
        let depth = JSONParser.maximumDepth + 10
        let deep = #"{"Records":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        #expect(
            EventDecoder.decode(Array(deep.utf8))
                == .undecodable(Undecodable(field: "$", reason: "nesting deeper than 512 levels"))
        )
        let unclosed = #"{"Records":"# + String(repeating: "[", count: depth)
        guard case .notJSON(let error) = EventDecoder.decode(Array(unclosed.utf8)) else {
            Issue.record("an unclosed deep body must not be JSON")
            return
        }
        #expect(error.message.contains("end of input"))
    }

    @Test(arguments: ["bad/truncated.json", "bad/not-json.txt"])
    func refusesNonJSONFixture(fixture: String) throws {
        let decoded = EventDecoder.decode(try DecoderFixture.bytes(fixture))
        guard case .notJSON = decoded else {
            Issue.record("expected notJSON, got \(decoded)")
            return
        }
    }

    // MARK: Whole bodies

    @Test(
        arguments: [
            [], Array(" ".utf8), Array(" \n\t\r\n".utf8), [0xEF, 0xBB, 0xBF], [0xEF, 0xBB, 0xBF, 0x0A],
        ] as [[UInt8]]
    )
    func blankBodyIsEmpty(body: [UInt8]) {
        #expect(EventDecoder.decode(body) == .empty)
    }

    @Test(arguments: ["x", "\u{0C}", "{", "EventName=s3:ObjectCreated:Put", "{\"Records\":[]}}"])
    func nonJSONBodyIsNotJSON(body: String) {
        guard case .notJSON = EventDecoder.decode(Array(body.utf8)) else {
            Issue.record("expected notJSON")
            return
        }
    }

    @Test(
        arguments: [
            ("\"text\"", "$", "expected an object, found string"),
            ("42", "$", "expected an object, found number"),
            ("null", "$", "expected an object, found null"),
            ("{}", "Records", "missing; expected an array of event records"),
            (#"{"Records":null}"#, "Records", "expected an array, found null"),
            (#"{"Records":"x"}"#, "Records", "expected an array, found string"),
            (#"{"s3":{}}"#, "Records", "missing; expected an array of event records"),
            (#"{"Event":"s3:Other"}"#, "Records", "missing; expected an array of event records"),
        ]
    )
    func refusesUnroutableJSON(body: String, field: String, reason: String) {
        #expect(
            EventDecoder.decode(Array(body.utf8)) == .undecodable(Undecodable(field: field, reason: reason))
        )
    }

    @Test func minioEnvelopeFieldsAreInformationalTheRecordDecides() throws {
        let body =
            #"{"EventName":"s3:ObjectRemoved:Delete","Key":"other/thing","#
            + #""Records":[{"eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","#
            + #""s3":{"bucket":{"name":"photos"},"object":{"key":"a+b.jpg","size":3}}}]}"#
        let events = try DecoderFixture.events(Array(body.utf8))
        #expect(events.envelope == .minio)
        let record = try #require(events.decodedRecords.first)
        #expect(record.eventName == "s3:ObjectCreated:Put")
        #expect(record.bucket == "photos")
        #expect(record.key == "a b.jpg")
    }

    @Test func bareRecordPathsHaveNoRecordsPrefix() throws {
        let body = #"{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"1"}}}"#
        let events = try DecoderFixture.events(Array(body.utf8))
        #expect(events.envelope == .bareRecord)
        #expect(
            events.records == [
                .undecodable(
                    index: 0,
                    Undecodable(field: "s3.object.size", reason: "expected an integer, found string")
                )
            ]
        )
    }

    @Test func bareRecordRangeExcludesSurroundingWhitespace() throws {
        let text =
            "\n  {\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
            + "\"object\":{\"key\":\"k\"}}}  \n"
        let body = Array(text.utf8)
        let record = try DecoderFixture.record(body)
        #expect(record.recordRange == 3..<(body.count - 3))
        #expect(record.eventName == "s3:ObjectCreated:Put")
    }

    @Test func oneBadRecordDoesNotSpoilTheOthers() throws {
        let good = #"{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"one"}}}"#
        let bad = #"{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"two","size":-1}}}"#
        let third = #"{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"three"}}}"#
        let body = Array(#"{"Records":[\#(good),\#(bad),"oops",\#(third)]}"#.utf8)
        let events = try DecoderFixture.events(body)
        try #require(events.records.count == 4)
        #expect(
            events.records[1]
                == .undecodable(
                    index: 1,
                    Undecodable(field: "Records[1].s3.object.size", reason: "expected a non-negative integer, found -1")
                )
        )
        #expect(
            events.records[2]
                == .undecodable(index: 2, Undecodable(field: "Records[2]", reason: "expected an object, found string"))
        )
        #expect(events.decodedRecords.map(\.key) == ["one", "three"])
        #expect(events.decodedRecords.map { String(decoding: body[$0.recordRange], as: UTF8.self) } == [good, third])
    }

    @Test func prettyPrintedBodySplitsIntoExactRecordTexts() throws {
        let first = """
            {
                  "eventName" : "ObjectCreated:Put",
                  "eventSource" : "aws:s3",
                  "s3" : {
                    "bucket" : { "name" : "photos" },
                    "object" : { "key" : "a%20b.jpg", "size" : 10 }
                  }
                }
            """
        let second =
            "{\n\t\"eventName\": \"ObjectRemoved:Delete\",\n\t\"s3\": {\"bucket\": {\"name\": \"photos\"},\r\n"
            + "\t\"object\": {\"key\": \"c.jpg\"}}\n}"
        let body = Array("\n{\n  \"Records\" : [\n    \(first) ,\n\t\(second)\n  ]\n}\n".utf8)
        let events = try DecoderFixture.events(body)
        let records = events.decodedRecords
        try #require(records.count == 2)
        #expect(String(decoding: body[records[0].recordRange], as: UTF8.self) == first)
        #expect(String(decoding: body[records[1].recordRange], as: UTF8.self) == second)
        #expect(records[0].key == "a b.jpg")
        #expect(records[0].size == 10)
        #expect(records[1].eventName == "s3:ObjectRemoved:Delete")
    }

    // MARK: Record fields

    @Test(
        arguments: [
            ("ObjectCreated:Put", "s3:ObjectCreated:Put"),
            ("s3:ObjectCreated:Put", "s3:ObjectCreated:Put"),
            ("ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:DeleteMarkerCreated"),
            ("s3:Replication:OperationFailedReplication", "s3:Replication:OperationFailedReplication"),
            ("LifecycleExpiration:Delete", "s3:LifecycleExpiration:Delete"),
        ]
    )
    func normalisesEventNamesToTheS3Form(sent: String, expected: String) throws {
        let result = try DecoderFixture.recordResult(minioRecord(eventName: "\"\(sent)\""))
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(record.eventName == expected)
    }

    @Test(
        arguments: [
            (#""minio:s3""#, "a+b%2Bc%2Fd", "a b+c/d"),
            (#""aws:s3""#, "uploads/beach+day/IMG%C3%9C01.jpg", "uploads/beach day/IMGÜ01.jpg"),
            (#""aws:s3""#, "lower%c3%bchex", "lowerühex"),
            (#""aws:s3""#, "no-escapes_at.all~", "no-escapes_at.all~"),
            ("null", "a+b%20c", "a b c"),
            (#""b2:s3""#, "other+sender", "other sender"),
            (#""ceph:s3""#, "in/a+b%20c.txt", "in/a+b%20c.txt"),
            (#""ceph:s3""#, "100%", "100%"),
            (#""ceph:s3""#, "%zz", "%zz"),
        ]
    )
    func decodesTheKeyByEventSource(eventSource: String, rawKey: String, expected: String) throws {
        let result = try DecoderFixture.recordResult(minioRecord(eventSource: eventSource, key: "\"\(rawKey)\""))
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(record.key == expected)
        #expect(record.rawKey == rawKey)
        #expect(record.eventSource == (eventSource == "null" ? "" : String(eventSource.dropFirst().dropLast())))
    }

    @Test func keyIsUnescapedWhenEventSourceIsAbsent() throws {
        let body =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"#
            + #""object":{"key":"x%2Fy+z"}}}]}"#
        let record = try DecoderFixture.record(Array(body.utf8))
        #expect(record.eventSource == "")
        #expect(record.key == "x/y z")
    }

    @Test(
        arguments: [
            ("%zz", #"invalid URL escape "%zz"; expected '%' followed by two hex digits"#),
            ("a%4", #"invalid URL escape "%4"; expected '%' followed by two hex digits"#),
            ("a%", #"invalid URL escape "%"; expected '%' followed by two hex digits"#),
            ("%G0x", #"invalid URL escape "%G0"; expected '%' followed by two hex digits"#),
            ("%C3%28", "the unescaped key is not valid UTF-8"),
            ("%FF", "the unescaped key is not valid UTF-8"),
            ("%C3", "the unescaped key is not valid UTF-8"),
        ]
    )
    func refusesKeysThatDoNotUnescape(rawKey: String, reason: String) throws {
        let result = try DecoderFixture.recordResult(minioRecord(key: "\"\(rawKey)\""))
        #expect(result == .undecodable(index: 0, Undecodable(field: "Records[0].s3.object.key", reason: reason)))
    }

    @Test(
        arguments: [
            ("12", Int64?(12)), ("0", 0), ("null", nil), ("9223372036854775807", .max),
        ]
    )
    func readsSize(size: String, expected: Int64?) throws {
        let result = try DecoderFixture.recordResult(minioRecord(size: size))
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(record.size == expected)
    }

    @Test(
        arguments: [
            (#""12""#, "expected an integer, found string"),
            ("true", "expected an integer, found boolean"),
            ("{}", "expected an integer, found object"),
            ("1.5", "expected an integer, found number 1.5"),
            ("1e3", "expected an integer, found number 1e3"),
            ("9223372036854775808", "expected an integer, found number 9223372036854775808"),
            ("-5", "expected a non-negative integer, found -5"),
        ]
    )
    func refusesSizeThatIsNotANonNegativeInteger(size: String, reason: String) throws {
        let result = try DecoderFixture.recordResult(minioRecord(size: size))
        #expect(result == .undecodable(index: 0, Undecodable(field: "Records[0].s3.object.size", reason: reason)))
    }

    @Test(
        arguments: [
            (minioRecord(eventName: "null"), "Records[0].eventName", "expected a string, found null"),
            (minioRecord(eventName: "7"), "Records[0].eventName", "expected a string, found number"),
            (minioRecord(eventName: #""""#), "Records[0].eventName", #"expected a non-empty string, found """#),
            (
                #"{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#, "Records[0].eventName",
                "missing; expected a string"
            ),
            (minioRecord(eventSource: "1"), "Records[0].eventSource", "expected a string, found number"),
            (minioRecord(bucket: "null"), "Records[0].s3.bucket", "expected an object, found null"),
            (minioRecord(bucket: "{}"), "Records[0].s3.bucket.name", "missing; expected a string"),
            (minioRecord(bucket: #"{"name":5}"#), "Records[0].s3.bucket.name", "expected a string, found number"),
            (
                minioRecord(bucket: #"{"name":""}"#), "Records[0].s3.bucket.name",
                #"expected a non-empty string, found """#
            ),
            (minioRecord(key: "[]"), "Records[0].s3.object.key", "expected a string, found array"),
            (minioRecord(key: #""""#), "Records[0].s3.object.key", #"expected a non-empty string, found """#),
            (
                minioRecord(extraObject: #","contentType":3"#), "Records[0].s3.object.contentType",
                "expected a string, found number"
            ),
            (
                minioRecord(extraObject: #","userMetadata":[]"#), "Records[0].s3.object.userMetadata",
                "expected an object, found array"
            ),
            (
                minioRecord(extraObject: #","userMetadata":{"X-Amz-Meta-N":1}"#),
                "Records[0].s3.object.userMetadata.X-Amz-Meta-N", "expected a string, found number"
            ),
            (
                minioRecord(extraObject: #","metadata":{}"#), "Records[0].s3.object.metadata",
                "expected an array, found object"
            ),
            (
                minioRecord(extraObject: #","metadata":["x"]"#), "Records[0].s3.object.metadata[0]",
                "expected an object, found string"
            ),
            (
                minioRecord(extraObject: #","metadata":[{"key":"a","val":"1"},{"val":"2"}]"#),
                "Records[0].s3.object.metadata[1].key", "missing; expected a string"
            ),
            (
                minioRecord(extraObject: #","metadata":[{"key":"a","val":2}]"#),
                "Records[0].s3.object.metadata[0].val", "expected a string, found number"
            ),
            (
                #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":null}]}"#, "Records[0].s3",
                "expected an object, found null"
            ),
            (
                #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"}}}]}"#,
                "Records[0].s3.object", "missing; expected an object"
            ),
            (#"{"Records":[[]]}"#, "Records[0]", "expected an object, found array"),
        ]
    )
    func refusesRecordWithTheFieldAtFault(body: String, field: String, reason: String) throws {
        let result = try DecoderFixture.recordResult(body)
        #expect(result == .undecodable(index: 0, Undecodable(field: field, reason: reason)))
    }

    @Test func toleratesNullsAndUnknownFields() throws {
        let body = minioRecord(
            extraObject: #","contentType":null,"userMetadata":null,"metadata":null,"versionId":null,"future":[1]"#,
            extraRecord: #""requestParameters":null,"responseElements":null,"userIdentity":null,"glacier":{"x":1},"#
        )
        let result = try DecoderFixture.recordResult(body)
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(record.contentType == nil)
        #expect(record.metadata.isEmpty)
        #expect(record.requestID == nil)
        #expect(record.versionID == nil)
    }

    @Test func treatsWrongTypedInformationalFieldsAsAbsent() throws {
        let body = minioRecord(
            extraObject: #","sequencer":1,"versionId":false"#,
            extraRecord: #""eventTime":0,"awsRegion":[],"responseElements":"x","eventId":{},"#
        )
        let result = try DecoderFixture.recordResult(body)
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(record.eventTime == nil)
        #expect(record.awsRegion == nil)
        #expect(record.requestID == nil)
        #expect(record.eventID == nil)
        #expect(record.sequencer == nil)
        #expect(record.versionID == nil)
    }

    @Test func lowerCasesMetadataNamesFromBothShapes() throws {
        let body = minioRecord(
            extraObject: #","userMetadata":{"X-Amz-Meta-Kind":"Avatar","content-type":"image/png","X-Amz-Meta-Ä":"v","#
                + #""X-Amz-Meta-Gone":null},"metadata":[{"key":"X-AMZ-META-DEMO","val":"1"},"#
                + #"{"key":"x-amz-meta-n","val":null}]"#
        )
        let result = try DecoderFixture.recordResult(body)
        guard case .record(let record) = result else {
            Issue.record("undecodable: \(result)")
            return
        }
        #expect(
            record.metadata == [
                "x-amz-meta-kind": "Avatar", "content-type": "image/png", "x-amz-meta-ä": "v", "x-amz-meta-demo": "1",
            ]
        )
    }

    @Test func decodingTwiceGivesTheSameResult() throws {
        let body = try DecoderFixture.bytes("aws/two-records.json")
        #expect(EventDecoder.decode(body) == EventDecoder.decode(body))
    }

    @Test func rawBufferEntryPointMatchesArrayEntryPoint() throws {
        let body = try DecoderFixture.bytes("rgw/delete.json")
        let fromPointer = body.withUnsafeBytes { EventDecoder.decode($0) }
        #expect(fromPointer == EventDecoder.decode(body))
    }

    @Test func undecodableDescribesFieldAndReason() {
        let problem = Undecodable(field: "Records[0].s3.object.size", reason: "expected an integer, found string")
        #expect(problem.description == "Records[0].s3.object.size: expected an integer, found string")
    }
}
