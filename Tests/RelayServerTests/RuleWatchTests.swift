import Foundation
import RelayCore
import RelayDelivery
import RelayServer
import RelayTestSupport
import Testing

/// Reload without a signal: an edit of a rule file is picked up within 2 s; a broken edit keeps the running rules and
/// is reported.
@Suite(.timeLimit(.minutes(2)))
struct RuleWatchTests {
    @Test func anEditIsPickedUpWithin2sAndABrokenOneKeepsTheRunningRules() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesDirectory = root + "/rules"
        try FileManager.default.createDirectory(atPath: rulesDirectory, withIntermediateDirectories: true)
        try await Receiver.withReceiver { receiver in
            func write(_ path: String) throws {
                let text = """
                    { "targets": { "hook": { "url": "\(receiver.url(path: path))" } },
                      "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                    """
                // As editors do: a new file renamed over the old one.
                try Data(text.utf8).write(to: URL(fileURLWithPath: rulesDirectory + "/a.json"), options: .atomic)
            }
            try write("/old")
            let serve = try RelayProcess.start([
                "serve", "--rules", rulesDirectory, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0",
            ])
            defer { serve.kill() }
            let port = try await serve.waitForPort()
            var key = 0
            func post() async throws {
                key += 1
                let answer = try await TestHTTP.post(
                    "http://127.0.0.1:\(port)/minio-event",
                    body: ReplayBesideServeTests.event(key: "watch/\(key).txt")
                )
                #expect(answer.status == 200)
            }
            try await post()
            _ = try await receiver.waitForRequests(count: 1, path: "/old")

            let edited = ContinuousClock.now
            try write("/new")
            // Poll: events posted after the reload reach /new.
            var pickedUp: Duration?
            while ContinuousClock.now - edited < .seconds(5) {
                try await post()
                try await Task.sleep(for: .milliseconds(100))
                if !receiver.requests(path: "/new").isEmpty {
                    pickedUp = ContinuousClock.now - edited
                    break
                }
            }
            let delay = try #require(pickedUp, "the edit was not picked up without a signal")
            #expect(delay < .seconds(2), "picked up after \(delay)")
            #expect(serve.text.contains("Rule files changed; reloading"))

            // A broken edit: reported, and routing goes on with the running rules.
            try Data(#"{ "targets": { "hook": { "url": 5 } }"#.utf8).write(
                to: URL(fileURLWithPath: rulesDirectory + "/a.json"),
                options: .atomic
            )
            try await OperatorLogTests.waitFor("Rules reload failed, keeping the running rules", in: serve)
            let before = receiver.requests(path: "/new").count
            try await post()
            _ = try await receiver.waitForRequests(count: before + 1, path: "/new")
            serve.signal(SIGTERM)
            #expect(try await serve.waitForExit(timeout: .seconds(15)) == 0)
        }
    }
}
