import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// `bucket-relay dead-letters export --data-dir`: the lines of a real `serve`'s dead-letter file, as they are.
@Suite(.timeLimit(.minutes(2)))
struct DeadLetterExportTests {
    @Test func exportPrintsEveryLineOfTheDataDirectorysDeadLetterFile() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        try await Receiver.withReceiver { _, _ in
            ReceiverResponse(status: 400)
        } _: { receiver in
            let rules = root + "/rules.json"
            try Data(
                """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/reject"))", "timeout": "2s" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """.utf8
            ).write(to: URL(fileURLWithPath: rules))
            let empty = try await RelayProcess.run(["dead-letters", "export", "--data-dir", data])
            #expect(empty.status == 0)
            #expect(empty.output.isEmpty, "no file yet: nothing")
            let serve = try RelayProcess.start([
                "serve", "--rules", rules, "--data-dir", data, "--host", "127.0.0.1", "--port", "0",
            ])
            defer { serve.kill() }
            let port = try await serve.waitForPort()
            for index in 0..<3 {
                let body = Array(
                    """
                    {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
                    "s3":{"bucket":{"name":"photos"},"object":{"key":"export/\(index).txt","size":1}}}]}
                    """.utf8
                )
                #expect(try await TestHTTP.post("http://127.0.0.1:\(port)/", body: body).status == 200)
            }
            #expect(try await TestHTTP.post("http://127.0.0.1:\(port)/", body: #"{"hello":"world"}"#).status == 200)
            _ = try await receiver.waitForRequests(count: 3, path: "/reject", timeout: .seconds(20))
            let file = data + "/dead-letter.jsonl"
            var lines: [Substring] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while lines.count < 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n")
            }
            #expect(lines.count == 4)
            let export = try await RelayProcess.run(["dead-letters", "export", "--data-dir", data])
            #expect(export.status == 0, "\(export.output)")
            #expect(export.output.split(separator: "\n") == lines, "the file's lines, in order")
            let output = root + "/out.jsonl"
            let toFile = try await RelayProcess.run([
                "dead-letters", "export", "--data-dir", data, "--output", output,
            ])
            #expect(toFile.output.contains("4 dead letters written"), "\(toFile.output)")
            #expect(((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n") == lines)
            let mode = (try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int) ?? 0
            #expect(mode == 0o600)
        }
    }
}
