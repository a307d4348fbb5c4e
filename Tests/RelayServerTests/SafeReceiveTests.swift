import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// What makes deliveries safe to receive: Standard Webhooks signatures checked by an independent implementation,
/// resends not fanned out twice, and a dead target that cannot hold back a healthy one.
@Suite(.timeLimit(.minutes(2)))
struct SafeReceiveTests {
    static let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test func signaturesVerifyWithPythonsHmac() async throws {
        let body = try Fixtures.bytes("aws/two-records.json")
        let rules = [
            "rules.json": """
            { "targets": { "signed": { "url": "${BASE}/signed",
                                       "signingSecret": ["${SECRET}", "second-raw-secret"] } },
              "rules": [ { "name": "all", "match": {}, "to": ["signed"] } ] }
            """
        ]
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(
                rules: rules,
                environment: ["BASE": receiver.url(path: ""), "SECRET": Self.whsec]
            ) { relay in
                #expect(try await relay.post(body).status == 200)
                let requests = try await receiver.waitForRequests(count: 2, path: "/signed")
                let root = try TemporaryDirectory.make()
                defer { TemporaryDirectory.remove(root) }
                for (index, request) in requests.enumerated() {
                    let id = try #require(request.header("webhook-id"))
                    let timestamp = try #require(request.header("webhook-timestamp"))
                    let signature = try #require(request.header("webhook-signature"))
                    let bodyPath = root + "/body\(index)"
                    try Data(request.body).write(to: URL(fileURLWithPath: bodyPath))
                    let verdict = try await Self.python(
                        Self.verifier,
                        arguments: [Self.whsec, "second-raw-secret", id, timestamp, signature, bodyPath]
                    )
                    #expect(verdict == "ok ok", "request \(index): \(verdict)")
                }
            }
        }
    }

    /// Checks every `v1,` entry against the secrets in order, the way a Standard Webhooks receiver does.
    static let verifier = """
        import base64, hashlib, hmac, sys
        secrets, (msg_id, ts, header, path) = sys.argv[1:3], sys.argv[3:7]
        body = open(path, "rb").read()
        given = [s.split(",", 1)[1] for s in header.split(" ") if s.startswith("v1,")]
        out = []
        for secret in secrets:
            key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
            mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
            out.append("ok" if any(hmac.compare_digest(mac, g) for g in given) else "BAD")
        print(" ".join(out))
        """

    static func python(_ script: String, arguments: [String]) async throws -> String {
        let process = try ChildProcess.spawn("/usr/bin/env", ["python3", "-c", script] + arguments)
        await process.finished()
        return process.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let everythingRules = [
        "rules.json": """
        { "targets": { "hook": { "url": "${BASE}/hook" } },
          "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
        """
    ]

    @Test(arguments: ["minio/put-image.json", "rgw/put.json", "aws/two-records.json"])
    func aResentEventIsNotFannedOutTwice(fixture: String) async throws {
        let body = try Fixtures.bytes(fixture)
        let records = try JSONParser.parse(body)["Records"]?.arrayValue?.count ?? 1
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.everythingRules, environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                let again = try await relay.post(body)
                #expect(again.status == 200)
                #expect(try JSONParser.parse(again.body)["status"]?.stringValue == "duplicate", "\(again.body)")
                _ = try await receiver.waitForRequests(count: records, path: "/hook")
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(150))
                #expect(receiver.requests(path: "/hook").count == records)
            }
        }
    }

    @Test func rgwEventsSharingAnEventIdButNotAnObjectAreBothDelivered() async throws {
        // RGW builds eventId from a microsecond timestamp and the ETag only: equal content, same microsecond.
        let text = String(decoding: try Fixtures.bytes("rgw/put.json"), as: UTF8.self)
        let first = text.replacingOccurrences(of: "in/hello world ü.txt", with: "in/a/_SUCCESS")
        let second = text.replacingOccurrences(of: "in/hello world ü.txt", with: "in/b/_SUCCESS")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.everythingRules, environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(Array(first.utf8)).status == 200)
                let answer = try await relay.post(Array(second.utf8))
                #expect(try JSONParser.parse(answer.body)["status"]?.stringValue == "accepted", "\(answer.body)")
                _ = try await receiver.waitForRequests(count: 2, path: "/hook")
            }
        }
    }

    @Test func theSameObjectWrittenAgainIsANewEvent() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        let text = String(decoding: body, as: UTF8.self)
        let rewritten = text.replacingOccurrences(of: "188A0D8A74975E28", with: "188A0D8A74975E29")
        #expect(rewritten != text)
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.everythingRules, environment: ["BASE": receiver.url(path: "")]) {
                relay in
                #expect(try await relay.post(body).status == 200)
                #expect(try await relay.post(Array(rewritten.utf8)).status == 200)
                _ = try await receiver.waitForRequests(count: 2, path: "/hook")
            }
        }
    }

    @Test func aDeadTargetIsProbedNotStormedAndTheHealthyOneKeepsItsPace() async throws {
        let rules = [
            "rules.json": """
            { "targets": {
                "healthy": { "url": "${HEALTHY}/ok", "maxInFlight": 8 },
                "dead":    { "url": "${DEAD}/down", "maxInFlight": 8,
                             "retry": { "attempts": 100, "initialBackoff": "10ms", "maxBackoff": "50ms" } } },
              "rules": [ { "name": "both", "match": {}, "to": ["healthy", "dead"] } ] }
            """
        ]
        let events = 200
        try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 503)
        } _: { dead in
            try await Receiver.withReceiver { healthy in
                try await TestRelay.with(
                    rules: rules,
                    environment: ["HEALTHY": healthy.url(path: ""), "DEAD": dead.url(path: "")]
                ) { relay in
                    let started = ContinuousClock.now
                    for index in 0..<events {
                        let text = String(decoding: try Fixtures.bytes("minio/put-zero-size.json"), as: UTF8.self)
                            .replacingOccurrences(of: "empty.marker", with: "key-\(index)")
                        #expect(try await relay.post(Array(text.utf8)).status == 200)
                    }
                    _ = try await healthy.waitForRequests(count: events, path: "/ok", timeout: .seconds(20))
                    let healthyDone = ContinuousClock.now - started
                    try await Task.sleep(for: .seconds(2))
                    let deadAttempts = dead.requests(path: "/down").count
                    // Without a breaker: 200 events retried every 10–50 ms for 2+ s would be thousands of attempts.
                    #expect(deadAttempts < 60, "the dead target saw \(deadAttempts) attempts")
                    // A loose bound (about 4 s alone; tests share 2 cores with each other): the latency figures are
                    // measured by Benchmarks/isolation.py, not here.
                    #expect(healthyDone < .seconds(30), "healthy deliveries took \(healthyDone)")
                    #expect(try relay.deadLetters().isEmpty, "held-back deliveries do not burn their attempts")
                }
            }
        }
    }
}
