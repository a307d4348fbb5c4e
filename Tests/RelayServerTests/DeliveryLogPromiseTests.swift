import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

/// The promises that rest on the delivery log, end to end on the real server: resends absorbed under concurrency and
/// across restarts, attempts kept while a target's circuit is open, replay beside a running `serve`.
@Suite(.timeLimit(.minutes(3)))
struct DeliveryLogPromiseTests {
    static func twoTargets(_ base: String) -> [String: String] {
        [
            "rules.json": """
            {
              "targets": {
                "a": { "url": "\(base)/a", "retry": { "attempts": 5, "initialBackoff": "20ms" } },
                "b": { "url": "\(base)/b", "retry": { "attempts": 5, "initialBackoff": "20ms" } }
              },
              "rules": [ { "name": "all", "match": {}, "to": ["a", "b"] } ]
            }
            """
        ]
    }

    @Test func twentyConcurrentIdenticalPostsGiveOneDeliveryPerTargetAndARestartStillKnowsTheResend() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try await Receiver.withReceiver { receiver in
            let rules = Self.twoTargets(receiver.url(path: ""))
            try await TestRelay.with(rules: rules, dataDirectory: data) { relay in
                let answers = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 {
                        group.addTask { try await relay.post(body).body }
                    }
                    var all: [String] = []
                    for try await answer in group { all.append(answer) }
                    return all
                }
                #expect(answers.filter { $0.contains(#""status":"accepted""#) }.count == 1, "\(answers)")
                #expect(answers.filter { $0.contains(#""status":"duplicate""#) }.count == 19)
                _ = try await receiver.waitForRequests(count: 1, path: "/a")
                _ = try await receiver.waitForRequests(count: 1, path: "/b")
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.requests(path: "/a").count == 1)
                #expect(receiver.requests(path: "/b").count == 1)
            }
            // A new process on the same data directory: the resend is still recognised.
            try await TestRelay.with(rules: rules, dataDirectory: data) { relay in
                let again = try await relay.post(body)
                #expect(again.status == 200)
                #expect(again.body.contains(#""status":"duplicate""#), "\(again.body)")
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.requests.count == 2, "nothing delivered after the restart")
            }
        }
    }

    /// One event to a target that answers 503 for 20 s, then refuses connections for 20 s, then is back, with
    /// `attempts: 6` and `initialBackoff: 100ms`: delivered, no dead letter. The first five failures open the
    /// circuit; the probes that fail after that use no attempt.
    @Test(.timeLimit(.minutes(2)))
    func aTargetDownFortySecondsLosesNothingWhileItsCircuitIsOpen() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        let attemptsSeen = Mutex(0)
        // Phase 1: a receiver that answers 503; its port is the target's.
        try await Receiver.withReceiver { _, _ in
            attemptsSeen.withLock { $0 += 1 }
            return ReceiverResponse(status: 503)
        } _: { failing in
            let port = failing.port
            let rules = [
                "rules.json": """
                {
                  "targets": {
                    "hook": { "url": "http://127.0.0.1:\(port)/hook", "timeout": "1s",
                              "retry": { "attempts": 6, "initialBackoff": "100ms", "maxBackoff": "1s" } }
                  },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ]
                }
                """
            ]
            try await TestRelay.configured(
                rules: rules,
                { configuration in
                    // Probe often, so that the test ends soon after the target is back; the promise is about counting.
                    configuration.circuitBreaker.maxProbeInterval = .seconds(2)
                }
            ) { relay in
                #expect(try await relay.post(body).status == 200)
                try await Task.sleep(for: .seconds(20))
                let during503 = attemptsSeen.withLock { $0 }
                #expect(during503 >= 6, "the first five attempts and some probes reached the target")
                #expect(try relay.deadLetters().isEmpty, "no dead letter while answering 503")
                // Phase 2 is the failing receiver gone: nothing listens on its port (connection refused).
                try await failing.stopListening()
                try await Task.sleep(for: .seconds(20))
                #expect(try relay.deadLetters().isEmpty, "no dead letter while refusing connections")
                #expect(relay.relay.log.totals.pendingCount == 1)
                // Phase 3: the target is back on the same port.
                try await Receiver.withReceiver(port: port) { _, _ in
                    ReceiverResponse(status: 204)
                } _: { back in
                    let delivered = try await back.waitForRequests(count: 1, path: "/hook", timeout: .seconds(15))
                    #expect(delivered.first?.body == body)
                    try await relay.waitForEmptySpool()
                }
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    @Test func aGracefulStopClosesTheDeliveryLog() async throws {
        let relay = try await TestRelay.with(rules: Self.twoTargets("http://127.0.0.1:1")) { relay in
            #expect(await relay.relay.log.isWritable())
            return relay.relay
        }
        // The service group stopped every service, the delivery log last: its files are closed.
        #expect(await relay.log.isWritable() == false)
        await #expect(throws: DeliveryLogError.self) {
            try await relay.log.deadLetter([DeadLetter(time: "t", reason: .undecodable, payload: "{}")])
        }
    }

    /// A restart while a target's circuit is open keeps the deliveries' attempts: the target is not believed healthy
    /// at start, so its first attempt is a probe.
    @Test func aRestartWhileTheCircuitIsOpenUsesUpNoAttempt() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 503)
        } _: { down in
            let rules = [
                "rules.json": """
                {
                  "targets": {
                    "down": { "url": "\(down.url(path: "/down"))", "timeout": "1s",
                              "retry": { "attempts": 6, "initialBackoff": "50ms", "maxBackoff": "100ms" } }
                  },
                  "rules": [ { "name": "all", "match": {}, "to": ["down"] } ]
                }
                """
            ]
            try await TestRelay.with(rules: rules, dataDirectory: data) { relay in
                // One event: its first five attempts fail while the target is believed healthy (five counted, one
                // left), the fifth opens the circuit, the probes after it count none.
                let answer = try await relay.post(ReplayBesideServeTests.event(key: "restart/1.txt"))
                #expect(answer.status == 200)
                _ = try await down.waitForRequests(count: 6, path: "/down", timeout: .seconds(20))
                #expect(try relay.deadLetters().isEmpty, "the open circuit keeps the delivery")
            }
            // The target is still down after the restart.
            try await TestRelay.with(rules: rules, dataDirectory: data) { relay in
                try await Task.sleep(for: .seconds(3))
                #expect(try relay.deadLetters().isEmpty, "a restart used up no attempt")
                #expect(down.requests(path: "/down").count >= 7, "attempted again after the restart")
                #expect(relay.relay.log.totals.pendingCount == 1)
            }
        }
    }
}
