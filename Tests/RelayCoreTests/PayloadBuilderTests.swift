import Foundation
import RelayCore
import Testing

/// Decodes `body`, then builds one payload per decoded record.
private func payloads(_ format: PayloadFormat, _ body: [UInt8]) throws -> [(EventRecord, [UInt8])] {
    let events = try DecoderFixture.events(body)
    return events.decodedRecords.map { record in
        (record, PayloadBuilder.payload(format: format, body: body, events: events, record: record))
    }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("PayloadBuilder")
struct PayloadBuilderTests {
    // MARK: minio

    @Test(arguments: DecoderFixture.minioEnvelopes)
    func minioBodyIsForwardedByteForByte(fixture: String) throws {
        let body = try DecoderFixture.bytes(fixture)
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        #expect(built[0].1 == body)
    }

    @Test func awsRecordsGetOneMinioEnvelopeEachWithTheOriginalRecordBytes() throws {
        let body = try DecoderFixture.bytes("aws/two-records.json")
        let built = try payloads(.minio, body)
        try #require(built.count == 2)
        let expected = [
            ("s3:ObjectCreated:Put", "photos/uploads/beach day/IMGÜ01.jpg"),
            ("s3:ObjectRemoved:Delete", "photos/tmp/old.txt"),
        ]
        for ((record, payload), (eventName, key)) in zip(built, expected) {
            let recordBytes = Array(body[record.recordRange])
            let prefix = bytes(#"{"EventName":"\#(eventName)","Key":"\#(key)","Records":["#)
            #expect(payload == prefix + recordBytes + bytes("]}"))
            let parsed = try JSONParser.parse(payload)
            #expect(parsed.objectValue?.map(\.key) == ["EventName", "Key", "Records"])
            #expect(parsed["EventName"]?.stringValue == eventName)
            #expect(parsed["Key"]?.stringValue == key)
            let records = try #require(parsed["Records"]?.arrayValue)
            try #require(records.count == 1)
            #expect(Array(payload[records[0].range]) == recordBytes)
            // The envelope decodes to the same record.
            let again = try DecoderFixture.record(payload)
            #expect(again.key == record.key)
            #expect(again.eventName == record.eventName)
        }
    }

    @Test(
        arguments: [
            ("rgw/put.json", "demo-bucket/in/hello world ü.txt"),
            ("rgw/put-literal-percent.json", "demo-bucket/in/a+b%20c.txt"),
            ("minio/blog-record.json", "mybucket/cmd.md"),
        ]
    )
    func nonMinioBodyGetsTheEnvelopeBuilt(fixture: String, key: String) throws {
        let body = try DecoderFixture.bytes(fixture)
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        let (record, payload) = built[0]
        let parsed = try JSONParser.parse(payload)
        #expect(parsed["EventName"]?.stringValue == "s3:ObjectCreated:Put")
        #expect(parsed["Key"]?.stringValue == key)
        let inner = try #require(parsed["Records"]?.arrayValue?.first)
        #expect(Array(payload[inner.range]) == Array(body[record.recordRange]))
    }

    @Test func envelopeKeyEscapesWhatJSONRequires() throws {
        let body = bytes(
            #"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","#
                + #""s3":{"bucket":{"name":"b"},"object":{"key":"q%22uote%5Cback%0Aline%E2%80%A8sep"}}}]}"#
        )
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        let parsed = try JSONParser.parse(built[0].1)
        #expect(parsed["Key"]?.stringValue == "b/q\"uote\\back\nline\u{2028}sep")
        #expect(String(decoding: built[0].1, as: UTF8.self).contains(#""Key":"b/q\"uote\\back\nline\u2028sep""#))
    }

    @Test(arguments: EventDecoderDuplicateMemberTests.disagreeingEnvelopes)
    func minioEnvelopeThatDisagreesWithItsRecordIsRebuiltFromTheRecord(envelope: String) throws {
        let body = bytes(envelope.replacingOccurrences(of: "RECORD", with: EventDecoderDuplicateMemberTests.record))
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        let (record, payload) = built[0]
        #expect(payload != body)
        #expect(payload == PayloadBuilder.minioEnvelope(body: body, record: record))
        let parsed = try JSONParser.parse(payload)
        #expect(parsed["EventName"]?.stringValue == "s3:ObjectCreated:Put")
        #expect(parsed["Key"]?.stringValue == "photos/a b.jpg")
        let inner = try #require(parsed["Records"]?.arrayValue?.first)
        #expect(Array(payload[inner.range]) == Array(body[record.recordRange]))
        // What the receiver gets is an envelope that agrees with its record: forwarded as is from then on.
        #expect(try DecoderFixture.events(payload).envelopeMatchesRecord)
    }

    @Test func envelopeKeyNamingAnotherObjectNeverReachesTheReceiver() throws {
        // Routing matched the record's key; the receiver must read that key, not the envelope's.
        let body = bytes(
            #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/fail/ok.jpg","Records":[{"eventSource":"minio:s3","#
                + #""eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"photos"},"#
                + #""object":{"key":"private%2Fsecret.jpg"}}}]}"#
        )
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        let payload = String(decoding: built[0].1, as: UTF8.self)
        #expect(!payload.contains("fail/ok.jpg"))
        #expect(try JSONParser.parse(built[0].1)["Key"]?.stringValue == "photos/private/secret.jpg")
    }

    // MARK: records

    @Test(arguments: ["rgw/put.json", "rgw/delete.json", "rgw/put-literal-percent.json"])
    func bareRecordsBodyWithOneRecordIsForwardedByteForByte(fixture: String) throws {
        let body = try DecoderFixture.bytes(fixture)
        let built = try payloads(.records, body)
        try #require(built.count == 1)
        #expect(built[0].1 == body)
    }

    @Test(arguments: DecoderFixture.minioEnvelopes + ["minio/blog-record.json", "aws/two-records.json"])
    func recordsFormatWrapsTheOriginalRecordBytes(fixture: String) throws {
        let body = try DecoderFixture.bytes(fixture)
        let built = try payloads(.records, body)
        #expect(!built.isEmpty)
        for (record, payload) in built {
            #expect(payload == bytes(#"{"Records":["#) + Array(body[record.recordRange]) + bytes("]}"))
            let again = try DecoderFixture.record(payload)
            #expect(again.key == record.key)
            #expect(again.bucket == record.bucket)
        }
    }

    // MARK: cloudevents

    @Test func minioRecordBecomesACloudEvent() throws {
        let body = try DecoderFixture.bytes("minio/put-special-key.json")
        let built = try payloads(.cloudevents, body)
        try #require(built.count == 1)
        let (record, payload) = built[0]
        let event = try JSONParser.parse(payload)
        #expect(
            event.objectValue?.map(\.key) == [
                "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data",
            ]
        )
        #expect(event["specversion"]?.stringValue == "1.0")
        #expect(event["id"]?.stringValue == "188A0D8A74A6884E.188A0D8A74975E28")
        #expect(event["source"]?.stringValue == "minio:s3.photos")
        #expect(event["type"]?.stringValue == "com.amazonaws.s3.ObjectCreated:Put")
        #expect(event["subject"]?.stringValue == "uploads/summer trip/a+b ü.JPG")
        #expect(event["time"]?.stringValue == "2026-01-12T17:58:12.011Z")
        #expect(event["datacontenttype"]?.stringValue == "application/json")
        let data = try #require(event["data"])
        #expect(Array(payload[data.range]) == Array(body[record.recordRange]))
    }

    @Test func awsRecordsBecomeCloudEventsWithRegionAndDistinctIDs() throws {
        let body = try DecoderFixture.bytes("aws/two-records.json")
        let built = try payloads(.cloudevents, body)
        try #require(built.count == 2)
        let events = try built.map { try JSONParser.parse($0.1) }
        #expect(events.map { $0["source"]?.stringValue } == ["aws:s3.us-west-2.photos", "aws:s3.us-west-2.photos"])
        #expect(
            events.map { $0["type"]?.stringValue } == [
                "com.amazonaws.s3.ObjectCreated:Put", "com.amazonaws.s3.ObjectRemoved:Delete",
            ]
        )
        #expect(
            events.map { $0["id"]?.stringValue } == [
                "C3D13FE58DE4C810.0055AED6DCD90281E5", "C3D13FE58DE4C811.0055AED6DCD90281E6",
            ]
        )
        #expect(events.map { $0["subject"]?.stringValue } == ["uploads/beach day/IMGÜ01.jpg", "tmp/old.txt"])
        for ((record, payload), event) in zip(built, events) {
            let data = try #require(event["data"])
            #expect(Array(payload[data.range]) == Array(body[record.recordRange]))
        }
    }

    @Test func rgwCloudEventUsesTheEventIdAndTheRawKey() throws {
        let body = try DecoderFixture.bytes("rgw/put-literal-percent.json")
        let built = try payloads(.cloudevents, body)
        try #require(built.count == 1)
        let event = try JSONParser.parse(built[0].1)
        #expect(event["id"]?.stringValue == "1795585262.120401.6f5902ac237024bdd0c176cb93063dc4")
        #expect(event["source"]?.stringValue == "ceph:s3.demo-bucket")
        #expect(event["subject"]?.stringValue == "in/a+b%20c.txt")
        #expect(event["time"]?.stringValue == "2026-11-25T05:41:02.120331Z")
    }

    @Test func cloudEventIDIsStableAcrossDecodesAndFallsBackToAHashOfTheRecord() throws {
        let one = bytes(
            #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"1"}}}]}"#
        )
        let two = bytes(
            #"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"2"}}}]}"#
        )
        let firstID = try payloads(.cloudevents, one).map { try JSONParser.parse($0.1)["id"]?.stringValue }
        let againID = try payloads(.cloudevents, one).map { try JSONParser.parse($0.1)["id"]?.stringValue }
        let otherID = try payloads(.cloudevents, two).map { try JSONParser.parse($0.1)["id"]?.stringValue }
        try #require(firstID.count == 1 && otherID.count == 1)
        let id = try #require(firstID[0])
        #expect(id.hasPrefix("fnv1a64-"))
        #expect(id.utf8.count == "fnv1a64-".utf8.count + 16)
        #expect(firstID == againID)
        #expect(firstID != otherID)
    }

    @Test func cloudEventOmitsTimeWhenTheRecordHasNone() throws {
        let body = bytes(
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#
        )
        let built = try payloads(.cloudevents, body)
        try #require(built.count == 1)
        let event = try JSONParser.parse(built[0].1)
        #expect(event["time"] == nil)
        #expect(event["source"]?.stringValue == "b")
    }

    // MARK: Whitespace

    @Test func prettyPrintedBodiesSplitAndForwardExactly() throws {
        let record1 =
            "{\n    \"eventSource\": \"aws:s3\",\n    \"eventName\": \"ObjectCreated:Put\",\n"
            + "    \"s3\": {\n      \"bucket\": {\"name\": \"photos\"},\n"
            + "      \"object\": {\"key\": \"a+b.jpg\", \"size\": 3}\n"
            + "    }\n  }"
        let record2 =
            "{ \"eventName\" : \"ObjectRemoved:Delete\" ,\t\"s3\" : { \"bucket\" : { \"name\" : \"photos\" } ,"
            + " \"object\" : { \"key\" : \"c.jpg\" } } }"
        let body = bytes("{\n  \"Records\": [\n  \(record1),\n  \(record2)\n  ]\n}\n")
        let minio = try payloads(.minio, body)
        try #require(minio.count == 2)
        #expect(
            minio[0].1 == bytes(#"{"EventName":"s3:ObjectCreated:Put","Key":"photos/a b.jpg","Records":["#)
                + bytes(record1) + bytes("]}")
        )
        #expect(
            minio[1].1 == bytes(#"{"EventName":"s3:ObjectRemoved:Delete","Key":"photos/c.jpg","Records":["#)
                + bytes(record2) + bytes("]}")
        )
        let records = try payloads(.records, body)
        #expect(
            records.map(\.1) == [
                bytes(#"{"Records":["#) + bytes(record1) + bytes("]}"),
                bytes(#"{"Records":["#) + bytes(record2) + bytes("]}"),
            ]
        )
    }

    @Test func prettyPrintedMinioEnvelopeIsStillForwardedUnchanged() throws {
        let body = bytes(
            "{\n  \"EventName\": \"s3:ObjectCreated:Put\",\n  \"Key\": \"b/k\",\n  \"Records\": [\n    {\n"
                + "      \"eventName\": \"s3:ObjectCreated:Put\",\n      \"s3\": {\"bucket\": {\"name\": \"b\"}, "
                + "\"object\": {\"key\": \"k\"}}\n    }\n  ]\n}\n"
        )
        let built = try payloads(.minio, body)
        try #require(built.count == 1)
        #expect(built[0].1 == body)
    }

    // MARK: cloudevents-binary

    @Test func binaryCloudEventIsTheRecordWithTheStructuredModesAttributesAsHeaders() throws {
        let body = try DecoderFixture.bytes("minio/put-special-key.json")
        let built = try payloads(.cloudeventsBinary, body)
        try #require(built.count == 1)
        let (record, payload) = built[0]
        #expect(payload == Array(body[record.recordRange]))
        // The headers are computed again from the payload alone, at each attempt.
        guard case .events(let again) = EventDecoder.decode(payload), case .record(let decoded) = again.records.first
        else {
            Issue.record("the payload of a binary CloudEvent must decode as one record")
            return
        }
        let headers = Dictionary(
            uniqueKeysWithValues: PayloadBuilder.cloudEventHeaders(record: decoded, recordBytes: payload)
        )
        let structured = try JSONParser.parse(try payloads(.cloudevents, body)[0].1)
        #expect(headers["ce-specversion"] == "1.0")
        #expect(headers["ce-id"] == structured["id"]?.stringValue)
        #expect(headers["ce-source"] == "minio:s3.photos")
        #expect(headers["ce-type"] == "com.amazonaws.s3.ObjectCreated:Put")
        #expect(headers["ce-time"] == "2026-01-12T17:58:12.011Z")
        // "uploads/summer trip/a+b ü.JPG": space and non-ASCII percent-encoded, as the HTTP binding requires.
        #expect(headers["ce-subject"] == "uploads/summer%20trip/a+b%20%C3%BC.JPG")
    }

    @Test(
        arguments: [
            ("plain/key.jpg", "plain/key.jpg"), ("a b", "a%20b"), (#"q"uote"#, "q%22uote"), ("100%", "100%25"),
            ("tab\tnl\n", "tab%09nl%0A"), ("ü", "%C3%BC"), ("del\u{7F}", "del%7F"),
        ]
    )
    func headerValuesArePercentEncodedWhereTheBindingSays(value: String, encoded: String) {
        #expect(PayloadBuilder.percentEncodedHeaderValue(value) == encoded)
    }

    // MARK: Format

    @Test func formatsHaveTheirRuleFileNamesAndContentTypes() {
        #expect(
            PayloadFormat.allCases.map(\.rawValue) == ["minio", "records", "cloudevents", "cloudevents-binary"]
        )
        #expect(PayloadFormat(rawValue: "cloudevents-binary") == .cloudeventsBinary)
        #expect(PayloadFormat.cloudeventsBinary.contentType == "application/json")
        #expect(PayloadFormat(rawValue: "cloudevents") == .cloudevents)
        #expect(PayloadFormat(rawValue: "MinIO") == nil)
        #expect(PayloadFormat.minio.contentType == "application/json")
        #expect(PayloadFormat.cloudevents.contentType == "application/cloudevents+json")
    }
}
