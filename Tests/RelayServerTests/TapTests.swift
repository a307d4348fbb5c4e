import Foundation
import RelayCore
import RelayDelivery
import RelayTestSupport
import Synchronization
import Testing

@testable import RelayServer

/// `GET /tap` on the real server, read by the real libcurl event-stream client: decisions and outcomes as they
/// happen, filters, the token, the cap on taps, the end of the taps when the relay stops.
@Suite(.timeLimit(.minutes(2)))
struct TapTests {
    static let token = "tap-admin-token-1"

    /// Target `images` (rule `images`: keys ending in `.jpg`) and target `all` (rule `everything`).
    static func rules(_ receiver: Receiver) -> [String: String] {
        [
            "rules.json": """
            {
              "targets": {
                "images": { "url": "\(receiver.url(path: "/images"))" },
                "all": { "url": "\(receiver.url(path: "/all"))" }
              },
              "rules": [
                { "name": "images", "match": { "suffix": [".jpg"] }, "to": ["images"] },
                { "name": "everything", "match": {}, "to": ["all"] }
              ]
            }
            """
        ]
    }

    /// Runs `body` with a relay on `rules` whose admin token is ``token``.
    static func withRelay(_ rules: [String: String], _ body: (TestRelay) async throws -> Void) async throws {
        try await TestRelay.configured(rules: rules, { $0.adminToken = token }, body)
    }

    /// One AWS-style record for `photos/KEY`.
    static func body(key: String, source: String = "aws:s3") -> [UInt8] {
        Array(
            """
            {"Records":[{"eventSource":"\(source)","eventName":"ObjectCreated:Put",\
            "s3":{"bucket":{"name":"photos"},"object":{"key":"\(key)","size":5}}}]}
            """.utf8
        )
    }

    /// A tap connected to `relay`, collecting every event it receives.
    final class TapReader: Sendable {
        let client: EventStreamClient
        private let events = Mutex<[ServerSentEvent]>([])
        private let end = Mutex<EventStreamClient.End?>(nil)

        init(_ relay: TestRelay, query: String = "", token: String? = TapTests.token) {
            let headers = token.map { [(name: "Authorization", value: "Bearer \($0)")] } ?? []
            client = EventStreamClient(url: relay.url("/tap" + query), headers: headers)
            client.start(
                onEvent: { [self] event in self.events.withLock { $0.append(event) } },
                onEnd: { [self] result in self.end.withLock { $0 = result } }
            )
        }

        var all: [ServerSentEvent] { events.withLock { $0 } }
        var ended: EventStreamClient.End? { end.withLock { $0 } }

        func named(_ name: String) -> [[String: Any]] {
            all.filter { $0.name == name }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any]
            }
        }

        /// Waits until `condition` holds (or the time is up), then returns whether it does.
        @discardableResult
        func wait(timeout: Duration = .seconds(15), until condition: (TapReader) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while !condition(self) {
                if ContinuousClock.now > deadline || ended != nil { return condition(self) }
                try await Task.sleep(for: .milliseconds(10))
            }
            return true
        }
    }

    @Test func aTapStartedBeforeAHundredEventsSeesTheirDecisionsThenTheirOutcomesAndFiltersWork() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.configured(rules: Self.rules(receiver), { $0.adminToken = Self.token }) { relay in
                let everything = TapReader(relay)
                let byRule = TapReader(relay, query: "?rule=images")
                let byTarget = TapReader(relay, query: "?target=all")
                let both = TapReader(relay, query: "?rule=everything&target=images")
                for tap in [everything, byRule, byTarget, both] {
                    #expect(
                        try await tap.wait { !$0.named("ready").isEmpty },
                        "tap never got ready: \(tap.ended as Any)"
                    )
                }
                let ready = try #require(byRule.named("ready").first)
                #expect(ready["rules"] as? [String] == ["images"])
                #expect(ready["buffer"] as? Int == TapHub.defaultBufferCapacity)

                // 50 keys ending in .jpg (two targets each), 50 ending in .txt (one target).
                let keys = (0..<100).map { $0 % 2 == 0 ? "uploads/p\($0).jpg" : "docs/d\($0).txt" }
                for key in keys {
                    #expect(try await relay.post(Self.body(key: key)).status == 200)
                }
                _ = try await receiver.waitForRequests(count: 150)
                #expect(
                    try await everything.wait {
                        $0.named("decision").count == 100 && $0.named("delivered").count == 150
                    },
                    "decisions \(everything.named("decision").count), delivered \(everything.named("delivered").count)"
                )

                let decisions = everything.named("decision")
                #expect(decisions.compactMap { $0["key"] as? String } == keys)
                for decision in decisions {
                    let key = try #require(decision["key"] as? String)
                    #expect(decision["outcome"] as? String == "routed")
                    #expect(decision["source"] as? String == "aws")
                    #expect(decision["event"] as? String == "s3:ObjectCreated:Put")
                    #expect(decision["bucket"] as? String == "photos")
                    let jpg = key.hasSuffix(".jpg")
                    #expect(decision["rules"] as? [String] == (jpg ? ["images", "everything"] : ["everything"]))
                    #expect(decision["targets"] as? [String] == (jpg ? ["images", "all"] : ["all"]))
                    #expect((decision["deliveries"] as? [[String: Any]])?.count == (jpg ? 2 : 1))
                }
                // Each delivery's outcome comes after its record's decision, on the same stream.
                let order = everything.all
                var decidedAt: [String: Int] = [:]
                for (index, event) in order.enumerated() where event.name == "decision" {
                    let object = try #require(
                        try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
                    )
                    for delivery in (object["deliveries"] as? [[String: Any]]) ?? [] {
                        decidedAt[delivery["deliveryID"] as? String ?? ""] = index
                    }
                }
                #expect(decidedAt.count == 150)
                for (index, event) in order.enumerated() where event.name == "delivered" {
                    let object = try #require(
                        try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
                    )
                    let id = try #require(object["deliveryID"] as? String)
                    let decided = try #require(decidedAt[id], "an outcome for an unknown delivery \(id)")
                    #expect(decided < index)
                    #expect(object["status"] as? Int == 200)
                    #expect(object["attempt"] as? Int == 1)
                }

                // Filters: rule=images sees the 50 images decisions and their 50 deliveries to `images`.
                #expect(try await byRule.wait { $0.named("delivered").count == 50 })
                #expect(byRule.named("decision").count == 50)
                #expect(byRule.named("delivered").allSatisfy { $0["target"] as? String == "images" })
                #expect(try await byTarget.wait { $0.named("delivered").count == 100 })
                #expect(byTarget.named("decision").count == 100)
                #expect(byTarget.named("delivered").allSatisfy { $0["target"] as? String == "all" })
                // rule=everything and target=images: decisions that match both; no delivery is both.
                #expect(try await both.wait { $0.named("decision").count == 50 })
                try await Task.sleep(for: .milliseconds(100))
                #expect(both.named("delivered").isEmpty)
                #expect(everything.named("dropped").isEmpty)
                for tap in [everything, byRule, byTarget, both] { tap.client.stop() }
            }
        }
    }

    @Test func retriesAndDeadLettersAreStreamedWithTheirReason() async throws {
        let rules = [
            "rules.json": """
            { "targets": { "dead": { "url": "http://127.0.0.1:1/",
                                     "retry": { "attempts": 2, "initialBackoff": "10ms", "maxBackoff": "10ms" } } },
              "rules": [ { "name": "all", "match": {}, "to": ["dead"] } ] }
            """
        ]
        try await Self.withRelay(rules) { relay in
            let tap = TapReader(relay)
            #expect(try await tap.wait { !$0.named("ready").isEmpty })
            #expect(try await relay.post(Self.body(key: "a.txt", source: "minio:s3")).status == 200)
            #expect(try await tap.wait { !$0.named("dead_letter").isEmpty })
            let decision = try #require(tap.named("decision").first)
            #expect(decision["source"] as? String == "minio")
            let retry = try #require(tap.named("retry").first)
            #expect(retry["attempt"] as? Int == 1)
            #expect(retry["retryInMs"] as? Int != nil)
            #expect(retry["status"] == nil)
            #expect((retry["error"] as? String)?.isEmpty == false)
            let dead = try #require(tap.named("dead_letter").first)
            #expect(dead["reason"] as? String == "exhausted")
            #expect(dead["attempt"] as? Int == 2)
            #expect(dead["target"] as? String == "dead")
            #expect(!tap.all.contains { $0.data.contains("127.0.0.1:1/") }, "the target's URL is not shown")
            tap.client.stop()
        }
    }

    @Test func refusesWithoutOrWithAWrongTokenAndWhenNoTokenIsSet() async throws {
        let rules = [
            "rules.json": """
            { "targets": { "t": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "r", "match": {}, "to": ["t"] } ] }
            """
        ]
        try await Self.withRelay(rules) { relay in
            #expect(try await TestHTTP.get(relay.url("/tap")).status == 401)
            #expect(
                try await TestHTTP.get(relay.url("/tap"), headers: [("Authorization", "Bearer wrong")]).status == 401
            )
            let tap = TapReader(relay, token: "wrong")
            try await tap.wait { $0.ended != nil }
            guard case .refused(401, _) = tap.ended else {
                Issue.record("expected a 401 refusal, got \(tap.ended as Any)")
                return
            }
            #expect(relay.relay.tap.connectedTaps == 0)
        }
        try await TestRelay.with(rules: rules) { relay in
            let answer = try await TestHTTP.get(relay.url("/tap"), headers: [("Authorization", "Bearer x")])
            #expect(answer.status == 403)
            #expect(String(decoding: answer.body, as: UTF8.self).contains("--admin-token"))
        }
    }

    @Test func theNinthTapGets503AndAClosedTapFreesItsPlace() async throws {
        let rules = [
            "rules.json": """
            { "targets": { "t": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "r", "match": {}, "to": ["t"] } ] }
            """
        ]
        try await Self.withRelay(rules) { relay in
            let taps = (0..<TapHub.defaultMaxTaps).map { _ in TapReader(relay) }
            for tap in taps { #expect(try await tap.wait { !$0.named("ready").isEmpty }) }
            #expect(relay.relay.tap.connectedTaps == 8)
            let ninth = TapReader(relay)
            try await ninth.wait { $0.ended != nil }
            guard case .refused(503, let body) = ninth.ended else {
                Issue.record("expected 503, got \(ninth.ended as Any)")
                return
            }
            #expect(body.contains("too many taps"))
            taps[0].client.stop()
            let deadline = ContinuousClock.now + .seconds(10)
            while relay.relay.tap.connectedTaps > 7, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(relay.relay.tap.connectedTaps == 7)
            let another = TapReader(relay)
            #expect(try await another.wait { !$0.named("ready").isEmpty })
            for tap in taps.dropFirst() + [another] { tap.client.stop() }
        }
    }

    @Test func theRelayStopsPromptlyAndTellsItsTapsWhy() async throws {
        let rules = [
            "rules.json": """
            { "targets": { "t": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "r", "match": {}, "to": ["t"] } ] }
            """
        ]
        // A grace period of 30 s: a stop that waited for the tap's endless response would take that long. The bound
        // is loose because the whole suite shares two cores.
        let (tap, stoppedAt) = try await TestRelay.configured(
            rules: rules,
            {
                $0.adminToken = Self.token
                $0.shutdownGracePeriod = .seconds(30)
            },
            { relay async throws -> (TapReader, ContinuousClock.Instant) in
                let tap = TapReader(relay)
                let ready = try await tap.wait { !$0.named("ready").isEmpty }
                #expect(ready)
                return (tap, ContinuousClock.now)
            }
        )
        let took = ContinuousClock.now - stoppedAt
        #expect(took < .seconds(15), "the stop waited for the tap: \(took)")
        #expect(try await tap.wait(timeout: .seconds(5)) { $0.ended != nil })
        #expect(tap.named("closing").first?["reason"] as? String == "the relay is stopping")
        #expect(tap.ended == .closed)
    }
}

/// The hub and the stream format on their own: the bounded buffer, the filter, the SSE parser, the printed lines.
@Suite struct TapHubTests {
    @Test func aTapThatDoesNotReadGetsItsBufferThenOneDroppedCount() async throws {
        let hub = TapHub(bufferCapacity: 4)
        #expect(!hub.isActive)
        let record = EventRecord(eventName: "s3:ObjectCreated:Put", eventSource: "minio:s3", bucket: "b", key: "k")
        // No tap: nothing is published (and nothing is built).
        hub.publishDecisions([record], envelope: .records, duplicate: [false], deliveries: [:])
        let tap = try hub.subscribe(filter: TapFilter()) {}
        #expect(hub.isActive)
        for _ in 0..<10 {
            hub.publishDecisions([record], envelope: .records, duplicate: [false], deliveries: [:])
        }
        guard case .events(let events, let dropped) = await tap.next() else {
            Issue.record("expected events")
            return
        }
        #expect(events.count == 4)
        #expect(dropped == 6)
        hub.publishDecisions([record], envelope: .records, duplicate: [false], deliveries: [:])
        guard case .events(let after, let droppedAfter) = await tap.next() else {
            Issue.record("expected events")
            return
        }
        #expect(after.count == 1)
        #expect(droppedAfter == 0)
        hub.unsubscribe(tap)
        guard case .finished(nil) = await tap.next() else {
            Issue.record("expected the end of the tap")
            return
        }
        #expect(!hub.isActive)
    }

    @Test func parsesEventStreamsSplitAnywhereWithAnyLineEnding() {
        let text =
            ": hello\r\nevent: decision\r\ndata: {\"a\":1}\r\n\r\nevent: retry\ndata: x\ndata: y\n\ndata: bare\r\r"
        let whole = Array(text.utf8)
        for split in [1, 2, 3, 7, whole.count] {
            var parser = ServerSentEventParser()
            var events: [ServerSentEvent] = []
            var index = 0
            while index < whole.count {
                events += parser.feed(whole[index..<min(whole.count, index + split)])
                index += split
            }
            #expect(
                events == [
                    ServerSentEvent(name: "decision", data: "{\"a\":1}"),
                    ServerSentEvent(name: "retry", data: "x\ny"),
                    ServerSentEvent(name: "message", data: "bare"),
                ],
                "split \(split)"
            )
        }
    }

    @Test func printsOneReadableLinePerEventWithSenderTextEscaped() throws {
        let decision = ServerSentEvent(
            name: "decision",
            data: """
                {"time":"2026-12-01T12:00:01.123Z","outcome":"routed","source":"minio","event":"s3:ObjectCreated:Put",\
                "bucket":"photos","key":"a\\u001b[2Jb.jpg","rules":["images"],"targets":["thumbs","audit"],\
                "deliveries":[{"deliveryID":"msg_1","target":"thumbs","rule":"images"}]}
                """
        )
        let line = try #require(TapText.line(decision))
        #expect(line.hasPrefix("12:00:01.123 decision  routed minio s3:ObjectCreated:Put photos/a"))
        #expect(line.contains("rules=images targets=thumbs,audit ids=msg_1"))
        #expect(!line.contains("\u{1b}"))
        let retry = ServerSentEvent(
            name: "retry",
            data: #"{"time":"2026-12-01T12:00:02.000Z","outcome":"retry","deliveryID":"msg_1","target":"thumbs","#
                + #""rule":"images","attempt":2,"status":503,"error":"HTTP 503","retryInMs":400,"counted":true}"#
        )
        #expect(TapText.line(retry) == "12:00:02.000 retry     thumbs msg_1 attempt=2 status=503 in=400ms (HTTP 503)")
        let dropped = ServerSentEvent(name: "dropped", data: #"{"dropped":41}"#)
        #expect(TapText.line(dropped)?.contains("dropped   41 events") == true)
        #expect(TapText.line(ServerSentEvent(name: "ready", data: #"{"buffer":512}"#)) == nil)
    }
}
