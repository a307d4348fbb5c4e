import ArgumentParser
import Foundation
import RelayCore
import RelayDelivery
import RelayServer

/// `bucket-relay replay`: sends dead letters again and removes only the ones that succeed (docs/delivery.md,
/// "Replay"). Safe while `serve` runs on the same data directory.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-send dead letters to their targets; a line is removed only when its target answers 2xx.",
        discussion: """
            Safe while `serve` runs on the same data directory: one replay at a time (replay.lock), lines the relay \
            appends meanwhile are kept. Lines are sent only to targets of the rules (--rules), at their configured \
            URL with their headers and signing secrets.
            """
    )

    @Option(help: "Directory holding dead-letter.jsonl (RELAY_DATA_DIR). Default data.")
    var dataDir: String?
    @Option(help: "Only lines for this target.")
    var target: String?
    @Option(help: "Only lines of this rule.")
    var rule: String?
    @Option(help: "Only lines written at or after this time (ISO 8601, e.g. 2026-11-29T10:00:00Z).")
    var since: String?
    @Option(help: "Rules to take target URLs, headers and secrets from (RELAY_RULES). Default rules.")
    var rules: String?
    @Flag(help: "List what would be sent, send nothing.")
    var dryRun = false

    func run() async throws {
        let directory = ProcessEnvironment.twin(dataDir, "DATA_DIR") ?? "data"
        let rulesPath = ProcessEnvironment.twin(rules, "RULES") ?? "rules"
        guard FileManager.default.fileExists(atPath: rulesPath) else {
            printError(
                "error: \(rulesPath): no such file or directory; replay sends only to targets of the rules, pass "
                    + "--rules FILE|DIR (env RELAY_RULES)"
            )
            throw ExitCode(1)
        }
        let ruleSet: RuleSet
        switch RuleFiles.load(path: rulesPath, environment: ProcessEnvironment.values) {
        case .success(let loaded):
            ruleSet = loaded
        case .failure(let diagnostics):
            for diagnostic in diagnostics.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
        var filter = DeadLetterReplay.Filter(target: target, rule: rule)
        if let since {
            guard let parsed = DeadLetterReplay.timestamp(since) else {
                throw ValidationError("--since: \"\(since)\" is not an ISO 8601 time like 2026-11-29T10:00:00Z")
            }
            filter.since = parsed
        }
        let replay = DeadLetterReplay(dataDirectory: directory, rules: ruleSet)
        guard FileManager.default.fileExists(atPath: replay.path) else {
            print("\(replay.path): no dead letters")
            return
        }
        let client = try CurlClient()
        defer { client.shutdown() }
        let summary: DeadLetterReplay.Summary
        do {
            summary = try await replay.run(filter, dryRun: dryRun, client: client) { event in
                switch event {
                case .sent(let id, let target, let status):
                    print("sent \(Text.escaped(id)) to \(Text.escaped(target)): HTTP \(status)")
                case .failed(let id, let target, let reason):
                    print("failed \(Text.escaped(id)) to \(Text.escaped(target)): \(Text.escaped(reason))")
                case .unsendable(let id, let target):
                    print(
                        "cannot send \(Text.escaped(id)): target \"\(Text.escaped(target ?? "-"))\" is not in the "
                            + "rules (\(rulesPath)); add the target back to replay it"
                    )
                case .wouldSend(let id, let target, let url):
                    print("would send \(Text.escaped(id)) to \(Text.escaped(target)) \(Text.escaped(url))")
                }
            }
        } catch let error as ReplayError {
            printError("error: \(error.message)")
            throw ExitCode(1)
        }
        if dryRun {
            print(
                "replay --dry-run: \(summary.planned) would be sent, \(summary.unsendable) cannot be sent, "
                    + "\(summary.skipped) not selected"
            )
            return
        }
        print(
            "replay: \(summary.sent) sent and removed, \(summary.failed) failed and kept, \(summary.unsendable) cannot "
                + "be sent, \(summary.skipped) not selected"
        )
        if summary.failed > 0 || summary.unsendable > 0 { throw ExitCode(1) }
    }
}

/// Escapes text printed to a terminal: control characters become `\u{…}` escapes, so a dead-letter line cannot move
/// the cursor or forge output lines.
enum Text {
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
