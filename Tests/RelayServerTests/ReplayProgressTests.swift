import Foundation
import RelayCore
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// Replay of 20,000 dead letters shows its work: a progress bar on a terminal, periodic counts otherwise, and one
/// summary line; not 20,000 lines.
@Suite(.timeLimit(.minutes(3)))
struct ReplayProgressTests {
    static let count = 20_000

    /// Writes `count` dead letters for target `hook` into `data`.
    static func deadLetters(in data: String) async throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let file = try DeadLetterFile(directory: data)
        defer { file.close() }
        let time = Timestamp.now().iso8601
        var letters: [DeadLetter] = []
        for index in 0..<count {
            letters.append(
                DeadLetter(
                    time: time,
                    reason: .exhausted,
                    rule: "all",
                    target: "hook",
                    deliveryID: "msg_\(index)",
                    attempts: 10,
                    payload: #"{"n":\#(index)}"#
                )
            )
            if letters.count == 1_000 {
                try await file.append(letters)
                letters.removeAll(keepingCapacity: true)
            }
        }
        try await file.append(letters)
    }

    static func rules(_ root: String, _ receiver: Receiver) throws -> String {
        let path = root + "/rules.json"
        try Data(
            """
            { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
              "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
            """.utf8
        ).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func underAPseudoTerminalReplayShowsAProgressBar() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Self.deadLetters(in: root + "/data")
        try await Receiver.withReceiver { receiver in
            let rules = try Self.rules(root, receiver)
            let command = [RelayProcess.executable, "replay", "--data-dir", root + "/data", "--rules", rules]
                .joined(separator: " ")
            // `script` gives the command a pseudo-terminal and copies what it prints.
            let process = try ChildProcess.spawn("/usr/bin/script", ["-qec", command, "/dev/null"])
            await process.finished()
            let output = process.outputText
            #expect(process.terminationStatus == 0, "\(output.suffix(500))")
            #expect(output.contains("] 20000/20000 100%"), "\(output.suffix(500))")
            #expect(output.contains("ETA"))
            #expect(output.contains("\r"), "the bar is redrawn in place")
            #expect(output.contains("replay: 20000 sent and removed"), "\(output.suffix(300))")
            #expect(output.contains("0 left in the file"))
            #expect(output.split(separator: "\n").count < 10, "a bar, not a line per dead letter")
            #expect(receiver.requests(path: "/hook").count == Self.count)
        }
    }

    @Test func withoutATerminalReplayPrintsPeriodicCounts() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Self.deadLetters(in: root + "/data")
        try await Receiver.withReceiver { receiver in
            let rules = try Self.rules(root, receiver)
            let result = try await RelayProcess.run(
                ["replay", "--data-dir", root + "/data", "--rules", rules, "--progress-every", "0.2"],
                timeout: .seconds(120)
            )
            #expect(result.status == 0, "\(result.output.suffix(500))")
            let lines = result.output.split(separator: "\n")
            let periodic = lines.filter { $0.contains(" of 20000 done (") }
            #expect(!periodic.isEmpty, "\(result.output.suffix(500))")
            #expect(!result.output.contains("\u{1B}["), "no terminal control sequences in a file")
            #expect(lines.last?.hasPrefix("replay: 20000 sent and removed") == true, "\(lines.last ?? "")")
            #expect(lines.count < 1_000, "counts every few seconds, not a line per dead letter")
        }
    }
}
