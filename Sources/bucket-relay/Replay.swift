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

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option(help: "Only lines for this target.")
    var target: String?
    @Option(help: "Only lines of this rule.")
    var rule: String?
    @Option(help: "Only lines written at or after this time (ISO 8601, e.g. 2026-11-29T10:00:00Z).")
    var since: String?
    @OptionGroup var rules: RulesOptions
    @Flag(help: "List what would be sent, send nothing.")
    var dryRun = false

    func run() async throws {
        let directory = dataDirectory.path
        let rulesPath = rules.path
        guard FileManager.default.fileExists(atPath: rulesPath) else {
            printError(
                "error: \(rulesPath): no such file or directory; replay sends only to targets of the rules, pass "
                    + "--rules FILE|DIR (env RELAY_RULES)"
            )
            throw ExitCode(1)
        }
        let ruleSet = try rules.load()
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
                    print("sent \(LogText.escaped(id)) to \(LogText.escaped(target)): HTTP \(status)")
                case .failed(let id, let target, let reason):
                    print("failed \(LogText.escaped(id)) to \(LogText.escaped(target)): \(LogText.escaped(reason))")
                case .unsendable(let id, let target):
                    print(
                        "cannot send \(LogText.escaped(id)): target \"\(LogText.escaped(target ?? "-"))\" is not in the "
                            + "rules (\(rulesPath)); add the target back to replay it"
                    )
                case .wouldSend(let id, let target, let url):
                    print("would send \(LogText.escaped(id)) to \(LogText.escaped(target)) \(LogText.escaped(url))")
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
