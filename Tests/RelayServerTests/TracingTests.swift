import Foundation
import RelayCore
import RelayDelivery
import RelayServer
import RelayTestSupport
import Synchronization
import Testing

/// Traces (docs/operations.md, "Tracing"): one trace per event, continued from the sender's `traceparent`; spans
/// receive → spool → attempt exported over OTLP/HTTP with `--otlp-endpoint`; every attempt hands the target a
/// `traceparent` of the event's trace whose parent is that attempt.
@Suite(.timeLimit(.minutes(2)))
struct TracingTests {
    static let incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let incomingParentID = "00f067aa0ba902b7"
    static let incoming = "00-\(incomingTraceID)-\(incomingParentID)-01"

    /// A MinIO-style record for `key` with no resend identity (each one a new event).
    static func event(key: String) -> [UInt8] {
        Array(
            """
            {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
            "eventTime":"2026-11-25T10:00:00.000Z","s3":{"bucket":{"name":"photos"},\
            "object":{"key":"\(key)","size":12}}}]}
            """.utf8
        )
    }

    /// Targets `hook` (answers 200) for keys under `a/` and `flaky` (503 to its first request, then 200) for `b/`.
    static func rules(_ targets: Receiver, hookHeaders: String = "{}") -> String {
        """
        { "targets": {
            "hook": { "url": "\(targets.url(path: "/hook"))", "headers": \(hookHeaders) },
            "flaky": { "url": "\(targets.url(path: "/flaky"))",
                "retry": { "attempts": 5, "initialBackoff": "50ms", "maxBackoff": "100ms" } } },
          "rules": [ { "name": "a", "match": { "prefix": ["a/"] }, "to": ["hook"] },
                     { "name": "b", "match": { "prefix": ["b/"] }, "to": ["flaky"] } ] }
        """
    }

    static let targetResponder: Receiver.Responder = { request, index in
        request.path == "/flaky" && index == 0 ? ReceiverResponse(status: 503) : .ok
    }

    static func request(_ requests: [RecordedRequest], key: String) throws -> RecordedRequest {
        try #require(requests.first { $0.bodyText.contains("\"\(key)\"") }, "no delivery of \(key)")
    }

    @Test func spansOfEachEventReachTheCollectorAndTheTargetsGetTheAttemptsTraceparent() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Receiver.withReceiver(responder: OTLPCollector.responder) { collector in
            try await Receiver.withReceiver(responder: Self.targetResponder) { targets in
                try Data(Self.rules(targets).utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
                let relay = try RelayProcess.start(
                    [
                        "serve", "--rules", root + "/rules.json", "--data-dir", root + "/data", "--host", "127.0.0.1",
                        "--port", "0", "--otlp-endpoint", collector.url(),
                    ],
                    // Short batches, so the test need not wait the default 5 s for the spans.
                    environment: ["OTEL_BSP_SCHEDULE_DELAY": "50"]
                )
                defer { relay.kill() }
                let port = try await relay.waitForPort()
                let url = "http://127.0.0.1:\(port)/minio-event"
                let first = try await TestHTTP.post(
                    url,
                    body: Self.event(key: "a/continued"),
                    headers: [(name: "traceparent", value: Self.incoming)]
                )
                let second = try await TestHTTP.post(url, body: Self.event(key: "a/new"))
                let third = try await TestHTTP.post(url, body: Self.event(key: "b/retried"))
                #expect([first.status, second.status, third.status] == [Int](repeating: 200, count: 3))
                let hook = try await targets.waitForRequests(count: 2, path: "/hook")
                let flaky = try await targets.waitForRequests(count: 2, path: "/flaky")

                let spans = try await OTLPCollector.waitForSpans(collector) { spans in
                    spans.filter { $0.name == "attempt" }.count >= 4 && spans.filter { $0.name == "spool" }.count >= 3
                        && spans.filter { $0.name == "receive" }.count >= 3
                }
                #expect(spans.allSatisfy { $0.serviceName == "bucket-relay" })
                let traces = Dictionary(grouping: spans, by: \.traceID)
                #expect(traces.count == 3, "one trace per event: \(spans)")
                #expect(traces[Self.incomingTraceID] != nil, "the sender's trace is continued")

                // Each delivered request names its trace and, as parent, the attempt span that sent it.
                let deliveries: [(key: String, requests: [RecordedRequest])] = [
                    ("a/continued", [try Self.request(hook, key: "a/continued")]),
                    ("a/new", [try Self.request(hook, key: "a/new")]),
                    ("b/retried", Array(flaky.prefix(2))),
                ]
                for (key, requests) in deliveries {
                    let headers = requests.map { $0.header("traceparent") ?? "" }
                    let parsed = try headers.map { try #require(TraceParent(header: $0), "\(key): \($0)") }
                    let traceID = try #require(parsed.first?.traceIDHex)
                    #expect(parsed.allSatisfy { $0.traceIDHex == traceID }, "\(key): all attempts in one trace")
                    #expect(requests.allSatisfy { $0.headers(named: "traceparent").count == 1 })
                    let trace = try #require(traces[traceID], "\(key): the target's trace \(traceID) was exported")

                    let receive = try #require(trace.first { $0.name == "receive" }, "\(key): a receive span")
                    #expect(trace.filter { $0.name == "receive" }.count == 1)
                    #expect(receive.attributes["event.key"] == key)
                    #expect(receive.attributes["event.bucket"] == "photos")
                    #expect(receive.attributes["event.name"] == "s3:ObjectCreated:Put")
                    #expect(receive.attributes["event.records"] == "1")
                    #expect(receive.attributes["http.response.status_code"] == "200")
                    if key == "a/continued" {
                        #expect(traceID == Self.incomingTraceID)
                        #expect(receive.parentSpanID == Self.incomingParentID, "the sender's span is the parent")
                    } else {
                        #expect(receive.parentSpanID.isEmpty, "a new trace starts at receive")
                    }

                    let spools = trace.filter { $0.name == "spool" }
                    #expect(spools.count == 1, "\(key): one spool span")
                    let spool = try #require(spools.first)
                    #expect(spool.parentSpanID == receive.spanID)
                    #expect(spool.attributes["delivery.count"] == "1")

                    let attempts = trace.filter { $0.name == "attempt" }.sorted {
                        ($0.attributes["delivery.attempt"] ?? "") < ($1.attributes["delivery.attempt"] ?? "")
                    }
                    #expect(attempts.count == requests.count, "\(key): one attempt span per attempt")
                    #expect(attempts.allSatisfy { $0.parentSpanID == spool.spanID }, "attempts are the spool's")
                    #expect(Set(parsed.map(\.parentIDHex)) == Set(attempts.map(\.spanID)), "sent by its attempt")
                    #expect(attempts.map { $0.attributes["delivery.attempt"] } == (1...requests.count).map { "\($0)" })
                    #expect(
                        attempts.allSatisfy { $0.attributes["delivery.id"] == requests[0].header("webhook-id") }
                    )
                    if key == "b/retried" {
                        #expect(attempts.map { $0.attributes["delivery.outcome"] } == ["retry", "delivered"])
                        #expect(attempts.map { $0.attributes["http.response.status_code"] } == ["503", "200"])
                        #expect(attempts.allSatisfy { $0.attributes["target.name"] == "flaky" })
                        #expect(attempts.first?.attributes["error"] == "HTTP 503")
                    } else {
                        #expect(attempts.map { $0.attributes["delivery.outcome"] } == ["delivered"])
                        #expect(attempts.allSatisfy { $0.attributes["target.name"] == "hook" })
                        #expect(attempts.allSatisfy { $0.attributes["rule.name"] == "a" })
                    }
                }
                relay.signal(SIGTERM)
                #expect(try await relay.waitForExit(timeout: .seconds(15)) == 0)
            }
        }
    }

    @Test func withoutAnEndpointTheTargetsStillGetATraceparentOfTheEvent() async throws {
        try await Receiver.withReceiver(responder: Self.targetResponder) { targets in
            // A target's own traceparent header is replaced by the relay's, which names the event.
            let rules = Self.rules(
                targets,
                hookHeaders: #"{ "traceparent": "00-11111111111111111111111111111111-2222222222222222-01" }"#
            )
            try await TestRelay.with(rules: ["rules.json": rules]) { relay in
                #expect(
                    try await relay.post(
                        Self.event(key: "a/continued"),
                        headers: [(name: "traceparent", value: Self.incoming)]
                    ).status == 200
                )
                #expect(try await relay.post(Self.event(key: "b/retried")).status == 200)
                // Invalid values start a new trace; the event is never refused for them.
                let invalid = [
                    "00-00000000000000000000000000000000-\(Self.incomingParentID)-01",
                    "00-\(Self.incomingTraceID)-0000000000000000-01",
                    "00-\(Self.incomingTraceID.uppercased())-\(Self.incomingParentID)-01",
                    "ff-\(Self.incomingTraceID)-\(Self.incomingParentID)-01",
                    "00-\(Self.incomingTraceID)-\(Self.incomingParentID)-01-extra",
                    "garbage",
                ]
                for (index, value) in invalid.enumerated() {
                    let response = try await relay.post(
                        Self.event(key: "a/invalid-\(index)"),
                        headers: [(name: "traceparent", value: value)]
                    )
                    #expect(response.status == 200, "\(value)")
                }
                let hook = try await targets.waitForRequests(count: 1 + invalid.count, path: "/hook")
                let flaky = try await targets.waitForRequests(count: 2, path: "/flaky")

                let continued = try Self.request(hook, key: "a/continued")
                #expect(continued.headers(named: "traceparent").count == 1, "the target's own value is replaced")
                let sent = try #require(TraceParent(header: continued.header("traceparent") ?? ""))
                #expect(sent.traceIDHex == Self.incomingTraceID, "the sender's trace goes on to the target")
                #expect(sent.parentIDHex != Self.incomingParentID, "the relay is a hop of its own")
                #expect(sent.flags == 1, "the sender's sampling decision is kept")

                let retried = try flaky.prefix(2).map {
                    try #require(TraceParent(header: $0.header("traceparent") ?? ""))
                }
                #expect(retried[0].traceIDHex == retried[1].traceIDHex, "the attempts of one event share its trace")
                #expect(retried[0].parentIDHex != retried[1].parentIDHex, "each attempt is a span of its own")
                #expect(retried[0].traceIDHex != Self.incomingTraceID)

                var traceIDs: Set<String> = [sent.traceIDHex, retried[0].traceIDHex]
                for index in invalid.indices {
                    let request = try Self.request(hook, key: "a/invalid-\(index)")
                    let value = try #require(TraceParent(header: request.header("traceparent") ?? ""))
                    #expect(value.traceIDHex != Self.incomingTraceID, "\(invalid[index]) is not continued")
                    traceIDs.insert(value.traceIDHex)
                }
                #expect(traceIDs.count == 2 + invalid.count, "one trace per event")
            }
        }
    }

    @Test(arguments: ["ftp://127.0.0.1:4318", "localhost:4318", "http://", "http://127.0.0.1:4318/?a=b"])
    func anEndpointThatIsNotAnHTTPURLIsRefusedAtStart(_ endpoint: String) async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rules = #"{ "targets": { "t": { "url": "http://127.0.0.1:9/" } }, "rules": [] }"#
        try Data(rules.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
        let result = try await RelayProcess.run(
            ["serve", "--rules", root + "/rules.json", "--data-dir", root + "/data", "--port", "0"],
            environment: ["RELAY_OTLP_ENDPOINT": endpoint]
        )
        #expect(result.status != 0)
        #expect(result.output.contains("RELAY_OTLP_ENDPOINT"), "\(result.output)")
        #expect(!result.output.contains("Relay listening"))
    }

    @Test func aDeliveryAttemptedAfterARestartContinuesTheEventsTrace() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let targetUp = Mutex(false)
        try await Receiver.withReceiver { _, _ in
            targetUp.withLock { $0 } ? .ok : ReceiverResponse(status: 503)
        } _: { receiver in
            let text = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))",
                    "retry": { "attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "200ms" } } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
            let arguments = [
                "serve", "--rules", root + "/rules.json", "--data-dir", root + "/data", "--host", "127.0.0.1",
                "--port", "0",
            ]
            let first = try RelayProcess.start(arguments)
            defer { first.kill() }
            let port = try await first.waitForPort()
            let answer = try await TestHTTP.post(
                "http://127.0.0.1:\(port)/minio-event",
                body: Self.event(key: "c/pending"),
                headers: [(name: "traceparent", value: Self.incoming)]
            )
            #expect(answer.status == 200)
            let failed = try await receiver.waitForRequests(count: 1, path: "/hook")
            first.kill()

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
            let request = try #require(delivered, "the pending delivery was not delivered after the restart")
            let sent = try #require(TraceParent(header: request.header("traceparent") ?? ""))
            let earlier = try #require(TraceParent(header: failed[0].header("traceparent") ?? ""))
            #expect(sent.traceIDHex == Self.incomingTraceID, "the trace id survives the restart (the spool holds it)")
            #expect(earlier.traceIDHex == Self.incomingTraceID)
            #expect(sent.parentIDHex != earlier.parentIDHex)
            second.signal(SIGTERM)
            #expect(try await second.waitForExit(timeout: .seconds(15)) == 0)
        }
    }
}
