import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// What an operator relies on: SIGHUP reloads, /metrics, one relay per data directory.
@Suite(.timeLimit(.minutes(2)))
struct OperationsTests {
    static func rules(_ url: String) -> String {
        """
        { "targets": { "hook": { "url": "\(url)", "retry": { "attempts": 3, "initialBackoff": "10ms" } } },
          "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
        """
    }

    @Test func sighupSwapsInValidRulesAndKeepsTheRunningOnesWhenInvalid() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        let template = String(decoding: try Fixtures.bytes("minio/put-image.json"), as: UTF8.self)
        // Three distinct events (a resend of the same event would not be fanned out again).
        let bodies = (1...3).map { Array(template.replacingOccurrences(of: "74975E28", with: "74975E2\($0)").utf8) }
        try await Receiver.withReceiver { receiver in
            try Data(Self.rules(receiver.url(path: "/first")).utf8).write(to: URL(fileURLWithPath: rulesPath))
            let relay = try RelayProcess.start(
                ["serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"]
            )
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let url = "http://127.0.0.1:\(port)/minio-event"
            #expect(try await TestHTTP.post(url, body: bodies[0]).status == 200)
            _ = try await receiver.waitForRequests(count: 1, path: "/first")

            try Data(Self.rules(receiver.url(path: "/second")).utf8).write(to: URL(fileURLWithPath: rulesPath))
            relay.signal(SIGHUP)
            try await waitFor(relay, toPrint: "Rules reloaded")
            #expect(try await TestHTTP.post(url, body: bodies[1]).status == 200)
            _ = try await receiver.waitForRequests(count: 1, path: "/second")

            try Data(#"{ "rules": [ { "name": "x", "match": { "suffx": ".jpg" }, "to": ["missing"] } ] }"#.utf8)
                .write(to: URL(fileURLWithPath: rulesPath))
            relay.signal(SIGHUP)
            try await waitFor(relay, toPrint: "Rules reload failed")
            // Both diagnostics on the one line, readable: joined by "; ", no escaped newline between them.
            let failed = relay.text.split(separator: "\n").first { $0.contains("Rules reload failed") } ?? ""
            #expect(
                failed.contains(#"did you mean "suffix"?; "#) && failed.contains(#"unknown target "missing""#),
                "\(failed)"
            )
            #expect(!failed.contains(#"\u{a}"#), "\(failed)")
            #expect(try await TestHTTP.post(url, body: bodies[2]).status == 200)
            _ = try await receiver.waitForRequests(count: 2, path: "/second")
            #expect(receiver.requests(path: "/first").count == 1)

            let metrics = try await TestHTTP.get("http://127.0.0.1:\(port)/metrics")
            #expect(metrics.status == 200)
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(text.contains(#"relay_requests_total{outcome="accepted"} 3"#), "\(text)")
            #expect(text.contains("relay_delivery_attempts_total"), "\(text)")
            #expect(text.contains("relay_spool_pending_deliveries"), "\(text)")
        }
    }

    @Test func aSecondRelayOnTheSameDataDirectoryRefusesToStart() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        try Data(Self.rules("http://127.0.0.1:1/").utf8).write(to: URL(fileURLWithPath: rulesPath))
        let arguments = [
            "serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0",
        ]
        let first = try RelayProcess.start(arguments)
        defer { first.kill() }
        _ = try await first.waitForPort()
        let second = try await RelayProcess.run(arguments)
        #expect(second.status == 1)
        #expect(
            second.output.contains("another bucket-relay (pid \(first.process.processIdentifier))"),
            "\(second.output)"
        )
        // After a crash the kernel drops the lock: a new relay starts on the same directory.
        first.kill()
        let third = try RelayProcess.start(arguments)
        defer { third.kill() }
        _ = try await third.waitForPort()
    }

    @Test func pendingDeliveriesOfARemovedTargetGoToTheDeadLetterFile() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        let before = [
            "rules.json": """
            { "targets": { "gone": { "url": "http://127.0.0.1:1/", "retry": { "attempts": 50, "initialBackoff": "5s" } } },
              "rules": [ { "name": "all", "match": {}, "to": ["gone"] } ] }
            """
        ]
        try await TestRelay.with(rules: before, dataDirectory: data) { relay throws in
            #expect(try await relay.post(try Fixtures.bytes("minio/put-image.json")).status == 200)
            #expect(relay.relay.log.totals.pendingCount == 1)
        }
        let after = [
            "rules.json": """
            { "targets": { "other": { "url": "http://127.0.0.1:1/" } },
              "rules": [ { "name": "all", "match": {}, "to": ["other"] } ] }
            """
        ]
        try await TestRelay.with(rules: after, dataDirectory: data) { relay in
            let letters = try await relay.waitForDeadLetters(count: 1)
            #expect(letters.first?.reason == .unknownTarget)
            #expect(letters.first?.target == "gone")
            try await relay.waitForEmptySpool()
        }
    }

    private func waitFor(_ relay: RelayProcess, toPrint text: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !relay.text.contains(text) {
            if ContinuousClock.now > deadline { throw ReceiverError("relay never printed \"\(text)\":\n\(relay.text)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
