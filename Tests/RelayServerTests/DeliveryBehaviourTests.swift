import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// Retries, dead letters and delivery ids, end to end through libcurl to real receivers.
@Suite(.timeLimit(.minutes(2)))
struct DeliveryBehaviourTests {
    static func rules(url: String, attempts: Int = 5) -> [String: String] {
        [
            "rules.json": """
            {
              "targets": {
                "hook": { "url": "\(url)", "timeout": "2s",
                          "retry": { "attempts": \(attempts), "initialBackoff": "20ms", "maxBackoff": "100ms" } }
              },
              "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ]
            }
            """
        ]
    }

    @Test func retriesTwo503sThenDeliversOnceWithOneDeliveryID() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { _, index in
            index < 2 ? ReceiverResponse(status: 503) : ReceiverResponse(status: 200)
        } _: { receiver in
            try await TestRelay.with(rules: Self.rules(url: receiver.url(path: "/hook"))) { relay in
                #expect(try await relay.post(body).status == 200)
                let requests = try await receiver.waitForRequests(count: 3, path: "/hook")
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(300))
                let all = receiver.requests(path: "/hook")
                #expect(all.count == 3, "exactly three attempts, the third delivered")
                let ids = Set(requests.compactMap { $0.header("webhook-id") })
                #expect(ids.count == 1, "one delivery id across attempts")
                #expect(requests.map { $0.header("X-Relay-Attempt") } == ["1", "2", "3"])
                #expect(requests.allSatisfy { $0.body == body })
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    @Test func a400IsDeadLetteredAfterOneAttempt() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 400)
        } _: { receiver in
            try await TestRelay.with(rules: Self.rules(url: receiver.url(path: "/hook"))) { relay in
                #expect(try await relay.post(body).status == 200)
                let letters = try await relay.waitForDeadLetters(count: 1)
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(200))
                #expect(receiver.requests(path: "/hook").count == 1)
                #expect(letters.count == 1)
                let letter = try #require(letters.first)
                #expect(letter.reason == .rejected)
                #expect(letter.lastStatus == 400)
                #expect(letter.attempts == 1)
                #expect(letter.target == "hook")
                #expect(letter.rule == "all")
                #expect(letter.url == receiver.url(path: "/hook"))
                #expect(Array(letter.payload.utf8) == body, "the exact payload that was sent")
                #expect(letter.deliveryID == receiver.requests(path: "/hook").first?.header("webhook-id"))
            }
        }
    }

    @Test func anUnreachableTargetExhaustsItsAttemptsWithTheConnectionError() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        // Port 1 on loopback: nothing listens there, connections are refused.
        try await TestRelay.with(rules: Self.rules(url: "http://127.0.0.1:1/hook", attempts: 3)) { relay in
            #expect(try await relay.post(body).status == 200)
            let letters = try await relay.waitForDeadLetters(count: 1)
            let letter = try #require(letters.first)
            #expect(letter.reason == .exhausted)
            #expect(letter.attempts == 3)
            #expect(letter.lastStatus == nil)
            let error = letter.lastError ?? ""
            #expect(error.lowercased().contains("connect"), "last error names the connection failure: \(error)")
            try await relay.waitForEmptySpool()
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { _, index in
            index == 0 ? ReceiverResponse(status: 429, headers: [("Retry-After", "1")]) : ReceiverResponse(status: 204)
        } _: { receiver in
            try await TestRelay.with(rules: Self.rules(url: receiver.url(path: "/hook"))) { relay in
                #expect(try await relay.post(body).status == 200)
                let requests = try await receiver.waitForRequests(count: 2, path: "/hook", timeout: .seconds(10))
                let gap = requests[1].arrival - requests[0].arrival
                #expect(gap >= .milliseconds(950), "waited \(gap), Retry-After said 1 s")
                try await relay.waitForEmptySpool()
            }
        }
    }
}
