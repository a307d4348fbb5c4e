import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// At `info` the relay logs a periodic summary instead of a line per event (docs/operations.md, "Logs").
@Suite(.timeLimit(.minutes(2)))
struct ActivitySummaryTests {
    static func waitFor(_ process: RelayProcess, _ text: String) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !process.text.contains(text) {
            if ContinuousClock.now > deadline || !process.process.isRunning {
                throw ReceiverError("never printed \"\(text)\":\n\(process.text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The activity summary lines of a relay's output.
    static func summaries(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasSuffix("Activity") }
    }

    /// The sum of `field=N` over every summary line.
    static func summed(_ field: String, _ text: String) -> Int {
        summaries(text).reduce(0) { total, line in
            let value = line.split(separator: " ").first { $0.hasPrefix(field + "=") }?.dropFirst(field.count + 1)
            return total + (value.flatMap { Int($0) } ?? 0)
        }
    }

    /// One summary line per period with what happened in it; no per-event line at `info`; the last period is written
    /// on a graceful stop.
    @Test func infoHasOneSummaryPerPeriodAndNoLinePerEvent() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        try await Receiver.withReceiver { receiver in
            let rules = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
                  "rules": [ { "name": "created", "match": { "event": "s3:ObjectCreated:*" }, "to": ["hook"] } ] }
                """
            try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
            let relay = try RelayProcess.start([
                "serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0",
                "--log-summary-interval", "1s",
            ])
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let base = "http://127.0.0.1:\(port)"
            let template = String(decoding: try Fixtures.bytes("minio/put-image.json"), as: UTF8.self)
            for index in 1...5 {
                let body = template.replacingOccurrences(of: "cat.jpg", with: "cat\(index).jpg")
                #expect(try await TestHTTP.post(base + "/minio-event", body: Array(body.utf8)).status == 200)
            }
            // A resend, one that matches no rule, one that is not an event.
            let first = template.replacingOccurrences(of: "cat.jpg", with: "cat1.jpg")
            #expect(try await TestHTTP.post(base + "/minio-event", body: Array(first.utf8)).status == 200)
            let removed = template.replacingOccurrences(of: "s3:ObjectCreated:Put", with: "s3:ObjectRemoved:Delete")
            #expect(try await TestHTTP.post(base + "/minio-event", body: Array(removed.utf8)).status == 200)
            #expect(try await TestHTTP.post(base + "/minio-event", body: Array(#"{"hello":1}"#.utf8)).status == 200)
            _ = try await receiver.waitForRequests(count: 5)

            // The counts may fall into more than one period: their sums are what happened.
            let expected = [
                "records": 7, "spooled": 5, "duplicates": 1, "unmatched": 1, "undecodable": 1, "delivered": 5,
                "dead_lettered": 0, "retried": 0,
            ]
            let deadline = ContinuousClock.now + .seconds(20)
            while expected.contains(where: { Self.summed($0.key, relay.text) < $0.value })
                && ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            }
            for (field, count) in expected {
                #expect(Self.summed(field, relay.text) == count, "\(field) in \(relay.text)")
            }
            let lines = Self.summaries(relay.text)
            #expect(lines.allSatisfy { $0.contains(" info ") }, "\(lines)")
            #expect(!relay.text.contains("Event spooled"), "no line per event at info")
            #expect(!relay.text.contains("Event matched no rule"))

            // Quiet periods log nothing; a graceful stop logs what the last period did.
            try await Task.sleep(for: .milliseconds(1500))
            let quiet = Self.summaries(relay.text).count
            try await Task.sleep(for: .milliseconds(2500))
            #expect(Self.summaries(relay.text).count == quiet, "\(relay.text)")
            let sixth = template.replacingOccurrences(of: "cat.jpg", with: "cat6.jpg")
            #expect(try await TestHTTP.post(base + "/minio-event", body: Array(sixth.utf8)).status == 200)
            relay.signal(SIGTERM)
            #expect(try await relay.waitForExit(timeout: .seconds(20)) == 0)
            #expect(Self.summed("records", relay.text) == 8, "\(relay.text)")
            #expect(Self.summaries(relay.text).count > quiet, "\(relay.text)")
        }
    }

    /// At `debug` each event has its line; `--log-summary-interval 0` turns the summary off.
    @Test func debugHasALinePerEventAndZeroTurnsTheSummaryOff() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        try await Receiver.withReceiver { receiver in
            let rules = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
            let relay = try RelayProcess.start(
                ["serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"],
                environment: ["RELAY_LOG_LEVEL": "debug", "RELAY_LOG_SUMMARY_INTERVAL": "0"]
            )
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let body = try Fixtures.bytes("minio/put-image.json")
            #expect(try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body).status == 200)
            _ = try await receiver.waitForRequests(count: 1)
            try await Self.waitFor(relay, "Event spooled")
            relay.signal(SIGTERM)
            #expect(try await relay.waitForExit(timeout: .seconds(20)) == 0)
            #expect(!relay.text.contains("Activity"), "\(relay.text)")
        }
    }

    @Test func aSummaryIntervalBelowOneSecondIsAUsageError() async throws {
        let result = try await RelayProcess.run(["serve", "--log-summary-interval", "10ms"])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains("--log-summary-interval"), "\(result.output)")
    }
}
