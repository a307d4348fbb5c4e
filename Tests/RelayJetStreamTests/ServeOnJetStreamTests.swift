import Foundation
import RelayCore
import RelayDelivery
import RelayTestSupport
import Synchronization
import Testing

/// `bucket-relay serve --jetstream`, the real binary, two relays on one real nats-server: events posted to either are
/// delivered, and 20 concurrent identical POSTs spread over both relays give one delivery per target.
@Suite(.timeLimit(.minutes(2)))
struct ServeOnJetStreamTests {
    @Test func twoRelaysOnOneStreamAbsorbResendsClusterWide() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                let root = "/tmp/relay-serve-js-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: root) }
                let rules = root + "/rules.json"
                try Data(
                    """
                    { "targets": { "a": { "url": "\(receiver.url(path: "/a"))" },
                                   "b": { "url": "\(receiver.url(path: "/b"))" } },
                      "rules": [ { "name": "all", "match": {}, "to": ["a", "b"] } ] }
                    """.utf8
                ).write(to: URL(fileURLWithPath: rules))
                let arguments = [
                    "serve", "--rules", rules, "--jetstream", nats.url, "--host", "127.0.0.1", "--port", "0",
                ]
                let first = try RelayProcess.start(arguments)
                defer { first.kill() }
                let second = try RelayProcess.start(arguments)
                defer { second.kill() }
                let ports = [try await first.waitForPort(), try await second.waitForPort()]
                #expect(first.text.contains("delivery_log=jetstream"), "\(first.text)")

                let body = try Self.fixture("minio/put-image.json")
                let answers = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<20 {
                        let port = ports[index % 2]
                        group.addTask {
                            let answer = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body)
                            return "\(answer.status) " + String(decoding: answer.body, as: UTF8.self)
                        }
                    }
                    var all: [String] = []
                    for try await answer in group { all.append(answer) }
                    return all
                }
                #expect(answers.allSatisfy { $0.hasPrefix("200 ") }, "\(answers)")
                #expect(answers.filter { $0.contains(#""status":"accepted""#) }.count == 1, "\(answers)")
                _ = try await receiver.waitForRequests(count: 1, path: "/a", timeout: .seconds(20))
                _ = try await receiver.waitForRequests(count: 1, path: "/b", timeout: .seconds(20))
                try await Task.sleep(for: .seconds(1))
                #expect(
                    receiver.requests(path: "/a").count == 1,
                    "\(receiver.requests(path: "/a").map { ($0.header("webhook-id") ?? "-", $0.header("X-Relay-Attempt") ?? "-") })"
                )
                #expect(receiver.requests(path: "/b").count == 1)

                // Distinct events through both relays: every one reaches both targets.
                for index in 0..<40 {
                    let event = Array(
                        """
                        {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
                        "s3":{"bucket":{"name":"photos"},"object":{"key":"js/\(index).txt","size":1}}}]}
                        """.utf8
                    )
                    let answer = try await TestHTTP.post("http://127.0.0.1:\(ports[index % 2])/", body: event)
                    #expect(answer.status == 200)
                }
                _ = try await receiver.waitForRequests(count: 41, path: "/a", timeout: .seconds(30))
                _ = try await receiver.waitForRequests(count: 41, path: "/b", timeout: .seconds(30))
                let ready = try await TestHTTP.get("http://127.0.0.1:\(ports[0])/readyz")
                #expect(ready.status == 200)
            }
        }
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        guard let data = FileManager.default.contents(atPath: here.path + "/Fixtures/" + name) else {
            throw ReceiverError("fixture \(name) not found")
        }
        return [UInt8](data)
    }
}
