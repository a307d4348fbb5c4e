import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelayTestSupport
import Synchronization
import Testing

/// What an operator reads in the log of the real binary: the bind error first and alone, circuit transitions, and a
/// line for every dead letter reason.
@Suite(.timeLimit(.minutes(2)))
struct OperatorLogTests {
    @Test func aBusyPortGivesTheBindErrorAloneAndExitStatus1() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Receiver.withReceiver { busy in
            let result = try await RelayProcess.run([
                "serve", "--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data", "--host",
                "127.0.0.1", "--port", "\(busy.port)",
            ])
            #expect(result.status == 1, "\(result.output)")
            let lines = result.output.split(separator: "\n")
            let problems = lines.filter { line in
                !line.contains(" info ") && !line.contains(" debug ") && !line.contains(" notice ")
            }
            #expect(problems.count == 1, "only the bind error: \(problems)")
            #expect(problems.first?.contains("Address already in use (errno 98)") == true, "\(result.output)")
            let problem = problems.first ?? ""
            #expect(
                problem.filter { $0 == "(" }.count == problem.filter { $0 == ")" }.count,
                "balanced parentheses: \(problem)"
            )
            #expect(!result.output.contains("CancellationError"), "\(result.output)")
        }
    }

    @Test func aGracefulStopOfAnIdleRelayLogsItsStartAndItsEndWithWhatIsLeft() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let relay = try RelayProcess.start([
            "serve", "--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data", "--host", "127.0.0.1",
            "--port", "0",
        ])
        defer { relay.kill() }
        _ = try await relay.waitForPort()
        #expect(!relay.text.contains("Relay stopping"))
        relay.signal(SIGTERM)
        #expect(try await relay.waitForExit(timeout: .seconds(15)) == 0, "\(relay.text)")
        try await Task.sleep(for: .milliseconds(50))
        let lines = relay.text.split(separator: "\n")
        let stopping = try #require(lines.firstIndex { $0.contains("Relay stopping") }, "\(relay.text)")
        let stopped = try #require(lines.firstIndex { $0.contains("Relay stopped") }, "\(relay.text)")
        #expect(stopping < stopped)
        #expect(lines[stopping].contains(" info ") && lines[stopping].contains("pending=0"), "\(lines[stopping])")
        #expect(lines[stopped].contains(" info ") && lines[stopped].contains("pending=0"), "\(lines[stopped])")
        #expect(lines[stopped].contains("pending.bytes=0"), "\(lines[stopped])")
    }

    @Test func circuitTransitionsAndUnknownTargetDeadLettersReachTheLog() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let up = Mutex(false)
        try await Receiver.withReceiver { _, _ in
            up.withLock { $0 } ? ReceiverResponse(status: 204) : ReceiverResponse(status: 503)
        } _: { receiver in
            let rules = root + "/rules.json"
            func write(_ targets: [String]) throws {
                let defined = targets.map { name in
                    """
                    "\(name)": { "url": "\(receiver.url(path: "/" + name))", "timeout": "1s",
                      "retry": { "attempts": 1000, "initialBackoff": "20ms", "maxBackoff": "50ms" } }
                    """
                }
                let text = """
                    { "targets": { \(defined.joined(separator: ",")) },
                      "rules": [ { "name": "all", "match": {}, "to": [\(targets.map { "\"\($0)\"" }
                        .joined(separator: ","))] } ] }
                    """
                try Data(text.utf8).write(to: URL(fileURLWithPath: rules))
            }
            try write(["hook", "gone"])
            let serve = try RelayProcess.start([
                "serve", "--rules", rules, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0",
            ])
            defer { serve.kill() }
            let port = try await serve.waitForPort()
            let answer = try await TestHTTP.post(
                "http://127.0.0.1:\(port)/minio-event",
                body: try Fixtures.bytes("minio/put-image.json")
            )
            #expect(answer.status == 200)
            try await Self.waitFor("circuit open", in: serve)
            // The target "gone" leaves the rules while its delivery is pending: dead-lettered as unknown_target.
            try write(["hook"])
            serve.signal(SIGHUP)
            try await Self.waitFor("dead_letter.reason=unknown_target", in: serve)
            up.withLock { $0 = true }
            try await Self.waitFor("circuit closed", in: serve, timeout: .seconds(40))
            serve.signal(SIGTERM)
            #expect(try await serve.waitForExit(timeout: .seconds(15)) == 0)
        }
    }

    @Test func matchPrintsKeysEscaped() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let event = root + "/event.json"
        let body =
            #"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","#
            + #""s3":{"bucket":{"name":"photos"},"object":{"key":"a%0Aforged%1B%5B31m.jpg","size":1}}}]}"#
        try Data(body.utf8).write(to: URL(fileURLWithPath: event))
        let result = try await RelayProcess.run([
            "match", "--rules", Fixtures.packageRoot + "/rules", "--explain", event,
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(#"key=a\u{a}forged\u{1b}[31m.jpg"#), "\(result.output)")
        #expect(!result.output.contains("\u{1b}"), "no raw ESC reaches the terminal")
        #expect(!result.output.contains("\nforged"), "no forged line")
    }

    static func waitFor(_ text: String, in process: RelayProcess, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !process.text.contains(text) {
            guard ContinuousClock.now < deadline else {
                Issue.record("no \"\(text)\" in the log within \(timeout):\n\(process.text)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
