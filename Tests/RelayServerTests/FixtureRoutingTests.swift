import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// Every fixture through the real server to real receivers: each reaches exactly the targets its rules select.
@Suite(.timeLimit(.minutes(2)))
struct FixtureRoutingTests {
    static let rules = """
        {
          "targets": {
            "images":   { "url": "${BASE}/images", "format": "minio" },
            "sized":    { "url": "${BASE}/sized", "format": "records" },
            "special":  { "url": "${BASE}/special" },
            "literal":  { "url": "${BASE}/literal" },
            "deletes":  { "url": "${BASE}/deletes", "format": "records" },
            "avatars":  { "url": "${BASE}/avatars" },
            "everything": { "url": "${BASE}/everything", "format": "records" }
          },
          "rules": [
            { "name": "images", "match": { "event": "s3:ObjectCreated:*", "suffix": [".jpg", ".JPG"] },
              "to": ["images"] },
            { "name": "images-again", "match": { "contentType": "image/*" }, "to": ["images"] },
            { "name": "sized", "match": { "size": { "min": 0 } }, "to": ["sized"] },
            { "name": "special", "match": { "prefix": "uploads/summer trip/", "suffix": "ü.JPG" }, "to": ["special"] },
            { "name": "literal", "match": { "prefix": "in/a+b%20c" }, "to": ["literal"] },
            { "name": "deletes", "match": { "event": "ObjectRemoved:*" }, "to": ["deletes"] },
            { "name": "avatars", "match": { "metadata": { "kind": ["avatar"] } }, "to": ["avatars"] },
            { "name": "everything", "match": {}, "to": ["everything"] }
          ]
        }
        """

    /// fixture → the paths (targets) that must receive it, with how many requests each.
    static let table: [(String, [String: Int])] = [
        ("minio/put-image.json", ["/images": 1, "/sized": 1, "/avatars": 1, "/everything": 1]),
        ("minio/put-special-key.json", ["/images": 1, "/sized": 1, "/special": 1, "/everything": 1]),
        ("minio/put-zero-size.json", ["/sized": 1, "/everything": 1]),
        ("minio/delete.json", ["/deletes": 1, "/everything": 1]),
        ("minio/multipart.json", ["/sized": 1, "/everything": 1]),
        ("minio/get.json", ["/images": 1, "/sized": 1, "/everything": 1]),
        ("minio/copy.json", ["/sized": 1, "/everything": 1]),
        ("minio/blog-record.json", ["/sized": 1, "/everything": 1]),
        ("rgw/put.json", ["/sized": 1, "/everything": 1]),
        ("rgw/delete.json", ["/deletes": 1, "/sized": 1, "/everything": 1]),
        ("rgw/put-literal-percent.json", ["/sized": 1, "/literal": 1, "/everything": 1]),
        ("aws/two-records.json", ["/images": 1, "/sized": 1, "/deletes": 1, "/everything": 2]),
        ("aws/test-event.json", [:]),
        // EventBridge carries no content type or user metadata: the same object as minio/put-image.json reaches the
        // same targets but "avatars" (metadata) and the content-type rule (its target is reached by suffix anyway).
        ("eventbridge/object-created.json", ["/images": 1, "/sized": 1, "/everything": 1]),
        ("eventbridge/object-created-special-key.json", ["/images": 1, "/sized": 1, "/special": 1, "/everything": 1]),
        ("eventbridge/object-deleted.json", ["/deletes": 1, "/everything": 1]),
        ("eventbridge/lifecycle-expiration.json", ["/everything": 1]),
    ]

    @Test(arguments: table)
    func fixtureReachesExactlyItsTargets(fixture: String, expected: [String: Int]) async throws {
        let body = try Fixtures.bytes(fixture)
        let seen = try await Self.deliver(body)
        #expect(seen.paths == expected, "\(fixture)")
        #expect(seen.deadLetters == 0, "\(fixture)")
    }

    /// Sends `body` through a relay with `rules` and returns how many requests each receiver path got.
    static func deliver(_ body: [UInt8]) async throws -> (paths: [String: Int], deadLetters: Int) {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: ["rules.json": rules], environment: ["BASE": receiver.url(path: "")]) {
                relay in
                let response = try await relay.post(body)
                #expect(response.status == 200, "\(response.body)")
                try await relay.waitForEmptySpool()
                // Nothing else arrives: give stray deliveries a moment to show up.
                try await Task.sleep(for: .milliseconds(150))
                var seen: [String: Int] = [:]
                for request in receiver.requests { seen[request.path, default: 0] += 1 }
                return (seen, try relay.deadLetters().count)
            }
        }
    }

    @Test func minioPayloadIsByteIdenticalToWhatMinioSent() async throws {
        let body = try Fixtures.bytes("minio/put-special-key.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: ["rules.json": Self.rules], environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                let images = try await receiver.waitForRequests(count: 1, path: "/images")
                #expect(images[0].body == body)
                let special = try await receiver.waitForRequests(count: 1, path: "/special")
                #expect(special[0].body == body)
            }
        }
    }

    @Test func awsTwoRecordBodyRoutesEachRecordWithItsOwnBytes() async throws {
        let body = try Fixtures.bytes("aws/two-records.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: ["rules.json": Self.rules], environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                let everything = try await receiver.waitForRequests(count: 2, path: "/everything")
                let original = try JSONParser.parse(body)
                let originalRecords = original["Records"]?.arrayValue ?? []
                #expect(originalRecords.count == 2)
                var expectedRecords = Set(originalRecords.map { Array(body[$0.range]) })
                for request in everything {
                    let parsed = try JSONParser.parse(request.body)
                    let records = parsed["Records"]?.arrayValue ?? []
                    #expect(records.count == 1)
                    if let record = records.first {
                        #expect(expectedRecords.remove(Array(request.body[record.range])) != nil)
                    }
                }
                #expect(expectedRecords.isEmpty)
                // The minio-format target gets MinIO's envelope built around the AWS record, key decoded.
                let images = try await receiver.waitForRequests(count: 1, path: "/images")
                let envelope = try JSONParser.parse(images[0].body)
                #expect(envelope["EventName"]?.stringValue == "s3:ObjectCreated:Put")
                #expect(envelope["Key"]?.stringValue == "photos/uploads/beach day/IMGÜ01.jpg")
            }
        }
    }

    /// An EventBridge event reaches a `minio` target as MinIO's envelope around the S3 record it was translated
    /// into, and a `records` target as that record: the key form-encoded in the record, decoded in `Key`.
    @Test func eventBridgeEventIsDeliveredAsAnS3Record() async throws {
        let body = try Fixtures.bytes("eventbridge/object-created-special-key.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: ["rules.json": Self.rules], environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                let images = try await receiver.waitForRequests(count: 1, path: "/images")
                let envelope = try JSONParser.parse(images[0].body)
                #expect(envelope["EventName"]?.stringValue == "s3:ObjectCreated:CompleteMultipartUpload")
                #expect(envelope["Key"]?.stringValue == "photos/uploads/summer trip/a+b ü.JPG")
                let record = try #require(envelope["Records"]?.arrayValue?.first)
                #expect(record["eventSource"]?.stringValue == "aws:s3")
                #expect(record["awsRegion"]?.stringValue == "us-west-2")
                #expect(record["s3"]?["object"]?["key"]?.stringValue == "uploads%2Fsummer+trip%2Fa%2Bb+%C3%BC.JPG")
                #expect(record["s3"]?["object"]?["size"]?.int64Value == 7_340_032)
                #expect(record["responseElements"]?["x-amz-request-id"]?.stringValue == "N4N7GDK58NMKJ12R")
                let sized = try await receiver.waitForRequests(count: 1, path: "/sized")
                let records = try JSONParser.parse(sized[0].body)["Records"]?.arrayValue ?? []
                #expect(records.count == 1)
                // A resend of the same EventBridge event is absorbed like any other.
                #expect(try await relay.post(body).status == 200)
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(150))
                #expect(receiver.requests.filter { $0.path == "/images" }.count == 1)
            }
        }
    }

    @Test func deliveryCarriesStableIDAndHeaders() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: ["rules.json": Self.rules], environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                let requests = try await receiver.waitForRequests(count: 4)
                let ids = requests.compactMap { $0.header("webhook-id") }
                #expect(ids.count == 4)
                #expect(Set(ids).count == 4, "one id per (event, target) pair")
                for request in requests {
                    #expect(request.header("Content-Type") == "application/json")
                    #expect(request.header("X-Relay-Attempt") == "1")
                }
            }
        }
    }
}
