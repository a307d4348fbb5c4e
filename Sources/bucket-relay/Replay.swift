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
        let entries = try DeadLetterFile.read(path: path)
        let client = try CurlClient()
        defer { client.shutdown() }
        var delivered: [String] = []
        var sent = 0
        var failed = 0
        var skipped = 0
        for entry in entries {
            guard let letter = entry.letter, let targetName = letter.target, selected(letter) else {
                skipped += 1
                continue
            }
            let configured = ruleSet?.target(named: targetName)
            guard let url = configured?.url ?? letter.url else {
                skipped += 1
                continue
            }
            if dryRun {
                print("would send \(letter.deliveryID ?? "-") to \(targetName) \(url)")
                continue
            }
            var headers = configured?.headers ?? []
            headers.append((name: "Content-Type", value: "application/json"))
            headers.append((name: "User-Agent", value: "bucket-relay/1"))
            if let id = letter.deliveryID { headers.append((name: "webhook-id", value: id)) }
            headers.append((name: "X-Relay-Replay", value: "1"))
            let request = HTTPRequest(
                method: "POST",
                url: url,
                headers: headers,
                body: Array(letter.payload.utf8),
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
        print("replay: \(sent) sent and removed, \(failed) failed and kept, \(skipped) not selected")
        if failed > 0 { throw ExitCode(1) }
    }

    private func selected(_ letter: DeadLetter) -> Bool {
        if let target, letter.target != target { return false }
        if let rule, letter.rule != rule { return false }
        if let since, letter.time < since { return false }
        return true
    }
}
