import Foundation
import RelayCore
import RelayTestSupport
import Testing

/// `format: cloudevents-binary` end to end: each record of an AWS body reaches the target as its own JSON text, with
/// the CloudEvents attributes in `ce-*` headers, signed like any delivery.
@Suite(.timeLimit(.minutes(2)))
struct CloudEventsBinaryTests {
    @Test func eachRecordArrivesAsTheBodyWithItsAttributesInHeaders() async throws {
        let body = try Fixtures.bytes("aws/two-records.json")
        let rules = [
            "rules.json": """
            { "targets": { "binary": { "url": "${BASE}/binary", "format": "cloudevents-binary",
                                       "signingSecret": "raw-secret" } },
              "rules": [ { "name": "all", "match": {}, "to": ["binary"] } ] }
            """
        ]
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                #expect(try await relay.post(body).status == 200)
                let requests = try await receiver.waitForRequests(count: 2, path: "/binary")
                let parsed = try JSONParser.parse(body)
                let records = try #require(parsed["Records"]?.arrayValue)
                let expected = [
                    (
                        "C3D13FE58DE4C810.0055AED6DCD90281E5", "com.amazonaws.s3.ObjectCreated:Put",
                        "uploads/beach%20day/IMG%C3%9C01.jpg"
                    ),
                    ("C3D13FE58DE4C811.0055AED6DCD90281E6", "com.amazonaws.s3.ObjectRemoved:Delete", "tmp/old.txt"),
                ]
                let byID = Dictionary(uniqueKeysWithValues: requests.map { ($0.header("ce-id") ?? "", $0) })
                for (record, (id, type, subject)) in zip(records, expected) {
                    let request = try #require(byID[id], "no delivery with ce-id \(id)")
                    #expect(request.body == Array(body[record.range]))
                    #expect(request.header("content-type") == "application/json")
                    #expect(request.header("ce-specversion") == "1.0")
                    #expect(request.header("ce-type") == type)
                    #expect(request.header("ce-source") == "aws:s3.us-west-2.photos")
                    #expect(request.header("ce-subject") == subject)
                    #expect(request.header("ce-time") != nil)
                    #expect(request.header("webhook-signature")?.hasPrefix("v1,") == true)
                }
            }
        }
    }
}
