import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

/// The `bucket-relay` executable, run as a user would: `validate` and `serve` on good and bad rules.
@Suite(.timeLimit(.minutes(2)))
struct CommandLineTests {
    static let goodTargets = """
        { "targets": { "hook": { "url": "http://127.0.0.1:1/hook" } } }
        """

    /// Bad rule sets: files, the expected fragments of the diagnostic (file, subject, field, reason).
    static let badRuleSets: [(String, [String: String], [String])] = [
        (
            "unknown target",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "r1", "match": {}, "to": ["hoook"] } ] }"#
            ],
            ["a.json", "error:", #"rule "r1""#, "to[0]", "hoook"]
        ),
        (
            "negative size",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "small", "match": { "size": { "min": -1 } }, "to": ["hook"] } ] }"#
            ],
            ["a.json", #"rule "small""#, "match.size.min", ">= 0"]
        ),
        (
            "missing variable",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "${NOT_SET_ANYWHERE}/x" } }, "rules": [ { "name": "r", "match": {}, "to": ["hook"] } ] }"#
            ],
            ["a.json", #"target "hook""#, "url", "NOT_SET_ANYWHERE"]
        ),
        (
            "duplicate names",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "same", "match": {}, "to": ["hook"] } ] }"#,
                "b.json": #"{ "rules": [ { "name": "same", "match": {}, "to": ["hook"] } ] }"#,
            ],
            ["b.json", #"rule "same""#, "a.json"]
        ),
        (
            "a pattern where a literal suffix belongs",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "jpegs", "match": { "suffix": "*.jpg" }, "to": ["hook"] } ] }"#
            ],
            ["a.json", #"rule "jpegs""#, "match.suffix", "literal", #"".jpg""#]
        ),
        (
            "batch with a single-record format",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/", "format": "cloudevents", "batch": { "maxRecords": 100 } } }, "rules": [ { "name": "r", "match": {}, "to": ["hook"] } ] }"#
            ],
            ["a.json:1:", "error:", #"target "hook""#, "batch:", #"needs "format": "records""#]
        ),
        (
            "not JSON",
            ["a.json": Self.goodTargets, "b.json": "{ \"rules\": [ oops ] }"],
            ["b.json:1:", "error:"]
        ),
        (
            "an unknown ordering",
            [
                "a.json":
                    #"{ "targets": { "hook": { "url": "http://127.0.0.1:1/", "ordering": "fifo" } }, "rules": [ { "name": "r", "match": {}, "to": ["hook"] } ] }"#
            ],
            ["a.json:1:", #"target "hook""#, "ordering", #"unknown ordering "fifo""#]
        ),
    ]

    @Test(arguments: badRuleSets)
    func badRulesMakeValidateAndServeExit1WithDiagnostics(
        name: String,
        files: [String: String],
        expected: [String]
    ) async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rules = root + "/rules"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        for (file, text) in files {
            try Data(text.utf8).write(to: URL(fileURLWithPath: rules + "/" + file))
        }
        let validate = try await RelayProcess.run(["validate", "--rules", rules])
        #expect(validate.status == 1, "\(name): \(validate.output)")
        for fragment in expected {
            #expect(validate.output.contains(fragment), "\(name): missing \"\(fragment)\" in:\n\(validate.output)")
        }
        let serve = try await RelayProcess.run(
            ["serve", "--rules", rules, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"]
        )
        #expect(serve.status == 1, "\(name): \(serve.output)")
        for fragment in expected {
            #expect(serve.output.contains(fragment), "\(name): serve output lacks \"\(fragment)\":\n\(serve.output)")
        }
        #expect(serve.output.contains("not starting"), "\(name): \(serve.output)")
        #expect(
            !FileManager.default.fileExists(atPath: root + "/data"),
            "\(name): nothing is created by a refused start"
        )
    }

    @Test func validateAcceptsTheShippedRules() async throws {
        let result = try await RelayProcess.run(
            ["validate", "--rules", Fixtures.packageRoot + "/rules"],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("ok"))
    }

    /// The README's `validate` example, run on the folder it names: every diagnostic line it shows is printed.
    @Test func validateOfTheReadmesBrokenRulesPrintsWhatTheReadmeShows() async throws {
        let readme = try String(contentsOfFile: Fixtures.packageRoot + "/README.md", encoding: .utf8)
        let shown = readme.split(separator: "\n").filter { $0.hasPrefix("examples/broken-rules/") }
        #expect(shown.count == 2)
        let result = try await RelayProcess.run(
            ["validate", "--rules", Fixtures.packageRoot + "/examples/broken-rules"],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 1, "\(result.output)")
        for line in shown {
            #expect(
                result.output.contains(Fixtures.packageRoot + "/" + line),
                "missing \"\(line)\" in:\n\(result.output)"
            )
        }
        #expect(result.output.contains("\(shown.count) error(s)"))
    }

    /// A usage error (a bad flag value, or flags that exclude each other) exits 64 with the problem, as
    /// docs/interface.md says, before anything is opened.
    @Test(
        arguments: [
            (["--port", "99999"], "--port"),
            (["--auth-token", "x", "--auth-token-file", "/dev/null"], "--auth-token-file"),
            (["--jetstream-creds", "/dev/null"], "--jetstream"),
        ]
    )
    func serveUsageErrorsExit64(flags: [String], named: String) async throws {
        let result = try await RelayProcess.run(["serve", "--data-dir", "/nonexistent/data"] + flags)
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains(named), "\(result.output)")
        #expect(!result.output.contains("data directory"), "\(result.output)")
    }

    @Test func validateRulesFlagHasAnEnvironmentTwin() async throws {
        let result = try await RelayProcess.run(
            ["validate"],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000", "RELAY_RULES": Fixtures.packageRoot + "/rules"]
        )
        #expect(result.status == 0, "\(result.output)")
        let missing = try await RelayProcess.run(["validate"], environment: ["RELAY_RULES": "/nonexistent/rules"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("/nonexistent/rules"))
    }

    @Test func matchExplainsWhichRulesAndTargetsARecordReaches() async throws {
        let result = try await RelayProcess.run(
            [
                "match", "--rules", Fixtures.packageRoot + "/rules", "--explain",
                Fixtures.directory + "/minio/put-image.json",
            ],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("thumbnailer"))
        #expect(result.output.contains("audit-log"))
        #expect(result.output.contains("uploads/2026/cat.jpg"))
    }

    /// Negative durations, in every form the parser takes: the value's own error, never "Missing value".
    static let negativeDurations: [([String], [String: String], String)] = [
        (
            ["serve", "--host", "127.0.0.1", "--port", "0", "--log-summary-interval", "-5s"], [:],
            "--log-summary-interval: durations must be positive (got -5s)"
        ),
        (
            ["serve", "--host", "127.0.0.1", "--port", "0", "--log-summary-interval=-5s"], [:],
            "--log-summary-interval: durations must be positive (got -5s)"
        ),
        (
            ["serve", "--host", "127.0.0.1", "--port", "0"], ["RELAY_LOG_SUMMARY_INTERVAL": "-5s"],
            "RELAY_LOG_SUMMARY_INTERVAL: durations must be positive (got -5s)"
        ),
        (["replay", "--progress-every", "-5"], [:], "--progress-every: durations must be positive (got -5.0)"),
        (["replay", "--progress-every=-5"], [:], "--progress-every: durations must be positive (got -5.0)"),
    ]

    @Test(arguments: negativeDurations)
    func aNegativeDurationGetsAClearError(
        arguments: [String],
        environment: [String: String],
        message: String
    )
        async throws
    {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let result = try await RelayProcess.run(
            arguments + ["--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data"],
            environment: environment
        )
        #expect(result.status == 64, "a usage error: \(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        #expect(!result.output.contains("Missing value"), "\(result.output)")
        #expect(!result.output.contains("Relay listening"), "\(result.output)")
        // The help of the command that was run, not the top-level usage.
        #expect(result.output.contains("See 'bucket-relay \(arguments[0]) --help'."), "\(result.output)")
        #expect(!result.output.contains("<subcommand>"), "\(result.output)")
    }

    /// `--auth-token "$TOKEN"` with TOKEN unset: refused, rather than a relay that an empty Basic password opens.
    /// (An empty RELAY_AUTH_TOKEN stays "unset", as every empty twin does.)
    @Test(arguments: [["--auth-token", ""], ["--admin-token", ""]])
    func anEmptyTokenIsRefused(token: [String]) async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let result = try await RelayProcess.run(
            ["serve", "--host", "127.0.0.1", "--port", "0"] + token
                + ["--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data"]
        )
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains("the token is empty"), "\(result.output)")
        #expect(!result.output.contains("Relay listening"), "\(result.output)")
    }

    @Test func replaySendsDeadLettersAgainAndRemovesOnlyTheDelivered() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        let accepting = Mutex(false)
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver { _, _ in
            accepting.withLock { $0 } ? ReceiverResponse(status: 204) : ReceiverResponse(status: 400)
        } _: { receiver in
            let rules = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            // The event comes with a trace of its own: the dead letter keeps it and the replay continues it.
            let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            try await TestRelay.with(rules: ["rules.json": rules], dataDirectory: data) { relay in
                #expect(try await relay.post(body, headers: [(name: "traceparent", value: incoming)]).status == 200)
                let letters = try await relay.waitForDeadLetters(count: 1)
                #expect(letters.first?.traceparent?.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-") == true)
            }
            let rulesPath = root + "/rules.json"
            try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
            let firstID = receiver.requests(path: "/hook").first?.header("webhook-id")

            let refused = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rulesPath])
            #expect(refused.status == 1, "\(refused.output)")
            #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").count == 1, "a failed replay keeps it")

            accepting.withLock { $0 = true }
            let replayed = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rulesPath])
            #expect(replayed.status == 0, "\(replayed.output)")
            #expect(replayed.output.contains("1 sent and removed"), "\(replayed.output)")
            #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").isEmpty)
            let last = try #require(receiver.requests(path: "/hook").last)
            #expect(last.body == body)
            #expect(last.header("webhook-id") == firstID, "the same delivery id as the original attempts")
            #expect(last.header("X-Relay-Replay") == "1")
            let replayedTrace = try #require(last.header("traceparent"))
            #expect(replayedTrace.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-"), "the event's trace continues")
            #expect(replayedTrace != receiver.requests(path: "/hook").first?.header("traceparent"), "a span of its own")
        }
    }
}
