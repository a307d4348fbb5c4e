import ArgumentParser
import Foundation
import Logging
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog
import RelayServer

/// `bucket-relay replay`: sends dead letters again and removes only the ones that succeed (docs/delivery.md,
/// "Replay"). Safe while `serve` runs on the same data directory.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-send dead letters to their targets; a line is removed only when its target answers 2xx.",
        discussion: """
            Safe while `serve` runs on the same data directory: one replay at a time (replay.lock), lines the relay \
            appends meanwhile are kept. Lines are sent only to targets of the rules (--rules), at their configured \
            URL with their headers and signing secrets. With --jetstream, the dead letters of the stream \
            RELAY_DEADLETTERS are appended again to their targets' pending deliveries (the relays serving on that \
            NATS deliver them) and removed from the stream.
            """
    )

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var jetStream: JetStreamOptions
    @Option(help: "Only lines for this target.")
    var target: String?
    @Option(help: "Only lines of this rule.")
    var rule: String?
    @Option(help: "Only lines written at or after this time (ISO 8601, e.g. 2026-11-29T10:00:00Z).")
    var since: String?
    @OptionGroup var rules: RulesOptions
    @Flag(help: "List what would be sent, send nothing.")
    var dryRun = false
    // Unconditional: `--progress-every -5` gets the error below, not the parser's "Missing value".
    @Option(
        parsing: .unconditional,
        help: "Seconds between progress lines when the output is not a terminal. Default 2."
    )
    var progressEvery: Double = 2

    func run() async throws {
        guard progressEvery.isFinite, progressEvery > 0 else {
            throw ValidationError(
                "--progress-every: durations must be positive (got \(progressEvery)); give the seconds, e.g. 2 or 0.5"
            )
        }
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
        let jetStreamConfiguration = try jetStream.configuration()
        let replay = DeadLetterReplay(dataDirectory: directory, rules: ruleSet)
        if let target, ruleSet.target(named: target) == nil {
            // Lines for it cannot be sent: say so before anything, with the targets there are.
            let naming = jetStreamConfiguration == nil ? (try? replay.count(.init(target: target)).selected) : nil
            printError(Self.unknownTargetMessage(target, ruleSet: ruleSet, rulesPath: rulesPath, naming: naming))
            throw ExitCode(1)
        }
        if let configuration = jetStreamConfiguration {
            try await runOnJetStream(configuration, ruleSet: ruleSet, filter: filter, rulesPath: rulesPath)
            return
        }
        guard FileManager.default.fileExists(atPath: replay.path) else {
            print("\(replay.path): no dead letters")
            return
        }
        let client = try CurlClient()
        defer { client.shutdown() }
        let total = try replay.count(filter).selected
        var progress = ReplayProgress(
            total: total,
            isTerminal: !dryRun && isatty(STDOUT_FILENO) == 1,
            interval: .milliseconds(Int64(min(max(0.05, progressEvery), 86_400) * 1000))
        )
        let shownPerKind = 20
        var shown = (failed: 0, unsendable: 0, neverRouted: 0)
        let summary: DeadLetterReplay.Summary
        do {
            summary = try await replay.run(filter, dryRun: dryRun, client: client) { event in
                switch event {
                case .sent, .requeued:
                    progress.record(sent: true)
                case .failed(let id, let target, let reason):
                    progress.record(sent: false)
                    shown.failed += 1
                    if shown.failed <= shownPerKind {
                        progress.print(
                            "failed \(LogText.escaped(id)) to \(LogText.escaped(target)): \(LogText.escaped(reason))"
                        )
                    }
                case .unsendable(let id, let target):
                    progress.record(sent: false)
                    shown.unsendable += 1
                    if shown.unsendable <= shownPerKind {
                        progress.print(
                            "cannot send \(LogText.escaped(id)): target \"\(LogText.escaped(target ?? "-"))\" is not in "
                                + "the rules (\(rulesPath)); add the target back to replay it"
                        )
                    }
                case .neverRouted(let line):
                    shown.neverRouted += 1
                    if shown.neverRouted <= shownPerKind { progress.print(Self.neverRoutedMessage(line)) }
                case .wouldSend(let id, let target, let url):
                    print("would send \(LogText.escaped(id)) to \(LogText.escaped(target)) \(LogText.escaped(url))")
                }
            }
        } catch let error as ReplayError {
            printError("error: \(error.message)")
            throw ExitCode(1)
        }
        progress.finish()
        if shown.failed > shownPerKind { print("... and \(shown.failed - shownPerKind) more failed") }
        if shown.unsendable > shownPerKind { print("... and \(shown.unsendable - shownPerKind) more cannot be sent") }
        if shown.neverRouted > shownPerKind {
            print("... and \(shown.neverRouted - shownPerKind) more never routed to a target")
        }
        if summary.selected == 0 && summary.neverRouted == 0 {
            print(noneSelectedMessage(among: summary.skipped, in: "the file"))
        }
        if dryRun {
            print(
                "replay --dry-run: \(summary.planned) would be sent, \(summary.unsendable) cannot be sent, "
                    + "\(summary.neverRouted) never routed (kept), \(summary.skipped) not selected"
            )
            return
        }
        let left = (try? replay.count(.init()).total) ?? 0
        print(
            "replay: \(summary.sent) sent and removed, \(summary.failed) failed and kept, \(summary.unsendable) cannot "
                + "be sent, \(summary.neverRouted) never routed (kept), \(summary.skipped) not selected; \(left) left "
                + "in the file"
        )
        if summary.failed > 0 || summary.unsendable > 0 { throw ExitCode(1) }
    }
}

extension Replay {
    /// `replay --jetstream`: re-queues the selected dead letters of RELAY_DEADLETTERS as pending deliveries.
    private func runOnJetStream(
        _ configuration: JetStreamConfiguration,
        ruleSet: RuleSet,
        filter: DeadLetterReplay.Filter,
        rulesPath: String
    ) async throws {
        let log: JetStreamDeliveryLog
        do {
            log = try await JetStreamDeliveryLog.open(
                configuration,
                logger: Logger(label: "bucket-relay", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        } catch {
            printError(
                "error: cannot open the delivery log on JetStream: \(error) (replay does not create streams: start a "
                    + "relay with serve --jetstream first)"
            )
            throw ExitCode(1)
        }
        let replay = JetStreamDeadLetterReplay(log: log, rules: ruleSet)
        let summary: DeadLetterReplay.Summary
        let left: Int
        do {
            let total = try await replay.count(filter).selected
            var progress = ReplayProgress(
                total: total,
                isTerminal: !dryRun && isatty(STDOUT_FILENO) == 1,
                interval: .milliseconds(Int64(min(max(0.05, progressEvery), 86_400) * 1000))
            )
            let shownPerKind = 20
            var unsendable = 0
            var neverRouted = 0
            summary = try await replay.run(filter, dryRun: dryRun) { event in
                switch event {
                case .requeued, .sent:
                    progress.record(sent: true)
                case .failed:
                    progress.record(sent: false)
                case .unsendable(let id, let target):
                    progress.record(sent: false)
                    unsendable += 1
                    if unsendable <= shownPerKind {
                        progress.print(
                            "cannot send \(LogText.escaped(id)): target \"\(LogText.escaped(target ?? "-"))\" is not in "
                                + "the rules (\(rulesPath)); add the target back to replay it"
                        )
                    }
                case .neverRouted(let line):
                    neverRouted += 1
                    if neverRouted <= shownPerKind { progress.print(Self.neverRoutedMessage(line)) }
                case .wouldSend(let id, let target, let url):
                    print("would send \(LogText.escaped(id)) to \(LogText.escaped(target)) \(LogText.escaped(url))")
                }
            }
            progress.finish()
            if unsendable > shownPerKind { print("... and \(unsendable - shownPerKind) more cannot be sent") }
            if neverRouted > shownPerKind {
                print("... and \(neverRouted - shownPerKind) more never routed to a target")
            }
            if summary.selected == 0 && summary.neverRouted == 0 {
                print(noneSelectedMessage(among: summary.skipped, in: "the stream"))
            }
            left = dryRun ? 0 : (try? await replay.count(.init()).total) ?? 0
        } catch {
            await log.close()
            printError("error: \(error)")
            throw ExitCode(1)
        }
        await log.close()
        if dryRun {
            print(
                "replay --dry-run: \(summary.planned) would be sent, \(summary.unsendable) cannot be sent, "
                    + "\(summary.neverRouted) never routed (kept), \(summary.skipped) not selected"
            )
            return
        }
        print(
            "replay: \(summary.sent) re-queued for delivery and removed, \(summary.unsendable) cannot be sent, "
                + "\(summary.neverRouted) never routed (kept), \(summary.skipped) not selected; \(left) left in "
                + "\(JetStreamConfiguration(servers: []).streamPrefix)_DEADLETTERS"
        )
        if summary.unsendable > 0 { throw ExitCode(1) }
    }
}

extension Replay {
    /// The line printed for a dead letter that names no target: what it is and why it is not replayed.
    static func neverRoutedMessage(_ line: DeadLetterReplay.NeverRouted) -> String {
        "kept the dead letter of \(LogText.escaped(line.time)) (reason \(line.reason.rawValue)): it was never routed to "
            + "a target, so replay has nothing to send; \(LogText.escaped(line.explanation))"
    }

    /// The error of `--target NAME` for a target the rules do not have: the targets they have, and how many dead
    /// letters name it (`naming`, when known).
    static func unknownTargetMessage(_ target: String, ruleSet: RuleSet, rulesPath: String, naming: Int?) -> String {
        let names = ruleSet.targets.map { LogText.escaped($0.name) }.sorted()
        var message =
            "error: --target \"\(LogText.escaped(target))\" is not a target of the rules (\(rulesPath)); "
            + (names.isEmpty ? "they have no target" : "their targets: \(names.joined(separator: ", "))")
        if let naming, naming > 0 {
            message += "; \(naming) dead letter(s) name it: add the target back to the rules to replay them"
        } else if naming == 0 {
            message += "; no dead letter names it"
        }
        return message
    }

    /// The line printed when the selection holds no dead letter: which selection, and how many letters were looked at.
    func noneSelectedMessage(among count: Int, in place: String) -> String {
        var selection: [String] = []
        if let target { selection.append("--target \(LogText.escaped(target))") }
        if let rule { selection.append("--rule \(LogText.escaped(rule))") }
        if let since { selection.append("--since \(LogText.escaped(since))") }
        let what =
            selection.isEmpty
            ? "no dead letter to replay" : "no dead letter matches \(selection.joined(separator: " "))"
        return "replay: \(what) (\(count) in \(place)); nothing sent"
    }
}

/// Replay's progress: on a terminal a bar with rate and ETA redrawn in place, otherwise a line of counts every
/// `interval`.
struct ReplayProgress {
    let total: Int
    let isTerminal: Bool
    let interval: Duration
    private let started = ContinuousClock.now
    private var lastShown = ContinuousClock.now
    private var done = 0
    private var sent = 0
    private var barShown = false

    init(total: Int, isTerminal: Bool, interval: Duration) {
        self.total = total
        self.isTerminal = isTerminal
        self.interval = interval
    }

    /// Counts one line handled.
    mutating func record(sent wasSent: Bool) {
        done += 1
        if wasSent { sent += 1 }
        let now = ContinuousClock.now
        let every = isTerminal ? Duration.milliseconds(100) : interval
        if now - lastShown >= every || (isTerminal && done == total) {
            lastShown = now
            show(now)
        }
    }

    /// Prints a line above the bar.
    mutating func print(_ line: String) {
        if barShown { Swift.print("\r\u{1B}[2K", terminator: "") }
        Swift.print(line)
        barShown = false
    }

    /// Ends the bar with a newline.
    mutating func finish() {
        if isTerminal && total > 0 {
            show(ContinuousClock.now)
            Swift.print("")
        }
    }

    private mutating func show(_ now: ContinuousClock.Instant) {
        let elapsed = max(Double((now - started).wholeMilliseconds) / 1000, 0.001)
        let rate = Double(done) / elapsed
        let left = rate > 0 ? Double(max(0, total - done)) / rate : 0
        let percent = total > 0 ? done * 100 / total : 100
        if isTerminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            Swift.print(
                "\r\u{1B}[2K[\(bar)] \(done)/\(total) \(percent)% \(Int(rate))/s ETA \(Int(left.rounded()))s",
                terminator: ""
            )
            fflush(nil)
            barShown = true
        } else {
            Swift.print(
                "replay: \(done) of \(total) done (\(sent) sent, \(done - sent) not), \(Int(rate))/s, about "
                    + "\(Int(left.rounded())) s left"
            )
            fflush(nil)
        }
    }
}
