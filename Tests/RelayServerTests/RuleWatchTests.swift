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

            #expect(!serve.text.contains("Rule files changed; reloading"))
            let edited = ContinuousClock.now
            try write("/new")
            // The edit is noticed without a signal (the README: within a second; 2 s here, for a loaded machine).
            // Timed by the relay's own log line, not by a delivery, whose latency under load is not the watcher's.
            var pickedUp: Duration?
            while ContinuousClock.now - edited < .seconds(5) {
                if serve.text.contains("Rule files changed; reloading") {
                    pickedUp = ContinuousClock.now - edited
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let delay = try #require(pickedUp, "the edit was not picked up without a signal")
            #expect(delay < .seconds(2), "picked up after \(delay)")
            // Events posted after the reload reach /new.
            var routed = false
            while !routed && ContinuousClock.now - edited < .seconds(20) {
                try await post()
                try await Task.sleep(for: .milliseconds(100))
                routed = !receiver.requests(path: "/new").isEmpty
            }
            #expect(routed, "events posted after the edit reach the new target")

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
