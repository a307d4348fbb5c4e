import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// `bucket-relay tap` run as a subprocess against `bucket-relay serve`, both the built binary.
@Suite(.timeLimit(.minutes(2)))
struct TapCommandTests {
    static let token = "tap-cli-token-7"

    static func waitFor(_ process: RelayProcess, _ text: String, count: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while process.text.components(separatedBy: text).count - 1 < count {
            if ContinuousClock.now > deadline || !process.process.isRunning {
                throw ReceiverError("never printed \(count)× \"\(text)\":\n\(process.text)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func printsDecisionsAndOutcomesAndStopsCleanlyOnSIGINT() async throws {
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
                environment: ["RELAY_ADMIN_TOKEN": Self.token]
            )
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let base = "http://127.0.0.1:\(port)"

            let tap = try RelayProcess.start(["tap", "--relay", base], environment: ["RELAY_ADMIN_TOKEN": Self.token])
            defer { tap.kill() }
            let json = try RelayProcess.start(
                ["tap", "--relay", base + "/", "--admin-token", Self.token, "--rule", "all", "--json"]
            )
            defer { json.kill() }
            try await Self.waitFor(tap, "tap: connected to \(base)/tap")
            try await Self.waitFor(json, "tap: connected")

            let template = String(decoding: try Fixtures.bytes("minio/put-image.json"), as: UTF8.self)
            for index in 1...3 {
                let body = template.replacingOccurrences(of: "cat.jpg", with: "cat\(index).jpg")
                #expect(try await TestHTTP.post(base + "/minio-event", body: Array(body.utf8)).status == 200)
            }
            try await Self.waitFor(tap, "delivered hook", count: 3)
            try await Self.waitFor(json, #""event":"delivered""#, count: 3)
            for index in 1...3 {
                #expect(
                    tap.text.contains(
                        "decision  routed minio s3:ObjectCreated:Put photos/uploads/2026/cat\(index).jpg rules=all "
                            + "targets=hook ids=msg_"
                    ),
                    "\(tap.text)"
                )
            }
            let decisions = json.text.split(separator: "\n").filter { $0.hasPrefix(#"{"event":"decision""#) }
            #expect(decisions.count == 3)
            for line in decisions {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["rules"] as? [String] == ["all"])
                #expect(object?["targets"] as? [String] == ["hook"])
            }

            tap.signal(SIGINT)
            #expect(try await tap.waitForExit(timeout: .seconds(10)) == 0)
            #expect(tap.text.contains("tap: 3 decisions, 3 outcomes, 0 dropped"), "\(tap.text)")
            // SIGTERM to the relay: the remaining tap is told and exits 0.
            relay.signal(SIGTERM)
            #expect(try await json.waitForExit(timeout: .seconds(10)) == 0, "\(json.text)")
            #expect(json.text.contains(#"{"event":"closing","reason":"the relay is stopping"}"#), "\(json.text)")
        }
    }

    @Test func saysClearlyWhyItCannotTap() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        try Data(
            #"{ "targets": { "t": { "url": "http://127.0.0.1:1/" } }, "rules": [ { "name": "r", "match": {}, "to": ["t"] } ] }"#
                .utf8
        ).write(to: URL(fileURLWithPath: rulesPath))
        let relay = try RelayProcess.start(
            ["serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"],
            environment: ["RELAY_ADMIN_TOKEN": Self.token]
        )
        defer { relay.kill() }
        let port = try await relay.waitForPort()
        let base = "http://127.0.0.1:\(port)"

        let wrong = try await RelayProcess.run(["tap", "--relay", base, "--admin-token", "nope"])
        #expect(wrong.status == 1)
        #expect(wrong.output.contains("answered 401"), "\(wrong.output)")
        #expect(wrong.output.contains("--admin-token"), "\(wrong.output)")
        #expect(!wrong.output.contains("nope"), "the token given is not printed")

        let missing = try await RelayProcess.run(["tap", "--relay", base])
        #expect(missing.status == 1)
        #expect(missing.output.contains("answered 401"), "\(missing.output)")

        let refused = try await RelayProcess.run(["tap", "--relay", "http://127.0.0.1:1", "--admin-token", "x"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("cannot connect to http://127.0.0.1:1"), "\(refused.output)")
        #expect(refused.output.contains("--relay"), "\(refused.output)")

        let help = try await RelayProcess.run(["tap", "--help"])
        #expect(help.status == 0)
        for text in ["--relay", "--rule", "--target", "--json", "RELAY_ADMIN_TOKEN", "dropped"] {
            #expect(help.output.contains(text), "\(text) not in --help:\n\(help.output)")
        }
    }
}
