import Foundation
import RelayDelivery
import RelayJetStream
import RelayTestSupport
import Synchronization
import Testing

/// MinIO straight into the stream: bodies published on `minio.events` (as MinIO's `notify_nats` target does with
/// `jetstream` on) are routed by the real `bucket-relay serve --jetstream` through the shared `router` consumer of
/// `RELAY_EVENTS`, on a real nats-server, to real receivers.
@Suite(.timeLimit(.minutes(3)))
struct EventStreamRoutingTests {
    /// Two targets: `a` takes `.jpg` keys, `b` takes `.pdf` keys; each at `<receiver>/<name>`.
    /// Target timeouts are generous: a loaded machine can keep a loopback receiver from answering for seconds, and
    /// `a` gets one attempt, so a timeout would dead-letter it as `exhausted` rather than as what a test expects.
    static func rules(in root: String, receiver: Receiver) throws -> String {
        let path = root + "/rules.json"
        try Data(
            """
            { "targets": { "a": { "url": "\(receiver.url(path: "/a"))", "timeout": "10s",
                                  "retry": { "attempts": 1 } },
                           "b": { "url": "\(receiver.url(path: "/b"))", "timeout": "10s" } },
              "rules": [ { "name": "images", "match": { "suffix": [".jpg"] }, "to": ["a"] },
                         { "name": "documents", "match": { "suffix": [".pdf"] }, "to": ["b"] } ] }
            """.utf8
        ).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func withRoot<T>(_ body: (String) async throws -> T) async throws -> T {
        let root = "/tmp/relay-events-js-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try await body(root)
    }

    static func serve(_ rules: String, _ nats: NATSServer, extra: [String] = []) throws -> RelayProcess {
        try RelayProcess.start(
            ["serve", "--rules", rules, "--jetstream", nats.url, "--host", "127.0.0.1", "--port", "0"] + extra
        )
    }

    /// A publisher on the events stream the relay created (it creates or changes nothing itself).
    static func publisher(_ nats: NATSServer) async throws -> JetStreamEventStream {
        var configuration = JetStreamConfiguration(servers: [nats.url])
        configuration.createsStreams = false
        return try await JetStreamEventStream.open(configuration)
    }

    /// A MinIO-style event for `key` with its own request id and sequencer (its resend identity).
    static func event(key: String, sequencer: String) -> [UInt8] {
        Array(
            """
            {"EventName":"s3:ObjectCreated:Put","Key":"photos/\(key)","Records":[{"eventVersion":"2.0",\
            "eventSource":"minio:s3","eventTime":"2026-01-12T17:58:12.011Z","eventName":"s3:ObjectCreated:Put",\
            "responseElements":{"x-amz-request-id":"REQ\(sequencer)"},\
            "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"photos"},\
            "object":{"key":"\(key)","size":12,"sequencer":"\(sequencer)"}}}]}
            """.utf8
        )
    }

    /// The value of `name` (a full series name with labels) in the relay's `/metrics`; 0 when absent.
    static func metric(_ port: Int, _ name: String) async throws -> Double {
        let answer = try await TestHTTP.get("http://127.0.0.1:\(port)/metrics")
        let text = String(decoding: answer.body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    @Test(arguments: [
        (["--jetstream", "nats://127.0.0.1:1", "--jetstream-subject", "minio.*"], "wildcards"),
        (["--jetstream", "nats://127.0.0.1:1", "--jetstream-subject", "relay.events"], "the relay's own streams"),
        (["--jetstream", "nats://127.0.0.1:1", "--jetstream-subject", "minio..events"], "empty token"),
        (["--jetstream-subject", "minio.events"], "need --jetstream"),
        (["--instance", "two words"], "is not a name"),
    ])
    func refusesABadSubjectOrInstanceName(arguments: [String], message: String) async throws {
        let result = try await RelayProcess.run(["serve", "--rules", "/nonexistent/rules.json"] + arguments)
        #expect(result.status != 0)
        #expect(result.output.contains(message), "\(result.output)")
    }

    @Test func aMinioBodyPublishedToTheStreamReachesItsMatchedTargetsOnce() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                try await Self.withRoot { root in
                    let relay = try Self.serve(try Self.rules(in: root, receiver: receiver), nats)
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    #expect(relay.text.contains("Router started"), "\(relay.text)")
                    let stream = try await Self.publisher(nats)
                    defer { Task { await stream.close() } }
                    // The exact bytes of a MinIO webhook body: only `a` (.jpg) matches.
                    try await stream.publish(try ServeOnJetStreamTests.fixture("minio/put-image.json"))
                    let delivered = try await receiver.waitForRequests(count: 1, path: "/a", timeout: .seconds(20))
                    #expect(
                        String(decoding: delivered[0].body, as: UTF8.self).contains("cat.jpg"),
                        "the target gets the event's bytes"
                    )
                    try await Task.sleep(for: .seconds(1))
                    #expect(receiver.requests(path: "/a").count == 1)
                    #expect(receiver.requests(path: "/b").isEmpty, "b's rule does not match a .jpg")
                    #expect(try await Self.metric(port, #"relay_events_routed_total{source="stream"}"#) == 1)
                    #expect(try await Self.metric(port, #"relay_events_routed_total{source="webhook"}"#) == 0)
                    var left = await stream.routerPending()
                    let drained = ContinuousClock.now + .seconds(10)
                    while left != .init(pending: 0, ackPending: 0), ContinuousClock.now < drained {
                        try await Task.sleep(for: .milliseconds(50))
                        left = await stream.routerPending()
                    }
                    #expect(left == .init(pending: 0, ackPending: 0), "the event was acked")
                    relay.signal(SIGTERM)
                    #expect(try await relay.waitForExit(timeout: .seconds(20)) == 0)
                    #expect(relay.text.contains("Router stopped"), "\(relay.text)")
                }
            }
        }
    }

    @Test func theSameEventByStreamTwiceAndByWebhookIsDeliveredOncePerTarget() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                try await Self.withRoot { root in
                    let relay = try Self.serve(try Self.rules(in: root, receiver: receiver), nats)
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    let stream = try await Self.publisher(nats)
                    defer { Task { await stream.close() } }
                    let jpg = Self.event(key: "twice/cat.jpg", sequencer: "17A0000000000001")
                    let pdf = Self.event(key: "twice/doc.pdf", sequencer: "17A0000000000002")
                    // Twice with the same Nats-Msg-Id: JetStream drops the second.
                    let first = try await stream.publish(jpg, messageID: "minio-1")
                    let second = try await stream.publish(jpg, messageID: "minio-1")
                    #expect(!first.duplicate)
                    #expect(second.duplicate && second.sequence == first.sequence)
                    // Once more without an id (JetStream stores it), and by webhook: the relay's resend identity.
                    try await stream.publish(jpg)
                    let answer = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: jpg)
                    #expect(answer.status == 200)
                    // The other target's event, by webhook first, then by the stream.
                    _ = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: pdf)
                    try await stream.publish(pdf, messageID: "minio-2")
                    _ = try await receiver.waitForRequests(count: 1, path: "/a", timeout: .seconds(20))
                    _ = try await receiver.waitForRequests(count: 1, path: "/b", timeout: .seconds(20))
                    // Every copy routed (or found a duplicate) before counting.
                    let deadline = ContinuousClock.now + .seconds(20)
                    while ContinuousClock.now < deadline {
                        if let left = await stream.routerPending(), left.pending == 0, left.ackPending == 0 { break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await Task.sleep(for: .seconds(1))
                    #expect(receiver.requests(path: "/a").count == 1, "\(receiver.requests(path: "/a").count)")
                    #expect(receiver.requests(path: "/b").count == 1, "\(receiver.requests(path: "/b").count)")
                    #expect(try await Self.metric(port, #"relay_records_total{outcome="duplicate"}"#) >= 2)
                }
            }
        }
    }

    @Test func anUndecodableMessageIsDeadLetteredWithItsReasonAndAcked() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                try await Self.withRoot { root in
                    let relay = try Self.serve(
                        try Self.rules(in: root, receiver: receiver),
                        nats,
                        extra: ["--max-body", "64KiB"]
                    )
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    let stream = try await Self.publisher(nats)
                    defer { Task { await stream.close() } }
                    try await stream.publish(Array(#"{"hello":"world"}"#.utf8))
                    try await stream.publish(Array("not json at all".utf8))
                    // Larger than --max-body: its deliveries could not be stored; kept with its first 64 KiB.
                    let large =
                        Array(#"{"Records":[{"pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 100_000)
                        + Array(#""}]}"#.utf8)
                    try await stream.publish(large)
                    try await stream.publish(Self.event(key: "after/cat.jpg", sequencer: "17A0000000000003"))
                    // The event behind them is routed: nothing stalls behind a poison message.
                    _ = try await receiver.waitForRequests(count: 1, path: "/a", timeout: .seconds(20))
                    var letters: [[String: Any]] = []
                    let deadline = ContinuousClock.now + .seconds(20)
                    while ContinuousClock.now < deadline {
                        let export = try await RelayProcess.run(["dead-letters", "export", "--jetstream", nats.url])
                        #expect(export.status == 0, "\(export.output)")
                        letters = export.output.split(separator: "\n").compactMap {
                            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                        }
                        if letters.count >= 3 { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(letters.count == 3, "\(letters)")
                    #expect(letters.allSatisfy { $0["reason"] as? String == "undecodable" }, "\(letters)")
                    #expect(letters.contains { ($0["payload"] as? String) == #"{"hello":"world"}"# })
                    let notJSON = letters.first { ($0["payload"] as? String) == "not json at all" }
                    #expect(notJSON?["field"] as? String == "$")
                    #expect((notJSON?["detail"] as? String)?.hasPrefix("not JSON") == true, "\(notJSON ?? [:])")
                    #expect(letters.allSatisfy { ($0["detail"] as? String)?.isEmpty == false }, "each has its reason")
                    let oversized = letters.first {
                        ($0["detail"] as? String)?.contains("larger than the largest body") == true
                    }
                    #expect((oversized?["payload"] as? String)?.utf8.count == 64 * 1024, "its first 64 KiB")
                    var left = await stream.routerPending()
                    let drained = ContinuousClock.now + .seconds(10)
                    while left != .init(pending: 0, ackPending: 0), ContinuousClock.now < drained {
                        try await Task.sleep(for: .milliseconds(50))
                        left = await stream.routerPending()
                    }
                    #expect(left == .init(pending: 0, ackPending: 0), "all four acked")
                    #expect(try await Self.metric(port, #"relay_stream_messages_total{outcome="not_json"}"#) == 1)
                }
            }
        }
    }

    @Test func twoRelaysShareTheRouterConsumerAndBothRoute() async throws {
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { receiver in
                try await Self.withRoot { root in
                    let rules = try Self.rules(in: root, receiver: receiver)
                    let first = try Self.serve(rules, nats, extra: ["--instance", "relay-one"])
                    defer { first.kill() }
                    let second = try Self.serve(
                        rules,
                        nats,
                        extra: ["--instance", "relay-two", "--admin-token", "status-secret"]
                    )
                    defer { second.kill() }
                    let ports = [try await first.waitForPort(), try await second.waitForPort()]
                    #expect(first.text.contains("relay=relay-one"), "every line names its relay")
                    #expect(second.text.contains("relay=relay-two"))
                    let stream = try await Self.publisher(nats)
                    defer { Task { await stream.close() } }
                    let events = 300
                    for index in 0..<events {
                        try await stream.publish(
                            Self.event(key: "shared/\(index).jpg", sequencer: "17B\(index)")
                        )
                    }
                    let delivered = try await receiver.waitForRequests(count: events, path: "/a", timeout: .seconds(60))
                    try await Task.sleep(for: .seconds(1))
                    let keys = Set(
                        delivered.compactMap { request -> String? in
                            let text = String(decoding: request.body, as: UTF8.self)
                            return text.range(of: #"shared/\d+\.jpg"#, options: .regularExpression).map {
                                String(text[$0])
                            }
                        }
                    )
                    #expect(keys.count == events, "every event reached its target")
                    #expect(receiver.requests(path: "/a").count == events, "each once")
                    let routed = [
                        try await Self.metric(ports[0], #"relay_events_routed_total{source="stream"}"#),
                        try await Self.metric(ports[1], #"relay_events_routed_total{source="stream"}"#),
                    ]
                    #expect(routed[0] + routed[1] == Double(events), "\(routed)")
                    #expect(routed[0] > 0 && routed[1] > 0, "both relays routed: \(routed)")
                    let status = try await TestHTTP.get(
                        "http://127.0.0.1:\(ports[1])/status",
                        headers: [
                            (name: "Accept", value: "application/json"),
                            (name: "Authorization", value: "Bearer status-secret"),
                        ]
                    )
                    #expect(String(decoding: status.body, as: UTF8.self).contains(#""instance":"relay-two""#))
                }
            }
        }
    }

    @Test func replayOnJetStreamAndExportRoundTrip() async throws {
        let accepting = Flag()
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { _, _ in
                ReceiverResponse(status: accepting.value.load(ordering: .relaxed) ? 204 : 400)
            } _: { receiver in
                try await Self.withRoot { root in
                    let rules = try Self.rules(in: root, receiver: receiver)
                    let relay = try Self.serve(rules, nats, extra: ["--admin-token", "status-secret"])
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    for index in 0..<5 {
                        let body = Self.event(key: "rejected/\(index).jpg", sequencer: "17C000000000000\(index)")
                        #expect(
                            try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body).status == 200
                        )
                    }
                    // 400: dead-lettered at once (reason rejected).
                    var lines: [Substring] = []
                    let deadline = ContinuousClock.now + .seconds(20)
                    while lines.count < 5, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(100))
                        let export = try await RelayProcess.run(["dead-letters", "export", "--jetstream", nats.url])
                        // A slow NATS may fail an export part way ("error: ..." after some lines): try again.
                        if export.status == 0 { lines = export.output.split(separator: "\n") }
                    }
                    #expect(lines.count == 5)
                    #expect(
                        lines.allSatisfy { $0.contains(#""reason":"rejected""#) && $0.contains(#""target":"a""#) },
                        "\(lines)"
                    )
                    let file = root + "/export.jsonl"
                    let toFile = try await RelayProcess.run([
                        "dead-letters", "export", "--jetstream", nats.url, "--output", file,
                    ])
                    #expect(toFile.status == 0, "\(toFile.output)")
                    let written = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                    #expect(written.split(separator: "\n") == lines, "the file holds the same lines")
                    let ids = Set(
                        lines.compactMap { line -> String? in
                            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                            return object?["deliveryID"] as? String
                        }
                    )
                    #expect(ids.count == 5)

                    accepting.value.store(true, ordering: .relaxed)
                    let dry = try await RelayProcess.run([
                        "replay", "--jetstream", nats.url, "--rules", rules, "--target", "a", "--dry-run",
                    ])
                    #expect(dry.output.contains("5 would be sent"), "\(dry.output)")
                    let other = try await RelayProcess.run([
                        "replay", "--jetstream", nats.url, "--rules", rules, "--target", "b",
                    ])
                    #expect(other.output.contains("0 re-queued"), "\(other.output)")
                    let replay = try await RelayProcess.run([
                        "replay", "--jetstream", nats.url, "--rules", rules, "--target", "a",
                    ])
                    #expect(replay.status == 0, "\(replay.output)")
                    #expect(replay.output.contains("replay: 5 re-queued for delivery and removed"), "\(replay.output)")
                    #expect(replay.output.contains("0 left"), "\(replay.output)")
                    // The serving relay delivers them, with the ids the target saw before.
                    let accepted = try await receiver.waitForRequests(count: 10, path: "/a", timeout: .seconds(20))
                    let redelivered = accepted.suffix(5).compactMap { $0.header("webhook-id") }
                    #expect(Set(redelivered) == ids, "same webhook-ids as the dead letters")
                    let after = try await RelayProcess.run(["dead-letters", "export", "--jetstream", nats.url])
                    #expect(after.status == 0)
                    #expect(after.output.isEmpty, "\(after.output)")
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(receiver.requests(path: "/a").count == 10, "each replayed delivery once")

                    // The status page's replay action re-queues on JetStream too.
                    accepting.value.store(false, ordering: .relaxed)
                    let late = Self.event(key: "rejected/late.jpg", sequencer: "17C0000000000009")
                    #expect(try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: late).status == 200)
                    _ = try await receiver.waitForRequests(count: 11, path: "/a", timeout: .seconds(20))
                    var exported = ""
                    let exportDeadline = ContinuousClock.now + .seconds(20)
                    while exported.isEmpty, ContinuousClock.now < exportDeadline {
                        try await Task.sleep(for: .milliseconds(100))
                        exported = try await RelayProcess.run(["dead-letters", "export", "--jetstream", nats.url])
                            .output
                    }
                    #expect(exported.contains("rejected/late.jpg"))
                    accepting.value.store(true, ordering: .relaxed)
                    let action = try await TestHTTP.post(
                        "http://127.0.0.1:\(port)/status/replay?scope=all",
                        body: [],
                        headers: [(name: "Authorization", value: "Bearer status-secret")]
                    )
                    #expect(action.status == 200)
                    #expect(String(decoding: action.body, as: UTF8.self).contains(#""sent":1"#), "\(action.body)")
                    let last = try await receiver.waitForRequests(count: 12, path: "/a", timeout: .seconds(20))
                    #expect(String(decoding: last[11].body, as: UTF8.self).contains("rejected/late.jpg"))
                }
            }
        }
    }

    @Test func anEventTheFullLogRefusesIsGivenBackAndRoutedOnceThereIsRoom() async throws {
        let accepting = Flag()
        try await NATSServer.with { nats in
            try await Receiver.withReceiver { _, _ in
                ReceiverResponse(status: accepting.value.load(ordering: .relaxed) ? 200 : 503)
            } _: { receiver in
                try await Self.withRoot { root in
                    let rules = root + "/rules.json"
                    try Data(
                        """
                        { "targets": { "a": { "url": "\(receiver.url(path: "/a"))", "timeout": "10s",
                            "retry": { "attempts": 1000, "initialBackoff": "200ms", "maxBackoff": "500ms" } } },
                          "rules": [ { "name": "all", "match": {}, "to": ["a"] } ] }
                        """.utf8
                    ).write(to: URL(fileURLWithPath: rules))
                    let relay = try Self.serve(rules, nats, extra: ["--spool-max", "2"])
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    for index in 0..<2 {
                        let body = Self.event(key: "room/\(index).jpg", sequencer: "17F000000000000\(index)")
                        #expect(
                            try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body).status == 200
                        )
                    }
                    // The deliveries stream is full (the target answers 503): the router cannot append this one.
                    let stream = try await Self.publisher(nats)
                    defer { Task { await stream.close() } }
                    try await stream.publish(Self.event(key: "room/late.jpg", sequencer: "17F0000000000009"))
                    let refused = ContinuousClock.now + .seconds(20)
                    var given = 0.0
                    while given < 1, ContinuousClock.now < refused {
                        try await Task.sleep(for: .milliseconds(100))
                        given = try await Self.metric(port, #"relay_stream_messages_total{outcome="unavailable"}"#)
                    }
                    #expect(given >= 1, "the router was refused and gave the event back")
                    let held = await stream.routerPending()
                    #expect((held?.pending ?? 0) + UInt64(max(0, held?.ackPending ?? 0)) == 1, "still in the stream")
                    #expect(relay.text.contains("Router gave an event back"))
                    // Room again: the target answers; the event is routed after its nak delay and delivered once.
                    accepting.value.store(true, ordering: .relaxed)
                    let deadline = ContinuousClock.now + .seconds(60)
                    func late() -> Int {
                        receiver.requests(path: "/a").count {
                            String(decoding: $0.body, as: UTF8.self).contains("room/late.jpg")
                        }
                    }
                    while late() == 0, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    try await Task.sleep(for: .seconds(1))
                    #expect(late() == 1)
                    #expect(try await Self.metric(port, "relay_events_redelivered_total") >= 1)
                    #expect(await stream.routerPending() == .init(pending: 0, ackPending: 0))
                }
            }
        }
    }

    @Test func natsDownFailsReadinessAndIngressAnswers503WithRetryAfter() async throws {
        try await Receiver.withReceiver { receiver in
            try await Self.withRoot { root in
                try await NATSServer.with { nats in
                    let relay = try Self.serve(try Self.rules(in: root, receiver: receiver), nats)
                    defer { relay.kill() }
                    let port = try await relay.waitForPort()
                    #expect(try await TestHTTP.get("http://127.0.0.1:\(port)/readyz").status == 200)
                    await nats.stop()
                    var ready = try await TestHTTP.get("http://127.0.0.1:\(port)/readyz")
                    let deadline = ContinuousClock.now + .seconds(10)
                    while ready.status == 200, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                        ready = try await TestHTTP.get("http://127.0.0.1:\(port)/readyz")
                    }
                    #expect(ready.status == 503)
                    let answer = try await TestHTTP.post(
                        "http://127.0.0.1:\(port)/minio-event",
                        body: Self.event(key: "down/cat.jpg", sequencer: "17D0000000000001")
                    )
                    #expect(answer.status == 503)
                    #expect(answer.header("Retry-After") != nil)
                    #expect(relay.process.isRunning, "NATS away is no reason to stop")
                }
            }
        }
    }

    @Test func aFullDeliveriesStreamAnswers503WithRetryAfter() async throws {
        try await NATSServer.with { nats in
            try await Self.withRoot { root in
                // A target nobody listens on: deliveries stay in the stream.
                let rules = root + "/rules.json"
                try Data(
                    """
                    { "targets": { "a": { "url": "http://127.0.0.1:9/a", "timeout": "1s" } },
                      "rules": [ { "name": "all", "match": {}, "to": ["a"] } ] }
                    """.utf8
                ).write(to: URL(fileURLWithPath: rules))
                let relay = try Self.serve(rules, nats, extra: ["--spool-max", "2"])
                defer { relay.kill() }
                let port = try await relay.waitForPort()
                var statuses: [Int] = []
                var retryAfter: String?
                for index in 0..<3 {
                    let answer = try await TestHTTP.post(
                        "http://127.0.0.1:\(port)/minio-event",
                        body: Self.event(key: "full/\(index).jpg", sequencer: "17E000000000000\(index)")
                    )
                    statuses.append(answer.status)
                    if answer.status == 503 { retryAfter = answer.header("Retry-After") }
                }
                #expect(statuses == [200, 200, 503], "\(statuses)")
                #expect(retryAfter != nil)
                // The target's consumer holds both, cluster-wide: not yet fetched or fetched and unsettled.
                var backlog = 0.0
                let deadline = ContinuousClock.now + .seconds(20)
                while backlog != 2, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(250))
                    backlog =
                        try await Self.metric(port, #"relay_consumer_pending{target="a"}"#)
                        + Self.metric(port, #"relay_consumer_ack_pending{target="a"}"#)
                }
                #expect(backlog == 2)
            }
        }
    }
}

/// A flag a receiver's responder reads and the test sets.
final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
