import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// What the HTTP endpoint answers to bad, big, empty and unauthenticated input; nothing refused is spooled.
@Suite(.timeLimit(.minutes(2)))
struct IngressTests {
    static let rules = [
        "rules.json": """
        { "targets": { "hook": { "url": "${BASE}/hook" } },
          "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
        """
    ]

    @Test(arguments: ["bad/not-json.txt", "bad/truncated.json"])
    func nonJSONGets400WithAJSONErrorAndNothingSpooled(fixture: String) async throws {
        let body = try Fixtures.bytes(fixture)
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let response = try await relay.post(body)
                #expect(response.status == 400)
                let error = try JSONParser.parse(response.body)
                #expect(error["error"]?.stringValue == "body is not JSON")
                #expect(error["detail"]?.stringValue?.isEmpty == false)
                #expect(relay.relay.log.totals.pendingCount == 0)
                #expect(try relay.deadLetters().isEmpty)
                #expect(try await TestHTTP.get(relay.url("/healthz")).status == 200)
                #expect(receiver.requests.isEmpty)
            }
        }
    }

    static let undecodable: [(String, String)] = [
        ("bad/records-not-array.json", "Records"),
        ("bad/record-without-s3.json", "Records[0].s3"),
        ("bad/size-is-string.json", "Records[0].s3.object.size"),
        ("bad/empty-records.json", "Records"),
        ("bad/top-level-array.json", "$"),
        ("bad/eventbridge-unknown-detail-type.json", "detail-type"),
    ]

    @Test(arguments: undecodable)
    func validJSONThatIsNotAnEventIsDeadLetteredAndAcknowledged(fixture: String, field: String) async throws {
        let body = try Fixtures.bytes(fixture)
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let response = try await relay.post(body)
                #expect(response.status == 200, "\(fixture): \(response.body)")
                let answer = try JSONParser.parse(response.body)
                #expect(answer["reason"]?.stringValue == "undecodable")
                #expect(answer["field"]?.stringValue == field)
                let letters = try relay.deadLetters()
                #expect(letters.count == 1)
                #expect(letters.first?.reason == .undecodable)
                #expect(letters.first?.field == field)
                // A record's dead letter carries the record's own bytes; a whole-body problem, the body.
                var expected = body[...]
                if field.hasPrefix("Records["), let record = try JSONParser.parse(body)["Records"]?.arrayValue?.first {
                    expected = body[record.range]
                }
                #expect(letters.first.map { Array($0.payload.utf8) } == Array(expected))
                #expect(relay.relay.log.totals.pendingCount == 0)
                // The relay keeps serving, and a good event still goes through.
                #expect(try await relay.post(try Fixtures.bytes("minio/put-image.json")).status == 200)
                _ = try await receiver.waitForRequests(count: 1, path: "/hook")
                try await Task.sleep(for: .milliseconds(100))
                #expect(receiver.requests.count == 1, "nothing delivered for the bad input")
            }
        }
    }

    @Test func emptyPostAndHeadGet200() async throws {
        try await TestRelay.with(rules: Self.rules, environment: ["BASE": "http://127.0.0.1:1"]) { relay throws in
            #expect(try await relay.post([]).status == 200)
            #expect(try await TestHTTP.head(relay.url()).status == 200)
            #expect(try await TestHTTP.head(relay.url("/")).status == 200)
            #expect(try await TestHTTP.get(relay.url("/healthz")).status == 200)
            #expect(try await TestHTTP.get(relay.url("/readyz")).status == 200)
            #expect(relay.relay.log.totals.pendingCount == 0)
        }
    }

    @Test func postToRootIsAcceptedLikeMinioEvent() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let response = try await TestHTTP.post(relay.url("/"), body: body)
                #expect(response.status == 200)
                _ = try await receiver.waitForRequests(count: 1, path: "/hook")
            }
        }
    }

    @Test func aBodyOverMaxBodyGets413AndNothingSpooled() async throws {
        try await TestRelay.configured(rules: Self.rules, environment: ["BASE": "http://127.0.0.1:1"]) {
            $0.maxBodyBytes = 2000
        } _: { relay in
            var body = Array(#"{"Records":[{"pad":""#.utf8)
            body.append(contentsOf: [UInt8](repeating: UInt8(ascii: "a"), count: 2000))
            body.append(contentsOf: Array(#""}]}"#.utf8))
            let response = try await relay.post(body)
            #expect(response.status == 413)
            #expect(try JSONParser.parse(response.body)["error"]?.stringValue == "body too large")
            #expect(relay.relay.log.totals.pendingCount == 0)
            #expect(try relay.deadLetters().isEmpty)
            let next = try await relay.post(try Fixtures.bytes("minio/put-zero-size.json"))
            #expect(next.status == 200, "\(next.body)")
        }
    }

    @Test func authTokenIsRequiredAsBearer() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await TestRelay.configured(rules: Self.rules, environment: ["BASE": "http://127.0.0.1:1"]) {
            $0.authToken = "s3cret"
        } _: { relay in
            #expect(try await relay.post(body).status == 401)
            #expect(try await relay.post(body, headers: [("Authorization", "Bearer wrong")]).status == 401)
            #expect(try await relay.post(body, headers: [("Authorization", "s3cret")]).status == 401)
            #expect(relay.relay.log.totals.pendingCount == 0)
            #expect(try await relay.post(body, headers: [("Authorization", "Bearer s3cret2")]).status == 401)
            // The scheme is case-insensitive (RFC 9110); the token is not.
            let lower = try await relay.post(body, headers: [("Authorization", "bearer s3cret")])
            #expect(lower.status == 200)
            #expect(try await relay.post(body, headers: [("Authorization", "Bearer S3CRET")]).status == 401)
            let accepted = try await relay.post(body, headers: [("Authorization", "Bearer s3cret")])
            #expect(accepted.status == 200)
            #expect(try JSONParser.parse(lower.body)["deliveries"]?.int64Value == 1)
            #expect(try JSONParser.parse(accepted.body)["status"]?.stringValue == "duplicate", "sent twice")
        }
    }

    @Test func unknownRoutesGetAJSON404() async throws {
        try await TestRelay.with(rules: Self.rules, environment: ["BASE": "http://127.0.0.1:1"]) { relay throws in
            for response in [
                try await TestHTTP.get(relay.url("/nope")),
                try await TestHTTP.client().execute(HTTPRequest(method: "PUT", url: relay.url("/nope"), body: [])),
            ] {
                #expect(response.status == 404)
                let error = try JSONParser.parse(response.body)
                #expect(error["error"]?.stringValue == "not found")
                #expect(error["detail"]?.stringValue?.contains("POST /minio-event") == true)
            }
        }
    }

    @Test func otherMethodsOnTheEventRoutesGet405WithAllowAndProbesStillWork() async throws {
        try await TestRelay.configured(rules: Self.rules, environment: ["BASE": "http://127.0.0.1:1"]) {
            $0.authToken = "s3cret"
        } _: { relay in
            let client = try TestHTTP.client()
            for path in ["/minio-event", "/"] {
                for method in ["GET", "PUT", "DELETE", "PATCH"] {
                    let response = try await client.execute(HTTPRequest(method: method, url: relay.url(path), body: []))
                    #expect(response.status == 405, "\(method) \(path)")
                    #expect(response.header("Allow") == "POST, HEAD, OPTIONS", "\(method) \(path)")
                    let error = try JSONParser.parse(response.body)
                    #expect(error["error"]?.stringValue == "method not allowed")
                    #expect(error["detail"]?.stringValue?.contains("events are sent with POST to \(path)") == true)
                }
                let options = try await client.execute(HTTPRequest(method: "OPTIONS", url: relay.url(path), body: []))
                #expect(options.status == 204, "OPTIONS \(path)")
                #expect(options.header("Allow") == "POST, HEAD, OPTIONS")
                // MinIO's liveness probe (HEAD) and its POSTs are unchanged.
                #expect(try await TestHTTP.head(relay.url(path)).status == 200)
                #expect(try await relay.post([], headers: [("Authorization", "Bearer s3cret")]).status == 200)
            }
            #expect(try await TestHTTP.get(relay.url("/minio-event/nope")).status == 404)
            #expect(relay.relay.log.totals.pendingCount == 0)
        }
    }

    @Test func testEventIsAcknowledgedAndRoutedNowhere() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let response = try await relay.post(try Fixtures.bytes("aws/test-event.json"))
                #expect(response.status == 200)
                try await Task.sleep(for: .milliseconds(200))
                #expect(receiver.requests.isEmpty)
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }
}
