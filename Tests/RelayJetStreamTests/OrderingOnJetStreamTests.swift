import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// `ordering: "key"` on the JetStream delivery log, which does not keep it (docs/delivery.md, "Ordering"): the real
/// binary says so at start, for that target only, and still delivers.
@Suite(.timeLimit(.minutes(2)))
struct OrderingOnJetStreamTests {
    @Test func serveWarnsAtStartThatTheOrderingIsNotKeptAndStillDelivers() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                let root = "/tmp/relay-ordering-js-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: root) }
                let rules = root + "/rules.json"
                try Data(
                    """
                    { "targets": { "ordered": { "url": "\(receiver.url(path: "/ordered"))", "ordering": "key" },
                                   "plain": { "url": "\(receiver.url(path: "/plain"))" } },
                      "rules": [ { "name": "all", "match": {}, "to": ["ordered", "plain"] } ] }
                    """.utf8
                ).write(to: URL(fileURLWithPath: rules))
                let relay = try RelayProcess.start([
                    "serve", "--rules", rules, "--jetstream", nats.url, "--host", "127.0.0.1", "--port", "0",
                ])
                defer { relay.kill() }
                let port = try await relay.waitForPort()
                let warnings = relay.text.split(separator: "\n").filter {
                    $0.contains("Target asks for ordering by key, which this delivery log does not keep")
                }
                #expect(warnings.count == 1, "\(relay.text)")
                #expect(warnings.first?.contains("target.name=ordered") == true, "\(relay.text)")
                #expect(warnings.first?.contains("warning") == true, "\(relay.text)")
                let event = Array(
                    """
                    {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
                    "s3":{"bucket":{"name":"photos"},"object":{"key":"a.txt","size":1,"sequencer":"0A"}}}]}
                    """.utf8
                )
                let answer = try await TestHTTP.post("http://127.0.0.1:\(port)/", body: event)
                #expect(answer.status == 200)
                _ = try await receiver.waitForRequests(count: 1, path: "/ordered", timeout: .seconds(20))
                _ = try await receiver.waitForRequests(count: 1, path: "/plain", timeout: .seconds(20))
            }
        }
    }
}
