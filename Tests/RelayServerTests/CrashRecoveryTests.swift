import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

/// A 2xx is a promise across crashes: kill -9 after the answer, restart on the same data dir, the event arrives.
@Suite(.timeLimit(.minutes(2)))
struct CrashRecoveryTests {
    @Test func eventAckedWhileTargetWasDownIsDeliveredAfterKill9AndRestart() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rules = root + "/rules.json"
        let data = root + "/data"
        let targetUp = Mutex(false)
        let body = try Fixtures.bytes("minio/put-special-key.json")
        try await Receiver.withReceiver { _, _ in
            targetUp.withLock { $0 } ? ReceiverResponse(status: 204) : ReceiverResponse(status: 503)
        } _: { receiver in
            let text = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))", "timeout": "2s",
                    "retry": { "attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "200ms" } } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: rules))
            let arguments = ["serve", "--rules", rules, "--data-dir", data, "--host", "127.0.0.1", "--port", "0"]

            let first = try RelayProcess.start(arguments)
            defer { first.kill() }
            let port = try await first.waitForPort()
            let answer = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body)
            #expect(answer.status == 200)
            // The target is down: the relay is retrying when it dies.
            let failed = try await receiver.waitForRequests(count: 2, path: "/hook")
            let deliveryID = failed[0].header("webhook-id")
            #expect(deliveryID != nil)
            first.kill()
            #expect(first.process.terminationReason == .uncaughtSignal)

            let second = try RelayProcess.start(arguments)
            defer { second.kill() }
            _ = try await second.waitForPort()
            let before = receiver.requests(path: "/hook").count
            targetUp.withLock { $0 = true }
            let deadline = ContinuousClock.now + .seconds(20)
            var delivered: RecordedRequest?
            while delivered == nil && ContinuousClock.now < deadline {
                delivered = receiver.requests(path: "/hook").dropFirst(before).first
                try await Task.sleep(for: .milliseconds(20))
            }
            let request = try #require(delivered, "the acked event was not delivered after the restart")
            #expect(request.body == body)
            #expect(request.header("webhook-id") == deliveryID, "the same delivery id across the crash")
            second.signal(SIGTERM)
            #expect(try await second.waitForExit(timeout: .seconds(15)) == 0)
        }
    }
}
