import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelayTestSupport
import Testing

/// `Ingress.handle(body:source: .stream)`, the path of the events stream's router, on a real in-process relay and
/// SQLite log: the same routing as a webhook; what differs is what nobody can be told.
@Suite(.timeLimit(.minutes(2)))
struct StreamIngressTests {
    static let rules = [
        "rules.json": """
        { "targets": { "hook": { "url": "${BASE}/hook" } },
          "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
        """
    ]

    /// A record with no resend identity of its own (no request id, no sequencer, no eventId).
    static let anonymous = Array(
        """
        {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
        "s3":{"bucket":{"name":"photos"},"object":{"key":"anonymous.txt","size":1}}}]}
        """.utf8
    )

    @Test func routingTheSameStreamMessageAgainAppendsNothingTwice() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let first = await relay.relay.ingress.handle(body: Self.anonymous, source: .stream(sequence: 41))
                #expect(first.status == 200)
                #expect(String(decoding: first.body, as: UTF8.self).contains(#""deliveries":1"#))
                // The same message again (its ack was lost, another relay fetched it): found as a resend.
                let again = await relay.relay.ingress.handle(body: Self.anonymous, source: .stream(sequence: 41))
                #expect(String(decoding: again.body, as: UTF8.self).contains(#""status":"duplicate""#))
                // Another message with the same bytes is another event.
                let other = await relay.relay.ingress.handle(body: Self.anonymous, source: .stream(sequence: 42))
                #expect(String(decoding: other.body, as: UTF8.self).contains(#""deliveries":1"#))
                // By webhook, a record without identity is never taken for a resend (as before).
                for _ in 0..<2 {
                    let webhook = await relay.relay.ingress.handle(body: Self.anonymous)
                    #expect(String(decoding: webhook.body, as: UTF8.self).contains(#""deliveries":1"#))
                }
                _ = try await receiver.waitForRequests(count: 4, path: "/hook", timeout: .seconds(10))
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.requests(path: "/hook").count == 4)
            }
        }
    }

    @Test func aStreamMessageThatIsNotJSONIsDeadLetteredNotRefused() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules, environment: ["BASE": receiver.url(path: "")]) { relay in
                let answer = await relay.relay.ingress.handle(
                    body: Array("{not json".utf8),
                    source: .stream(sequence: 1)
                )
                #expect(answer.status == 200)
                let letters = try relay.deadLetters()
                #expect(letters.count == 1)
                #expect(letters.first?.reason == .undecodable)
                #expect(letters.first?.field == "$")
                #expect(letters.first?.detail?.hasPrefix("not JSON") == true)
                #expect(letters.first?.payload == "{not json")
                // The same bytes by webhook are still refused with 400 (the sender keeps them).
                let webhook = await relay.relay.ingress.handle(body: Array("{not json".utf8))
                #expect(webhook.status == 400)
                #expect(try relay.deadLetters().count == 1)
            }
        }
    }
}
