import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// The example Grafana dashboard and Prometheus alert rules use only metrics a real relay exports.
@Suite(.timeLimit(.minutes(2)))
struct ExampleMetricsTests {
    static let dashboard = Fixtures.packageRoot + "/examples/grafana/bucket-relay.json"
    static let alerts = Fixtures.packageRoot + "/examples/prometheus/alerts.yaml"

    /// The PromQL expressions of the dashboard: every `expr` string, at any depth.
    static func dashboardExpressions() throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: dashboard), "cannot read \(dashboard)")
        var found: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, member) in object {
                    if key == "expr", let text = member as? String { found.append(text) } else { walk(member) }
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(try JSONSerialization.jsonObject(with: data))
        return found
    }

    /// The PromQL expressions of the alert rules: each `expr:` value, on its line or as a `|`/`>` block below it.
    static func alertExpressions() throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: alerts), "cannot read \(alerts)")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var found: [String] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard let range = line.range(of: "expr:") else { continue }
            let value = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("|") || value.hasPrefix(">") {
                let indent = line.prefix { $0 == " " }.count
                var block: [String] = []
                while index < lines.count,
                    lines[index].prefix(while: { $0 == " " }).count > indent
                        || lines[index].trimmingCharacters(in: .whitespaces).isEmpty
                {
                    block.append(String(lines[index]))
                    index += 1
                }
                found.append(block.joined(separator: "\n"))
            } else {
                found.append(value)
            }
        }
        return found
    }

    /// The `relay_…` metric names in a PromQL expression (an identifier not preceded by a name character).
    static func metricNames(in expression: String) -> Set<String> {
        var names: Set<String> = []
        let scalars = Array(expression.unicodeScalars)
        func isName(_ s: Unicode.Scalar) -> Bool {
            (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_" || s == ":"
        }
        var index = 0
        while index < scalars.count {
            if isName(scalars[index]) {
                var end = index
                while end < scalars.count, isName(scalars[end]) { end += 1 }
                let word = String(String.UnicodeScalarView(scalars[index..<end]))
                if word.hasPrefix("relay_") { names.insert(word) }
                index = end
            } else {
                index += 1
            }
        }
        return names
    }

    /// The sample names of a `/metrics` text, plus the family name of each histogram's `_bucket`/`_sum`/`_count`.
    static func exported(_ text: String) -> Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            names.insert(name)
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                names.insert(String(name.dropLast(suffix.count)))
            }
        }
        return names
    }

    @Test func everyMetricOfTheDashboardAndTheAlertsExistsOnARealRelay() async throws {
        let expressions = try Self.dashboardExpressions() + Self.alertExpressions()
        let used = expressions.reduce(into: Set<String>()) { $0.formUnion(Self.metricNames(in: $1)) }
        // The parse found what the files are about (it cannot pass by finding nothing).
        for name in [
            "relay_requests_total", "relay_delivery_attempt_duration_seconds_bucket", "relay_target_circuit_state",
            "relay_target_oldest_pending_age_seconds", "relay_dead_letters_total", "relay_rule_reloads_total",
            "relay_ready",
        ] {
            #expect(used.contains(name), "\(name) is not used by the examples (parsed: \(used.sorted()))")
        }

        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        try await Receiver.withReceiver { receiver in
            let rules = """
                { "targets": {
                    "healthy": { "url": "\(receiver.url(path: "/ok"))" },
                    "dead": { "url": "http://127.0.0.1:1/",
                              "retry": { "attempts": 1, "initialBackoff": "10ms", "maxBackoff": "10ms" } } },
                  "rules": [ { "name": "all", "match": {}, "to": ["healthy", "dead"] } ] }
                """
            try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
            let relay = try RelayProcess.start(
                ["serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"]
            )
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let base = "http://127.0.0.1:\(port)"
            // Six events: each fails once at `dead` (dead-lettered at once); five failures in a row open its circuit.
            let template = String(decoding: try Fixtures.bytes("minio/put-image.json"), as: UTF8.self)
            for index in 1...6 {
                let body = template.replacingOccurrences(of: "cat.jpg", with: "cat\(index).jpg")
                #expect(try await TestHTTP.post(base + "/minio-event", body: Array(body.utf8)).status == 200)
            }
            _ = try await receiver.waitForRequests(count: 6, path: "/ok")
            // A reload, so that the reload counter exists.
            relay.signal(SIGHUP)
            var text = ""
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline {
                text = String(decoding: try await TestHTTP.get(base + "/metrics").body, as: UTF8.self)
                if text.contains("relay_dead_letters_total{"), text.contains("relay_rule_reloads_total"),
                    text.contains("relay_circuit_transitions_total{")
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let exported = Self.exported(text)
            for name in used.sorted() {
                #expect(exported.contains(name), "\(name) is used by the examples but not on /metrics:\n\(text)")
            }
            #expect(text.contains(#"relay_delivery_attempt_duration_seconds_bucket{target="healthy",le="0.001"}"#))
            #expect(text.contains("relay_ready 1"), "\(text)")
        }
    }
}
