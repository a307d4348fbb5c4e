import Foundation
import RelayCore
import Testing

/// Backblaze B2, Google Cloud Storage (Pub/Sub push) and versitygw bodies, decoded onto the record model.
struct StoreEventDecoderTests {
    static func decode(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> DecodedEvents {
        try DecoderFixture.events(Array(text.utf8), sourceLocation: sourceLocation)
    }

    /// A B2 body of one event of `eventType` for `objectName`.
    static func b2(_ eventType: String, objectName: String = "a b/ü+c.txt", extra: String = "") -> String {
        #"{"events":[{"accountId":"acc","bucketId":"bid","bucketName":"photos","eventId":"e1","#
            + #""eventTimestamp":1768240692011,"eventType":"\#(eventType)","eventVersion":1,"#
            + #""matchedRuleName":"rule","objectName":"\#(objectName)","objectSize":12\#(extra)}]}"#
    }

    // MARK: B2

    @Test(
        arguments: [
            ("b2:ObjectCreated:Upload", "s3:ObjectCreated:Put"),
            ("b2:ObjectCreated:MultipartUpload", "s3:ObjectCreated:CompleteMultipartUpload"),
            ("b2:ObjectCreated:Copy", "s3:ObjectCreated:Copy"),
            ("b2:ObjectCreated:Replica", "s3:ObjectCreated:Replica"),
            ("b2:ObjectCreated:MultipartReplica", "s3:ObjectCreated:MultipartReplica"),
            ("b2:ObjectDeleted:Delete", "s3:ObjectRemoved:Delete"),
            ("b2:ObjectDeleted:LifecycleRule", "s3:LifecycleExpiration:Delete"),
            ("b2:HideMarkerCreated:Hide", "s3:ObjectRemoved:DeleteMarkerCreated"),
            ("b2:HideMarkerCreated:LifecycleRule", "s3:LifecycleExpiration:DeleteMarkerCreated"),
            ("b2:MultipartUploadCreated:LiveRead", "s3:MultipartUploadCreated:LiveRead"),
        ]
    )
    func b2EventTypesMapOntoS3EventNames(eventType: String, expected: String) throws {
        let events = try Self.decode(Self.b2(eventType))
        #expect(events.origin == .b2)
        let record = try #require(events.decodedRecords.first)
        #expect(record.eventName == expected)
        #expect(record.bucket == "photos")
        #expect(record.key == "a b/ü+c.txt", "B2's objectName is the name as it is")
        #expect(record.size == 12)
        #expect(record.eventSource == "b2:s3")
        #expect(record.eventID == "e1")
        #expect(record.eventTime == "2026-01-12T17:58:12.011Z")
        let translated = try #require(events.translatedBody)
        let json = try JSONParser.parse(translated)
        let object = json["Records"]?.arrayValue?.first?["s3"]?["object"]
        #expect(object?["key"]?.stringValue == "a+b%2F%C3%BC%2Bc.txt", "form-encoded in the record")
        #expect(json["Records"]?.arrayValue?.first?["b2"]?["eventType"]?.stringValue == eventType)
    }

    @Test func b2BodyOfSeveralEventsIsOneRecordPerEvent() throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes("b2/two-events.json"))
        #expect(events.records.count == 2)
        #expect(
            events.decodedRecords.map(\.eventName) == [
                "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:DeleteMarkerCreated",
            ]
        )
        #expect(events.decodedRecords.map(\.key) == ["raw/clip-0001.mp4", "uploads/2026/cat.jpg"])
        #expect(events.decodedRecords[1].size == 0)
    }

    @Test func b2EventThatCannotBeRoutedIsUndecodableAndTheOthersAreRouted() throws {
        let body =
            #"{"events":[{"bucketName":"photos","eventType":"b2:ObjectCreated:Teleport","objectName":"x","eventId":"1"},"#
            + #"{"bucketName":"photos","eventType":"b2:ObjectCreated:Upload","objectName":"y","eventId":"2"},"#
            + #"{"bucketName":"photos","eventType":"b2:ObjectDeleted:Delete","eventId":"3"}]}"#
        let events = try Self.decode(body)
        #expect(events.records.count == 3)
        guard case .undecodable(0, let first) = events.records[0], case .undecodable(2, let third) = events.records[2]
        else {
            Issue.record("expected records 0 and 2 undecodable: \(events.records)")
            return
        }
        #expect(first.field == "events[0].eventType")
        #expect(third.field == "events[2].objectName")
        #expect(events.decodedRecords.map(\.key) == ["y"])
        // The translated body holds the events that could not be routed as B2 sent them (their dead letters).
        let translated = try JSONParser.parse(try #require(events.translatedBody))
        #expect(translated["Records"]?.arrayValue?[0]["eventType"]?.stringValue == "b2:ObjectCreated:Teleport")
    }

    @Test func b2TestEventIsATestEvent() throws {
        #expect(EventDecoder.decode(try DecoderFixture.bytes("b2/test-event.json")) == .testEvent("photos"))
    }

    @Test func b2ObjectSizeNullIsAbsentAndANegativeSizeIsUndecodable() throws {
        let absent = try Self.decode(
            Self.b2("b2:ObjectDeleted:Delete").replacingOccurrences(
                of: #""objectSize":12"#,
                with: #""objectSize":null"#
            )
        )
        #expect(absent.decodedRecords.first?.size == nil)
        let negative = try Self.decode(
            Self.b2("b2:ObjectCreated:Upload").replacingOccurrences(of: #""objectSize":12"#, with: #""objectSize":-1"#)
        )
        guard case .undecodable(_, let problem) = negative.records[0] else {
            Issue.record("a negative size was decoded")
            return
        }
        #expect(problem.field == "events[0].objectSize")
    }

    // MARK: GCS

    /// A push of `eventType` whose data is `resource` (base64-encoded here).
    static func push(_ eventType: String, resource: String, attributes: String = "") -> String {
        let data = Data(resource.utf8).base64EncodedString()
        return #"{"message":{"attributes":{"bucketId":"photos","eventType":"\#(eventType)","#
            + #""objectId":"a b/ü+c.txt","objectGeneration":"7","payloadFormat":"JSON_API_V1"\#(attributes)},"#
            + #""data":"\#(data)","messageId":"m-1","publishTime":"2026-01-12T17:58:12.5Z"},"#
            + #""subscription":"projects/p/subscriptions/s"}"#
    }

    static let resource =
        #"{"name":"a b/ü+c.txt","bucket":"photos","size":"48213","contentType":"image/jpeg","#
        + #""md5Hash":"0j8IJBKLLzMMXH/QpqOkUA==","metadata":{"kind":"avatar"},"generation":"7"}"#

    @Test(
        arguments: [
            ("OBJECT_FINALIZE", "", "s3:ObjectCreated:Put"),
            ("OBJECT_DELETE", "", "s3:ObjectRemoved:Delete"),
            ("OBJECT_ARCHIVE", "", "s3:ObjectRemoved:DeleteMarkerCreated"),
            ("OBJECT_METADATA_UPDATE", "", "s3:ObjectMetadata:Update"),
            ("OBJECT_DELETE", #","overwrittenByGeneration":"8""#, "s3:ObjectOverwritten:Delete"),
            ("OBJECT_ARCHIVE", #","overwrittenByGeneration":"8""#, "s3:ObjectOverwritten:Archive"),
        ]
    )
    func gcsEventTypesMapOntoS3EventNames(eventType: String, attributes: String, expected: String) throws {
        let events = try Self.decode(Self.push(eventType, resource: Self.resource, attributes: attributes))
        #expect(events.origin == .gcsPush)
        let record = try #require(events.decodedRecords.first)
        #expect(record.eventName == expected)
        #expect(record.bucket == "photos")
        #expect(record.key == "a b/ü+c.txt")
        #expect(record.size == 48213, "the resource's size string, as a number")
        #expect(record.contentType == "image/jpeg")
        #expect(record.metadata["x-amz-meta-kind"] == "avatar")
        #expect(record.eventID == "m-1")
        #expect(record.versionID == "7")
        #expect(record.eventSource == "gcs:s3")
        let translated = try JSONParser.parse(try #require(events.translatedBody))
        let object = translated["Records"]?.arrayValue?.first?["s3"]?["object"]
        #expect(object?["eTag"]?.stringValue == "d23f0824128b2f330c5c7fd0a6a3a450", "md5Hash as hex")
    }

    @Test func gcsPushWithoutPayloadIsReadFromItsAttributes() throws {
        let body =
            #"{"message":{"attributes":{"bucketId":"photos","eventType":"OBJECT_DELETE","objectId":"k","#
            + #""payloadFormat":"NONE"},"messageId":"m-2"},"subscription":"s"}"#
        let record = try #require(try Self.decode(body).decodedRecords.first)
        #expect(record.eventName == "s3:ObjectRemoved:Delete")
        #expect(record.key == "k")
        #expect(record.size == nil)
    }

    @Test(
        arguments: [
            ("OBJECT_TELEPORT", #"{"name":"k"}"#, "message.attributes.eventType"),
            ("OBJECT_FINALIZE", #"{"name":"k","size":"12 bytes"}"#, "message.data.size"),
            ("OBJECT_FINALIZE", #"{"name":"k","size":"-1"}"#, "message.data.size"),
            ("OBJECT_FINALIZE", #"{"name":"k","metadata":{"n":1}}"#, "message.data.metadata.n"),
            ("OBJECT_FINALIZE", #"["not an object"]"#, "message.data"),
        ]
    )
    func gcsPushThatCannotBeRoutedIsOneUndecodableRecord(eventType: String, resource: String, field: String) throws {
        let events = try Self.decode(Self.push(eventType, resource: resource))
        #expect(events.origin == .gcsPush, "still known as a push")
        guard case .undecodable(0, let problem) = events.records.first else {
            Issue.record("expected an undecodable record: \(events.records)")
            return
        }
        #expect(problem.field == field)
    }

    @Test func gcsDataThatIsNotBase64IsUndecodable() throws {
        let body =
            #"{"message":{"attributes":{"bucketId":"b","eventType":"OBJECT_FINALIZE","objectId":"k"},"#
            + #""data":"not base64!","messageId":"m"}}"#
        guard case .undecodable(0, let problem) = try Self.decode(body).records.first else {
            Issue.record("decoded")
            return
        }
        #expect(problem.field == "message.data")
    }

    // MARK: versitygw

    @Test func versitygwKeysAreAsTheyAre() throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes("versitygw/put-special-key.json"))
        #expect(events.origin == .versityGateway)
        let record = try #require(events.decodedRecords.first)
        #expect(record.key == "uploads/summer trip/a+b ü.JPG", "a plus is a plus")
        #expect(record.versionID == nil, "versionId null is accepted as absent")
        #expect(record.eventSource == "aws:s3")
    }

    @Test func versitygwKeyWithAPercentIsThatLiteralName() throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes("versitygw/put-literal-percent.json"))
        #expect(events.decodedRecords.first?.key == "in/a+b%20c.txt")
    }

    @Test func versitygwDeleteObjectsKeysAreAsTheyAre() throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes("versitygw/delete-objects.json"))
        let record = try #require(events.decodedRecords.first)
        #expect(record.key == "uploads/summer trip/a+b ü.JPG")
        #expect(record.eventName == "s3:ObjectRemoved:DeleteObjects", "kept as sent, in the s3:ObjectRemoved family")
    }

    @Test func versitygwNullETagAndVersionIDAreAccepted() throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes("versitygw/delete.json"))
        let record = try #require(events.decodedRecords.first)
        #expect(record.eventName == "s3:ObjectRemoved:Delete")
        #expect(record.key == "uploads/2026/cat.jpg")
    }

    @Test func awsRecordsWithTheSameKeyAreStillFormDecoded() throws {
        // The same key text in an AWS record (principalId in lower case) is form-encoded: `+` is a space. The
        // decision is the record's shape, never the key's bytes.
        let body =
            #"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"A"},"#
            + #""s3":{"configurationId":"webhook-global","bucket":{"name":"photos"},"object":{"key":"a+b%20c"}}}]}"#
        let events = try Self.decode(body)
        #expect(events.origin == .records)
        #expect(events.decodedRecords.first?.key == "a b c")
    }

    // MARK: Base64

    @Test(
        arguments: [
            ("", [UInt8]()), ("Zg==", Array("f".utf8)), ("Zm8=", Array("fo".utf8)), ("Zm9v", Array("foo".utf8)),
            ("Zm8", Array("fo".utf8)), ("-_8", [0xFB, 0xFF]), ("+/8=", [0xFB, 0xFF]),
        ]
    )
    func base64Decodes(text: String, bytes: [UInt8]) {
        #expect(Base64.decode(text) == bytes)
    }

    @Test(arguments: ["Z", "Zg=a", "Zm9v=", "Z!==", "Zg==="])
    func base64RefusesWhatNoEncodingWrites(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func base64URLSafeRoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encodeURLSafe(bytes)) == bytes)
        }
    }
}
