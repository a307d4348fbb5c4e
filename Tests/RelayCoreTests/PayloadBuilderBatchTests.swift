import RelayCore
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The body of a batch: `{"Records":[` + the members' record bytes as stored + `]}` (docs/delivery.md, "Batches").
@Suite("PayloadBuilder batches")
struct PayloadBuilderBatchTests {
    @Test func joinsTheRecordsOfRecordsPayloadsByteForByte() throws {
        let first = #"{"eventName":"s3:ObjectCreated:Put","s3":{"object":{"key":"a]}\"{["}}}"#
        let second = #"{ "eventName" : "s3:ObjectRemoved:Delete",  "s3": {"object": {"key": "b"}} }"#
        let body = PayloadBuilder.batchBody([
            bytes(#"{"Records":["# + first + "]}"), bytes(#"{"Records":["# + second + "]}"),
        ])
        #expect(body == bytes(#"{"Records":["# + first + "," + second + "]}"))
        let parsed = try JSONParser.parse(body)
        #expect(parsed.objectValue?.first?.value.arrayValue?.count == 2)
    }

    @Test func takesTheRecordsOutOfForwardedBodiesAndMinioEnvelopes() throws {
        let body = try DecoderFixture.bytes("minio/put-image.json")
        let events = try DecoderFixture.events(body)
        let record = try #require(events.decodedRecords.first)
        let recordBytes = Array(body[record.recordRange])
        // A bare {"Records":[…]} forwarded as received, with spaces and a field after the array.
        let forwarded = bytes(#"{ "Records" : [ "#) + recordBytes + bytes(#" ], "extra": [1] }"#)
        let tricky = bytes(#"{"Records":["#) + recordBytes + bytes(#"],"x":[2]}"#)
        let built = PayloadBuilder.batchBody([body, forwarded, tricky])
        #expect(built == bytes(#"{"Records":["#) + recordBytes + [44] + recordBytes + [44] + recordBytes + bytes("]}"))
    }

    @Test func splicesAPayloadThatIsNoRecordsEnvelopeWhole() throws {
        let cloudEvent = bytes(#"{"specversion":"1.0","id":"x","data":{"eventName":"s3:ObjectCreated:Put"}}"#)
        let record = #"{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#
        let body = PayloadBuilder.batchBody([bytes(#"{"Records":["# + record + "]}"), cloudEvent])
        #expect(body == bytes(#"{"Records":["# + record + ",") + cloudEvent + bytes("]}"))
        #expect(PayloadBuilder.batchRecordRanges(cloudEvent) == nil)
        _ = try JSONParser.parse(body)
    }

    @Test func aBatchOfOneIsTheRecordsEnvelope() {
        let record = #"{"eventName":"s3:ObjectCreated:Put"}"#
        let member = bytes(#"{"Records":["# + record + "]}")
        #expect(PayloadBuilder.batchBody([member]) == member)
        #expect(PayloadBuilder.batchRecordRanges(member) == [12..<(12 + record.utf8.count)])
    }
}
