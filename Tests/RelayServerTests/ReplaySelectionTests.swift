import Foundation
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

/// `bucket-relay replay`, run as a user would, on dead letters it cannot send: lines that were never routed to a
/// target (SNS refusals, undecodable input), a `--target` the rules do not have, a selection that holds nothing.
@Suite(.timeLimit(.minutes(2)))
struct ReplaySelectionTests {
    /// A data directory holding `letters`, and rule files with the targets `hook` (at `url`) and `audit`.
    static func prepare(_ root: String, hook url: String, letters: [DeadLetter]) async throws -> (String, String) {
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        if !letters.isEmpty {
            let file = try DeadLetterFile(directory: data)
            try await file.append(letters)
            file.close()
        }
        let rules = root + "/rules.json"
        try Data(
            """
            { "targets": { "hook": { "url": "\(url)" }, "audit": { "url": "http://127.0.0.1:1/audit" } },
              "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
            """.utf8
        ).write(to: URL(fileURLWithPath: rules))
        return (data, rules)
    }

    static let snsBody = #"{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:1:photos"}"#

    @Test func lettersThatWereNeverRoutedAreExplainedAndKeptWhileTheOthersAreSent() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Receiver.withReceiver { receiver in
            let letters = [
                DeadLetter(time: "2026-11-30T10:00:00.001Z", reason: .badSignature, payload: Self.snsBody),
                DeadLetter(time: "2026-11-30T10:00:00.002Z", reason: .snsTopicNotAllowed, payload: Self.snsBody),
                DeadLetter(
                    time: "2026-11-30T10:00:00.003Z",
                    reason: .undecodable,
                    field: "Records[0].s3.object.size",
                    payload: #"{"Records":[{"s3":{"object":{"size":"big"}}}]}"#
                ),
                DeadLetter(
                    time: "2026-11-30T10:00:00.004Z",
                    reason: .exhausted,
                    rule: "all",
                    target: "hook",
                    deliveryID: "msg_sendable",
                    payload: #"{"Records":[]}"#
                ),
            ]
            let (data, rules) = try await Self.prepare(root, hook: receiver.url(path: "/hook"), letters: letters)

            let dry = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rules, "--dry-run"])
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.output.contains("1 would be sent, 0 cannot be sent, 3 never routed (kept)"), "\(dry.output)")

            let replayed = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rules])
            #expect(replayed.status == 0, "nothing that could be sent failed: \(replayed.output)")
            #expect(!replayed.output.contains("target \"-\""), "\(replayed.output)")
            #expect(!replayed.output.contains("not in the rules"), "\(replayed.output)")
            #expect(
                replayed.output.contains(
                    "kept the dead letter of 2026-11-30T10:00:00.001Z (reason bad_signature): it was never routed to "
                        + "a target, so replay has nothing to send; its SNS signature did not verify"
                ),
                "\(replayed.output)"
            )
            #expect(
                replayed.output.contains("(reason sns_topic_not_allowed): it was never routed to a target")
                    && replayed.output.contains("allow the topic"),
                "\(replayed.output)"
            )
            #expect(
                replayed.output.contains("(reason undecodable): it was never routed to a target")
                    && replayed.output.contains("(field Records[0].s3.object.size)"),
                "\(replayed.output)"
            )
            #expect(
                replayed.output.contains(
                    "1 sent and removed, 0 failed and kept, 0 cannot be sent, 3 never routed (kept), 0 not selected; "
                        + "3 left in the file"
                ),
                "\(replayed.output)"
            )
            #expect(receiver.requests.map(\.path) == ["/hook"], "only the routed line is sent, nothing re-ingested")
            let left = try DeadLetterFile.read(path: data + "/dead-letter.jsonl").compactMap(\.letter)
            #expect(left.map(\.reason) == [.badSignature, .snsTopicNotAllowed, .undecodable])

            // A target filter never selects them: they name no target.
            let filtered = try await RelayProcess.run([
                "replay", "--data-dir", data, "--rules", rules, "--target", "hook",
            ])
            #expect(filtered.status == 0, "\(filtered.output)")
            #expect(!filtered.output.contains("kept the dead letter"), "\(filtered.output)")
            #expect(
                filtered.output.contains("replay: no dead letter matches --target hook (3 in the file); nothing sent"),
                "\(filtered.output)"
            )
        }
    }

    @Test func aTargetThatIsNotInTheRulesIsAnErrorNamingTheTargetsThereAre() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let gone = DeadLetter(
            time: "2026-11-30T10:00:00.001Z",
            reason: .unknownTarget,
            rule: "all",
            target: "gone",
            deliveryID: "msg_gone",
            payload: "{}"
        )
        let (data, rules) = try await Self.prepare(root, hook: "http://127.0.0.1:1/hook", letters: [gone])
        for dryRun in [false, true] {
            let nosuch = try await RelayProcess.run(
                ["replay", "--data-dir", data, "--rules", rules, "--target", "nosuch"] + (dryRun ? ["--dry-run"] : [])
            )
            #expect(nosuch.status == 1, "\(nosuch.output)")
            #expect(
                nosuch.output.contains(
                    "error: --target \"nosuch\" is not a target of the rules (\(rules)); their targets: audit, hook; "
                        + "no dead letter names it"
                ),
                "\(nosuch.output)"
            )
        }
        let named = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rules, "--target", "gone"])
        #expect(named.status == 1, "\(named.output)")
        #expect(
            named.output.contains("1 dead letter(s) name it: add the target back to the rules to replay them"),
            "\(named.output)"
        )
        #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").count == 1, "the line stays")
        // Without a dead-letter file at all, the unknown target is still an error.
        let empty = root + "/empty"
        let none = try await RelayProcess.run(["replay", "--data-dir", empty, "--rules", rules, "--target", "nosuch"])
        #expect(none.status == 1, "\(none.output)")
        #expect(none.output.contains("is not a target of the rules"), "\(none.output)")
    }

    @Test func aKnownTargetWithNoDeadLetterSaysSoAndSucceeds() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let letter = DeadLetter(
            time: "2026-11-30T10:00:00.001Z",
            reason: .exhausted,
            rule: "all",
            target: "hook",
            deliveryID: "msg_hook",
            payload: "{}"
        )
        let (data, rules) = try await Self.prepare(root, hook: "http://127.0.0.1:1/hook", letters: [letter])
        for dryRun in [false, true] {
            let result = try await RelayProcess.run(
                ["replay", "--data-dir", data, "--rules", rules, "--target", "audit", "--rule", "all"]
                    + (dryRun ? ["--dry-run"] : [])
            )
            #expect(result.status == 0, "\(result.output)")
            #expect(
                result.output.contains(
                    "replay: no dead letter matches --target audit --rule all (1 in the file); nothing sent"
                ),
                "\(result.output)"
            )
        }
        #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").count == 1)
    }
}
