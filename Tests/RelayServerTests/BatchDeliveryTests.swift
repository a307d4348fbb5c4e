import Foundation
import RelayCore
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

/// Batched delivery end to end (docs/delivery.md, "Batches"): the real server on loopback, real receivers, the real
/// SQLite spool; each POST is checked byte for byte against the records that were sent.
@Suite(.timeLimit(.minutes(3)))
struct BatchDeliveryTests {
    /// A bare `{"Records":[record]}` body and its record's exact text; the key makes each event distinct.
    static func event(_ index: Int, padding: Int = 0) -> (body: [UInt8], record: String) {
        let record = """
            {"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
            "eventTime":"2026-11-25T10:00:00.000Z","s3":{"bucket":{"name":"photos"},\
            "object":{"key":"batch/\(index).jpg","size":12,"userMetadata":{"X-Amz-Meta-Pad":\
            "\(String(repeating: "p", count: padding))"}}}}
            """
        return (Array(#"{"Records":["#.utf8) + Array(record.utf8) + Array("]}".utf8), record)
    }

    static func rules(_ targets: String) -> [String: String] {
        [
            "rules.json": """
            { "targets": { \(targets) },
              "rules": [ { "name": "all", "match": {}, "to": [\(Self.names(targets))] } ] }
            """
        ]
    }

    /// The target names of a `"name": {...}, ...` list (top-level keys only).
    private static func names(_ targets: String) -> String {
        let object = (try? JSONParser.parse(Array("{\(targets)}".utf8)))?.objectValue ?? []
        return object.map { "\"\($0.key)\"" }.joined(separator: ", ")
    }

    /// The records of a batch body: each element of `Records` as the exact bytes it has in the body. Records an issue
    /// when the body is not `{"Records":[...]}` as the relay writes it.
    static func records(_ body: [UInt8]) throws -> [String] {
        let parsed = try JSONParser.parse(body)
        let members = try #require(parsed.objectValue)
        #expect(members.map(\.key) == ["Records"])
        let elements = try #require(members.first?.value.arrayValue)
        let texts = elements.map { String(decoding: body[$0.range], as: UTF8.self) }
        let rebuilt = "{\"Records\":[" + texts.joined(separator: ",") + "]}"
        #expect(Array(rebuilt.utf8) == body, "the body is {\"Records\":[ + the records joined by , + ]}")
        return texts
    }

    /// Posts `events` with `concurrency` requests in flight; every answer must be 200.
    static func post(_ bodies: [[UInt8]], to relay: TestRelay, concurrency: Int = 8) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func launch() {
                guard next < bodies.count else { return }
                let body = bodies[next]
                next += 1
                group.addTask {
                    let answer = try await relay.post(body)
                    #expect(answer.status == 200, "\(answer.body)")
                }
            }
            for _ in 0..<concurrency { launch() }
            while try await group.next() != nil { launch() }
        }
    }

    @Test func twoHundredFiftyEventsArriveInBatchesOfAtMostMaxRecordsAndMaxBytes() async throws {
        let events = (0..<250).map { Self.event($0) }
        try await Receiver.withReceiver { receiver in
            let rules = Self.rules(
                """
                "hundred": { "url": "\(receiver.url(path: "/hundred"))", "format": "records",
                             "batch": { "maxRecords": 100, "maxBytes": "256KiB", "maxWait": "3s" } },
                "small": { "url": "\(receiver.url(path: "/small"))", "format": "records",
                           "batch": { "maxRecords": 100, "maxBytes": "8KiB", "maxWait": "200ms" } }
                """
            )
            try await TestRelay.with(rules: rules) { relay in
                let started = ContinuousClock.now
                try await Self.post(events.map(\.body), to: relay)
                let postedIn = ContinuousClock.now - started
                try await relay.waitForEmptySpool(timeout: .seconds(20))
                try await Task.sleep(for: .milliseconds(300))
                let sent = Set(events.map(\.record))
                for (path, maxBytes) in [("/hundred", 262_144), ("/small", 8_192)] {
                    let requests = receiver.requests(path: path)
                    var seen: [String] = []
                    for request in requests {
                        let records = try Self.records(request.body)
                        #expect(records.count <= 100, "\(path): at most maxRecords per POST")
                        #expect(request.body.count <= maxBytes, "\(path): at most maxBytes per POST")
                        #expect(request.header("X-Relay-Batch-Records") == String(records.count))
                        #expect(request.header("Content-Type") == "application/json")
                        seen += records
                    }
                    #expect(seen.count == 250, "\(path): every record once")
                    #expect(Set(seen) == sent, "\(path): the records' exact bytes")
                    #expect(Set(requests.compactMap { $0.header("webhook-id") }).count == requests.count)
                }
                let hundred = receiver.requests(path: "/hundred").map { try? Self.records($0.body).count }
                if postedIn < .seconds(3) {
                    // Everything was spooled before the last records had waited maxWait: two full batches, then
                    // the rest when the 201st record had waited 3 s.
                    #expect(hundred == [100, 100, 50], "posted in \(postedIn)")
                } else {
                    #expect(hundred.count >= 3)
                }
                // 8 KiB holds a few dozen records: the bodies together hold every record and a comma each.
                let recordBytes = events[0].record.utf8.count + 1
                let fewest = (250 * recordBytes + 8_191) / 8_192
                #expect(receiver.requests(path: "/small").count >= fewest, "maxBytes splits the records")
            }
        }
    }

    @Test func aSingleEventIsSentAfterMaxWait() async throws {
        try await Receiver.withReceiver { receiver in
            let rules = Self.rules(
                """
                "hook": { "url": "\(receiver.url(path: "/hook"))", "format": "records",
                          "batch": { "maxRecords": 100, "maxWait": "400ms" } }
                """
            )
            try await TestRelay.with(rules: rules) { relay in
                let event = Self.event(1)
                let posting = ContinuousClock.now
                #expect(try await relay.post(event.body).status == 200)
                // The record was spooled between the two instants: its wait began then.
                let posted = ContinuousClock.now
                let requests = try await receiver.waitForRequests(count: 1, path: "/hook", timeout: .seconds(5))
                let early = requests[0].arrival - posting
                let late = requests[0].arrival - posted
                #expect(early >= .milliseconds(380), "not sent before maxWait: \(early) after the POST began")
                // maxWait, the 25 ms ticker, and slack for a machine shared with other builds.
                #expect(late <= .milliseconds(1_900), "sent once it has waited maxWait: \(late) after the 200")
                #expect(try Self.records(requests[0].body) == [event.record])
                #expect(requests[0].body == event.body, "a batch of one is the {\"Records\":[record]} body")
            }
        }
    }

    @Test func aFailedBatchIsRetriedAsTheSameBatch() async throws {
        let events = (0..<3).map { Self.event($0) }
        try await Receiver.withReceiver { _, index in
            ReceiverResponse(status: index == 0 ? 503 : 200)
        } _: { receiver in
            let rules = Self.rules(
                """
                "hook": { "url": "\(receiver.url(path: "/hook"))", "format": "records", "timeout": "20s",
                          "retry": { "attempts": 5, "initialBackoff": "50ms", "maxBackoff": "100ms" },
                          "batch": { "maxRecords": 3, "maxWait": "1m" } }
                """
            )
            try await TestRelay.with(rules: rules) { relay in
                // Full at three records: one batch however slowly the POSTs go.
                for event in events { #expect(try await relay.post(event.body).status == 200) }
                let requests = try await receiver.waitForRequests(count: 2, path: "/hook")
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(300))
                let all = receiver.requests(path: "/hook")
                #expect(all.count == 2, "one failed attempt, one delivered")
                #expect(requests[0].header("webhook-id") == requests[1].header("webhook-id"), "the same id")
                #expect(requests[0].header("webhook-id")?.hasPrefix("msg_") == true)
                #expect(requests[0].body == requests[1].body, "the same body")
                #expect(Set(try Self.records(requests[1].body)) == Set(events.map(\.record)), "the same members")
                #expect(all.map { $0.header("X-Relay-Attempt") } == ["1", "2"], "one attempt count for the batch")
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    @Test func aBatchIsTheSameBatchAfterARestart() async throws {
        let events = (0..<3).map { Self.event($0) }
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        func rules(_ url: String) -> [String: String] {
            Self.rules(
                """
                "hook": { "url": "\(url)", "format": "records",
                          "retry": { "attempts": 10, "initialBackoff": "50ms", "maxBackoff": "100ms" },
                          "batch": { "maxRecords": 3, "maxWait": "1m" } }
                """
            )
        }
        // The first relay's target fails every attempt; the relay stops with the batch pending.
        let failed = try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 503)
        } _: { receiver in
            try await TestRelay.with(rules: rules(receiver.url(path: "/hook")), dataDirectory: data) { relay in
                try await Self.post(events.map(\.body), to: relay, concurrency: 1)
                return try #require(try await receiver.waitForRequests(count: 1, path: "/hook").first)
            }
        }
        // A new relay on the same data directory sends the same batch: the same id, the same body.
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: rules(receiver.url(path: "/hook")), dataDirectory: data) { relay in
                let request = try #require(try await receiver.waitForRequests(count: 1, path: "/hook").first)
                try await relay.waitForEmptySpool()
                #expect(request.header("webhook-id") == failed.header("webhook-id"), "the same id after the restart")
                #expect(request.body == failed.body, "the same body after the restart")
                #expect(Set(try Self.records(request.body)) == Set(events.map(\.record)))
                #expect(Int(request.header("X-Relay-Attempt") ?? "") ?? 0 >= 2, "its attempts were kept")
            }
        }
    }

    @Test func aRejectedBatchIsDeadLetteredAsOneLineAndReplayResendsIt() async throws {
        let events = (0..<4).map { Self.event($0) }
        try await Receiver.withReceiver { _, index in
            ReceiverResponse(status: index == 0 ? 400 : 204)
        } _: { receiver in
            let rules = Self.rules(
                """
                "hook": { "url": "\(receiver.url(path: "/hook"))", "format": "records",
                          "signingSecret": "\(SafeReceiveTests.whsec)",
                          "batch": { "maxRecords": 4, "maxWait": "1m" } }
                """
            )
            try await TestRelay.with(rules: rules) { relay in
                try await Self.post(events.map(\.body), to: relay, concurrency: 1)
                let letters = try await relay.waitForDeadLetters(count: 1)
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(200))
                let sent = try #require(receiver.requests(path: "/hook").first)
                #expect(receiver.requests(path: "/hook").count == 1, "a 400 is not retried")
                #expect(letters.count == 1, "one line for the whole batch")
                let letter = try #require(letters.first)
                #expect(letter.reason == .rejected)
                #expect(letter.lastStatus == 400)
                #expect(letter.attempts == 1)
                #expect(letter.deliveryID == sent.header("webhook-id"), "the batch's id")
                #expect(Array(letter.payload.utf8) == sent.body, "the exact payload that was sent")
                #expect(letter.members?.count == 4, "the members' delivery ids")
                #expect(Set(letter.members ?? []).count == 4)
                #expect(!(letter.members ?? []).contains(letter.deliveryID ?? ""))

                let rulesFile = (relay.dataDirectory as NSString).deletingLastPathComponent + "/rules"
                let replay = try await RelayProcess.run([
                    "replay", "--data-dir", relay.dataDirectory, "--rules", rulesFile,
                ])
                #expect(replay.status == 0, "\(replay.output)")
                let again = try await receiver.waitForRequests(count: 2, path: "/hook")
                #expect(again[1].body == sent.body, "replay sends the batch body again")
                #expect(again[1].header("webhook-id") == sent.header("webhook-id"), "under the batch's id")
                #expect(again[1].header("X-Relay-Replay") == "1")
                #expect(again[1].header("X-Relay-Batch-Records") == sent.header("X-Relay-Batch-Records"))
                #expect(sent.header("X-Relay-Batch-Records") != nil)
                #expect(try relay.deadLetters().isEmpty, "the replayed line is removed")
            }
        }
    }

    @Test func batchSignaturesVerifyOverTheBatchBody() async throws {
        let events = (0..<5).map { Self.event($0) }
        try await Receiver.withReceiver { receiver in
            let rules = Self.rules(
                """
                "signed": { "url": "\(receiver.url(path: "/signed"))", "format": "records",
                            "signingSecret": "\(SafeReceiveTests.whsec)",
                            "batch": { "maxRecords": 5, "maxWait": "1m" } }
                """
            )
            try await TestRelay.with(rules: rules) { relay in
                try await Self.post(events.map(\.body), to: relay, concurrency: 1)
                let request = try #require(try await receiver.waitForRequests(count: 1, path: "/signed").first)
                #expect(try Self.records(request.body).count == 5)
                let root = try TemporaryDirectory.make()
                defer { TemporaryDirectory.remove(root) }
                let bodyPath = root + "/body"
                try Data(request.body).write(to: URL(fileURLWithPath: bodyPath))
                let verdict = try await SafeReceiveTests.python(
                    SafeReceiveTests.verifier,
                    arguments: [
                        SafeReceiveTests.whsec, SafeReceiveTests.whsec, try #require(request.header("webhook-id")),
                        try #require(request.header("webhook-timestamp")),
                        try #require(request.header("webhook-signature")), bodyPath,
                    ]
                )
                #expect(verdict == "ok ok", "Standard Webhooks HMAC over the batch body: \(verdict)")
            }
        }
    }

    @Test func aBatchedTargetWithCloudEventsDoesNotLoad() async throws {
        let rules = Self.rules(
            #""hook": { "url": "http://127.0.0.1:1/", "format": "cloudevents", "batch": { "maxRecords": 10 } }"#
        )
        await #expect(throws: (any Error).self) {
            try await TestRelay.with(rules: rules) { _ in }
        }
    }
}
