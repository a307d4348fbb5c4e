import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

/// `replay` and `serve` on one data directory at the same time, while `serve` keeps adding dead letters: afterwards
/// every dead letter was either delivered or is still in the file, and none was delivered twice.
@Suite(.timeLimit(.minutes(3)))
struct ReplayBesideServeTests {
    @Test func replayWhileServeAddsDeadLettersDeliversEachAtMostOnceAndLosesNone() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try await Receiver.withReceiver { request, _ in
            // `serve` sends to /reject (dead-lettered at once); replay's rules send the same target to /accept.
            ReceiverResponse(status: request.path == "/reject" ? 400 : 204)
        } _: { receiver in
            let serveRules = root + "/serve.json"
            let replayRules = root + "/replay.json"
            func rules(_ path: String) -> String {
                """
                { "targets": { "hook": { "url": "\(receiver.url(path: path))", "timeout": "30s" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            }
            try Data(rules("/reject").utf8).write(to: URL(fileURLWithPath: serveRules))
            try Data(rules("/accept").utf8).write(to: URL(fileURLWithPath: replayRules))
            let serve = try RelayProcess.start([
                "serve", "--rules", serveRules, "--data-dir", data, "--host", "127.0.0.1", "--port", "0",
            ])
            defer { serve.kill() }
            let port = try await serve.waitForPort()
            let events = 300
            // The sender: distinct events, each dead-lettered by `serve` as it goes.
            let sender = Task {
                for index in 0..<events {
                    let body = Self.event(key: "replay/\(index).txt")
                    let answer = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body)
                    #expect(answer.status == 200)
                    if index % 20 == 0 { try await Task.sleep(for: .milliseconds(50)) }
                }
            }
            // Replays run beside `serve` while the sender goes on; some of them overlap each other.
            var outputs: [String] = []
            for round in 0..<6 {
                try await Task.sleep(for: .milliseconds(150))
                let arguments = ["replay", "--data-dir", data, "--rules", replayRules]
                if round == 2 {
                    async let first = RelayProcess.run(arguments)
                    async let second = RelayProcess.run(arguments)
                    outputs.append(try await first.output)
                    outputs.append(try await second.output)
                } else {
                    outputs.append(try await RelayProcess.run(arguments).output)
                }
            }
            try await sender.value
            // Let `serve` dead-letter what is left in flight, then one last replay.
            let deadline = ContinuousClock.now + .seconds(20)
            while receiver.requests(path: "/reject").count < events, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(300))
            let rejected = receiver.requests(path: "/reject")
            #expect(rejected.count == events, "serve attempted every event once")

            let accepted = receiver.requests(path: "/accept")
            let remaining = try DeadLetterFile.read(path: data + "/dead-letter.jsonl").compactMap(\.letter)
            let deliveredIDs = accepted.compactMap { $0.header("webhook-id") }
            let remainingIDs = remaining.compactMap(\.deliveryID)
            let allIDs = Set(rejected.compactMap { $0.header("webhook-id") })
            #expect(allIDs.count == events)
            #expect(Set(deliveredIDs).count == deliveredIDs.count, "no dead letter delivered twice")
            #expect(Set(remainingIDs).count == remainingIDs.count, "no dead letter written twice")
            #expect(Set(deliveredIDs).isDisjoint(with: remainingIDs), "a delivered line left the file")
            #expect(Set(deliveredIDs).union(remainingIDs) == allIDs, "every dead letter delivered or still in the file")
            #expect(deliveredIDs.count > 0, "replays beside serve delivered some: \(outputs)")
            // The last replay, with serve still running, empties the file.
            let last = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", replayRules])
            #expect(last.status == 0, "\(last.output)")
            let after = receiver.requests(path: "/accept").compactMap { $0.header("webhook-id") }
            #expect(Set(after) == allIDs)
            #expect(after.count == allIDs.count, "no dead letter delivered twice")
            #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").isEmpty)
            serve.signal(SIGTERM)
            #expect(try await serve.waitForExit(timeout: .seconds(15)) == 0)
        }
    }

    @Test func replaySendsNothingToATargetThatIsNotInTheRules() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try await Receiver.withReceiver { receiver in
            // A forged line: unknown target, and a URL pointing at a listener.
            let forged = DeadLetter(
                time: Timestamp.now().iso8601,
                reason: .exhausted,
                rule: "all",
                target: "forged",
                url: receiver.url(path: "/stolen"),
                deliveryID: "msg_forged",
                payload: "{}"
            )
            let file = try DeadLetterFile(directory: data)
            try await file.append([forged])
            file.close()
            let rulesPath = root + "/rules.json"
            try Data(
                """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """.utf8
            ).write(to: URL(fileURLWithPath: rulesPath))
            let replayed = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rulesPath])
            #expect(replayed.status == 1, "\(replayed.output)")
            #expect(replayed.output.contains("not in the rules"), "\(replayed.output)")
            // Without rules, replay refuses to run at all.
            let noRules = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", root + "/missing"])
            #expect(noRules.status == 1)
            try await Task.sleep(for: .milliseconds(200))
            #expect(receiver.requests.isEmpty, "nothing was sent anywhere")
            #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").count == 1, "the line stays")
        }
    }

    /// A MinIO-style bare record for `key` with no resend identity (each one a new event).
    static func event(key: String) -> [UInt8] {
        Array(
            """
            {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
            "eventTime":"2026-11-25T10:00:00.000Z","s3":{"bucket":{"name":"photos"},\
            "object":{"key":"\(key)","size":12}}}]}
            """.utf8
        )
    }
}
