import ArgumentParser
import Foundation
import RelayCore
import RelayDelivery
import RelayServer
import RelaySpool

/// `bucket-relay replay`: sends dead letters again and removes only the ones that succeed.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-send dead letters to their targets; a line is removed only when its target answers 2xx."
    )

    @Option(help: "Directory holding dead-letter.jsonl (RELAY_DATA_DIR). Default data.")
    var dataDir: String?
    @Option(help: "Only lines for this target.")
    var target: String?
    @Option(help: "Only lines of this rule.")
    var rule: String?
    @Option(help: "Only lines written at or after this time (ISO 8601, e.g. 2026-11-29T10:00:00Z).")
    var since: String?
    @Option(help: "Rules to take target URLs and headers from (RELAY_RULES); else the URL in the line is used.")
    var rules: String?
    @Flag(help: "List what would be sent, send nothing.")
    var dryRun = false

    func run() async throws {
        let directory = ProcessEnvironment.twin(dataDir, "DATA_DIR") ?? "data"
        let path = directory + "/dead-letter.jsonl"
        guard FileManager.default.fileExists(atPath: path) else {
            print("\(path): no dead letters")
            return
        }
        var ruleSet: RuleSet?
        let rulesPath = ProcessEnvironment.twin(rules, "RULES") ?? "rules"
        if rules != nil || FileManager.default.fileExists(atPath: rulesPath) {
            switch RuleFiles.load(path: rulesPath, environment: ProcessEnvironment.values) {
            case .success(let loaded):
                ruleSet = loaded
            case .failure(let diagnostics):
                for diagnostic in diagnostics.diagnostics { printError(diagnostic.description) }
                throw ExitCode(1)
            }
        }
        var sinceMilliseconds: Int64?
        if let since {
            guard let parsed = Self.milliseconds(since) else {
                throw ValidationError("--since: \"\(since)\" is not an ISO 8601 time like 2026-11-29T10:00:00Z")
            }
            sinceMilliseconds = parsed
        }
        let entries = try DeadLetterFile.read(path: path)
        let client = try CurlClient()
        defer { client.shutdown() }
        var delivered: [String] = []
        var sent = 0
        var failed = 0
        var skipped = 0
        var planned = 0
        var unsendable = 0
        for entry in entries {
            guard let letter = entry.letter, letter.target != nil || letter.reason != "undecodable",
                selected(letter, since: sinceMilliseconds)
            else {
                skipped += 1
                continue
            }
            let targetName = letter.target ?? "-"
            let configured = ruleSet?.target(named: targetName)
            guard let url = configured?.url ?? letter.url else {
                print(
                    "cannot send \(letter.deliveryID ?? "-"): target \"\(targetName)\" is not in the rules "
                        + "(\(rulesPath)) and the line has no url; add the target back, or pass --rules"
                )
                unsendable += 1
                continue
            }
            if dryRun {
                print("would send \(letter.deliveryID ?? "-") to \(targetName) \(url)")
                planned += 1
                continue
            }
            let body = Array(letter.payload.utf8)
            var headers: [(name: String, value: String)]
            if let configured {
                headers = DeliveryHeaders.make(
                    target: configured,
                    deliveryID: letter.deliveryID ?? DeliveryID.make(),
                    rule: letter.rule,
                    attempt: nil,
                    body: body,
                    now: Int64(Date().timeIntervalSince1970)
                )
            } else {
                headers = [
                    (name: "Content-Type", value: "application/json"), (name: "User-Agent", value: "bucket-relay/1"),
                ]
                if let id = letter.deliveryID { headers.append((name: "webhook-id", value: id)) }
                if let rule = letter.rule { headers.append((name: "X-Relay-Rule", value: rule)) }
            }
            headers.append((name: "X-Relay-Replay", value: "1"))
            let request = HTTPRequest(
                method: "POST",
                url: url,
                headers: headers,
                body: body,
                timeout: configured?.timeout ?? .seconds(10)
            )
            do {
                let response = try await client.execute(request)
                if (200..<300).contains(response.status) {
                    sent += 1
                    delivered.append(entry.rawLine)
                    print("sent \(letter.deliveryID ?? "-") to \(targetName): HTTP \(response.status)")
                    continue
                }
                print("failed \(letter.deliveryID ?? "-") to \(targetName): HTTP \(response.status)")
            } catch {
                print("failed \(letter.deliveryID ?? "-") to \(targetName): \(error)")
            }
            failed += 1
        }
        if !delivered.isEmpty {
            // Removes only these lines, under the file's lock: lines a running relay appends meanwhile stay.
            try DeadLetterFile.rewrite(path: path, removing: delivered)
        }
        if dryRun {
            print("replay --dry-run: \(planned) would be sent, \(unsendable) cannot be sent, \(skipped) not selected")
            return
        }
        print(
            "replay: \(sent) sent and removed, \(failed) failed and kept, \(unsendable) cannot be sent, "
                + "\(skipped) not selected"
        )
        if failed > 0 || unsendable > 0 { throw ExitCode(1) }
    }

    private func selected(_ letter: DeadLetter, since: Int64?) -> Bool {
        if let target, letter.target != target { return false }
        if let rule, letter.rule != rule { return false }
        if let since {
            guard let time = Self.milliseconds(letter.time), time >= since else { return false }
        }
        return true
    }

    /// Milliseconds since the epoch of an ISO 8601 time with or without fractional seconds, `Z` or an offset.
    static func milliseconds(_ text: String) -> Int64? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        guard let date = withFraction.date(from: text) ?? plain.date(from: text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
