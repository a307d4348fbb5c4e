import Foundation
import RelayCore
import RelayLog
import RelayTestSupport
import Synchronization
import Testing

/// `ordering: "key"` end to end (docs/delivery.md, "Ordering"): real relay, real HTTP, real receivers.
@Suite(.timeLimit(.minutes(3)))
struct OrderingTests {
    /// One S3 record of object `key` in bucket `photos` at `sequencer` (hex), MinIO's shape.
    static func record(key: String, sequencer: Int) -> String {
        let hex = String(sequencer, radix: 16, uppercase: true)
        return """
            {"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-01-12T17:58:12.011Z",\
            "eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},\
            "responseElements":{"x-amz-request-id":"REQ-\(key)-\(hex)"},\
            "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"photos","arn":"arn:aws:s3:::photos"},\
            "object":{"key":"\(key)","size":10,"eTag":"e","sequencer":"\(hex)"}}}
            """
    }

    static func body(_ records: [String]) -> [UInt8] {
        Array(#"{"Records":["#.utf8) + Array(records.joined(separator: ",").utf8) + Array("]}".utf8)
    }

    /// The object key and sequencer (as a number) of a delivered `records` payload.
    static func keyAndSequencer(_ request: RecordedRequest) -> (key: String, sequencer: Int)? {
        guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let records = json["Records"] as? [[String: Any]], let record = records.first,
            let s3 = record["s3"] as? [String: Any], let object = s3["object"] as? [String: Any],
            let key = object["key"] as? String,
            let sequencer = (object["sequencer"] as? String).flatMap({
                Int($0, radix: 16)
            })
        else { return nil }
        return (key, sequencer)
    }

    static func rules(_ targets: [(name: String, url: String, extra: String)]) -> [String: String] {
        let declared = targets.map { target in
            #""\#(target.name)": {"url": "\#(target.url)", "format": "records", "timeout": "5s", "#
                + #""retry": {"attempts": 3, "initialBackoff": "50ms", "maxBackoff": "200ms"}\#(target.extra)}"#
        }
        let names = targets.map { #""\#($0.name)""# }.joined(separator: ", ")
        return [
            "rules.json": """
            {"targets": {\(declared.joined(separator: ",\n"))},
             "rules": [{"name": "all", "match": {}, "to": [\(names)]}]}
            """
        ]
    }

    /// What a receiver saw per path: the (key, sequencer) of each answer it finished, in the order it finished them,
    /// and the most requests in flight at once, overall and per key.
    final class Completions: Sendable {
        struct State {
            var finished: [String: [(key: String, sequencer: Int)]] = [:]
            var inFlight: [String: Int] = [:]
            var maxInFlight: [String: Int] = [:]
            var inFlightPerKey: [String: Int] = [:]
            var maxInFlightPerKey: [String: Int] = [:]
        }

        let state = Mutex(State())

        func start(path: String, key: String) {
            state.withLock { state in
                state.inFlight[path, default: 0] += 1
                state.maxInFlight[path] = max(state.maxInFlight[path] ?? 0, state.inFlight[path] ?? 0)
                let perKey = path + " " + key
                state.inFlightPerKey[perKey, default: 0] += 1
                state.maxInFlightPerKey[path] = max(
                    state.maxInFlightPerKey[path] ?? 0,
                    state.inFlightPerKey[perKey] ?? 0
                )
            }
        }

        func finish(path: String, key: String, sequencer: Int) {
            state.withLock { state in
                state.inFlight[path, default: 0] -= 1
                state.inFlightPerKey[path + " " + key, default: 0] -= 1
                state.finished[path, default: []].append((key, sequencer))
            }
        }

        /// Per key, the sequencers finished on `path`, in finishing order.
        func sequencersByKey(path: String) -> [String: [Int]] {
            state.withLock { state in
                var byKey: [String: [Int]] = [:]
                for entry in state.finished[path] ?? [] { byKey[entry.key, default: []].append(entry.sequencer) }
                return byKey
            }
        }

        func count(path: String) -> Int { state.withLock { $0.finished[path]?.count ?? 0 } }
        func maxInFlight(path: String) -> Int { state.withLock { $0.maxInFlight[path] ?? 0 } }
        func maxInFlightPerKey(path: String) -> Int { state.withLock { $0.maxInFlightPerKey[path] ?? 0 } }
    }

    /// 200 events over 20 keys, sequencers increasing per key, each key's 10 events in one request and the 20
    /// requests sent at once. The receiver takes 0–30 ms per answer. The ordered target gets each key's deliveries
    /// one at a time in sequencer order while keys run in parallel; the plain one gets them interleaved.
    @Test func anOrderedTargetGetsEachKeyInSequencerOrderAndAPlainOneDoesNot() async throws {
        let completions = Completions()
        try await Receiver.withReceiver { request, _ in
            guard let event = Self.keyAndSequencer(request) else { return ReceiverResponse(status: 400) }
            completions.start(path: request.path, key: event.key)
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0...30)))
            completions.finish(path: request.path, key: event.key, sequencer: event.sequencer)
            return .ok
        } _: { receiver in
            let rules = Self.rules([
                (name: "ordered", url: receiver.url(path: "/ordered"), extra: #", "ordering": "key""#),
                (name: "plain", url: receiver.url(path: "/plain"), extra: ""),
            ])
            try await TestRelay.with(rules: rules) { relay in
                let keys = (0..<20).map { "objects/key-\($0).txt" }
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for (index, key) in keys.enumerated() {
                        // Sequencers as MinIO's: increasing per key; different keys share no range.
                        let base = 0x188A_0D8A_7497_0000 + index * 0x1000
                        let records = (0..<10).map { Self.record(key: key, sequencer: base + $0 * 0x11) }
                        group.addTask { try await relay.post(Self.body(records)).status }
                    }
                    var all: [Int] = []
                    for try await status in group { all.append(status) }
                    return all
                }
                #expect(statuses == Array(repeating: 200, count: 20))
                let deadline = ContinuousClock.now + .seconds(60)
                while completions.count(path: "/ordered") < 200 || completions.count(path: "/plain") < 200,
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await relay.waitForEmptySpool()
                let ordered = completions.sequencersByKey(path: "/ordered")
                let plain = completions.sequencersByKey(path: "/plain")
                #expect(ordered.count == 20 && plain.count == 20)
                #expect(ordered.values.allSatisfy { $0.count == 10 } && plain.values.allSatisfy { $0.count == 10 })
                for (key, sequencers) in ordered {
                    #expect(sequencers == sequencers.sorted(), "\(key) finished out of order on the ordered target")
                }
                // In arrival order too: the next of a key is sent only after the answer to the one before.
                var arrived: [String: [Int]] = [:]
                for request in receiver.requests(path: "/ordered") {
                    guard let event = Self.keyAndSequencer(request) else { continue }
                    arrived[event.key, default: []].append(event.sequencer)
                }
                #expect(arrived.values.allSatisfy { $0 == $0.sorted() })
                #expect(completions.maxInFlightPerKey(path: "/ordered") == 1, "one delivery of a key at a time")
                #expect(completions.maxInFlight(path: "/ordered") > 1, "other keys stay parallel")
                let outOfOrder = plain.filter { $0.value != $0.value.sorted() }
                #expect(!outOfOrder.isEmpty, "without ordering the deliveries of a key interleave (the option matters)")
                #expect(completions.maxInFlightPerKey(path: "/plain") > 1)
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    /// The later event of a key is spooled first while an earlier one of the same key is in flight; the one between
    /// them arrives after it. Both wait, and go in sequencer order.
    @Test func anEarlierSequencerArrivingLateIsDeliveredFirst() async throws {
        try await Receiver.withReceiver { request, index in
            // The first delivery is slow, so the two others are pending behind it when they arrive.
            ReceiverResponse(status: 200, delay: index == 0 ? .seconds(3) : nil)
        } _: { receiver in
            let rules = Self.rules([
                (name: "ordered", url: receiver.url(path: "/ordered"), extra: #", "ordering": "key""#)
            ])
            try await TestRelay.with(rules: rules) { relay in
                #expect(try await relay.post(Self.body([Self.record(key: "doc.txt", sequencer: 0x100)])).status == 200)
                _ = try await receiver.waitForRequests(count: 1, path: "/ordered")
                #expect(try await relay.post(Self.body([Self.record(key: "doc.txt", sequencer: 0x300)])).status == 200)
                #expect(try await relay.post(Self.body([Self.record(key: "doc.txt", sequencer: 0x200)])).status == 200)
                let requests = try await receiver.waitForRequests(count: 3, path: "/ordered")
                try await relay.waitForEmptySpool()
                #expect(requests.compactMap { Self.keyAndSequencer($0)?.sequencer } == [0x100, 0x200, 0x300])
            }
        }
    }

    /// A key's head that the target rejects (400) is dead-lettered, and the next delivery of its key then goes.
    @Test func aRejectedHeadIsDeadLetteredAndLetsTheNextOfItsKeyGo() async throws {
        try await Receiver.withReceiver { request, _ in
            Self.keyAndSequencer(request)?.sequencer == 0x10 ? ReceiverResponse(status: 400) : .ok
        } _: { receiver in
            let rules = Self.rules([
                (name: "ordered", url: receiver.url(path: "/ordered"), extra: #", "ordering": "key""#)
            ])
            try await TestRelay.with(rules: rules) { relay in
                let records = [0x10, 0x20, 0x30].map { Self.record(key: "doc.txt", sequencer: $0) }
                #expect(try await relay.post(Self.body(records)).status == 200)
                let requests = try await receiver.waitForRequests(count: 3, path: "/ordered")
                try await relay.waitForEmptySpool()
                #expect(requests.compactMap { Self.keyAndSequencer($0)?.sequencer } == [0x10, 0x20, 0x30])
                let letters = try relay.deadLetters()
                #expect(letters.map(\.reason) == [.rejected])
                #expect(letters.first?.lastStatus == 400)
                #expect(letters.first?.payload.contains(#""sequencer":"10""#) == true)
            }
        }
    }

    /// A key's head answered 503 is retried before anything after it: 503, then 200, then the next ones.
    @Test func aRetriedHeadKeepsItsPlaceAtTheHeadOfItsKey() async throws {
        try await Receiver.withReceiver { request, index in
            index == 0 ? ReceiverResponse(status: 503) : .ok
        } _: { receiver in
            let rules = Self.rules([
                (name: "ordered", url: receiver.url(path: "/ordered"), extra: #", "ordering": "key""#)
            ])
            try await TestRelay.with(rules: rules) { relay in
                let records = [0x10, 0x20, 0x30].map { Self.record(key: "doc.txt", sequencer: $0) }
                #expect(try await relay.post(Self.body(records)).status == 200)
                let requests = try await receiver.waitForRequests(count: 4, path: "/ordered")
                try await relay.waitForEmptySpool()
                #expect(requests.compactMap { Self.keyAndSequencer($0)?.sequencer } == [0x10, 0x10, 0x20, 0x30])
                #expect(requests.map { $0.header("X-Relay-Attempt") } == ["1", "2", "1", "1"])
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    /// Deliveries of an ordered target that left the rules are dead-lettered (`unknown_target`) key by key, one pass
    /// after the other, not one per 30-second pass.
    @Test func anOrderedTargetRemovedFromTheRulesIsDeadLetteredKeyByKeyInOrder() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 503, headers: [(name: "Retry-After", value: "600")])
        } _: { receiver in
            let rules = Self.rules([
                (name: "ordered", url: receiver.url(path: "/ordered"), extra: #", "ordering": "key""#)
            ])
            try await TestRelay.with(rules: rules, dataDirectory: data) { relay in
                let records = [0x10, 0x20, 0x30].map { Self.record(key: "doc.txt", sequencer: $0) }
                #expect(try await relay.post(Self.body(records)).status == 200)
                _ = try await receiver.waitForRequests(count: 1, path: "/ordered")
            }
        }
        let other = Self.rules([(name: "other", url: "http://127.0.0.1:1/", extra: "")])
        try await TestRelay.with(rules: other, dataDirectory: data) { relay in
            let letters = try await relay.waitForDeadLetters(count: 3, timeout: .seconds(10))
            #expect(letters.map(\.reason) == [.unknownTarget, .unknownTarget, .unknownTarget])
            let sequencers = letters.compactMap { letter -> String? in
                ["10", "20", "30"].first { letter.payload.contains(#""sequencer":"\#($0)""#) }
            }
            #expect(sequencers == ["10", "20", "30"])
        }
    }
}
