import ArgumentParser
import Dispatch
import Foundation
import RelayCore
import RelayDelivery
import RelayServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `bucket-relay tap`: prints what a running relay decides and delivers, as it happens, from its `GET /tap`
/// (docs/interface.md, "`tap`").
struct Tap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch a running relay: each record's decision and each delivery's outcome, live.",
        discussion: """
            Connects to GET /tap of the relay at --relay and prints one line per event: a record's decision \
            (routed, unmatched, duplicate or undecodable; source, event, bucket/key, rules, targets, delivery ids) \
            and each delivery's outcome (delivered with status and attempt, retry with its wait, dead letter with \
            its reason). --json prints the events as JSON lines instead, each with its "event" name.

            The relay keeps a small buffer per tap and never waits for one: a tap that reads too slowly loses \
            events, and is told how many ("dropped"). Ctrl-C stops it. Exit status: 0 when stopped or when the \
            relay stops, 1 when the relay cannot be reached or refuses (401: wrong or missing token).
            """
    )

    @Option(
        help: ArgumentHelp("The relay's base URL (RELAY_TAP_URL). Default http://127.0.0.1:8080.", valueName: "url")
    )
    var relay: String?
    @Option(
        help: ArgumentHelp(
            "The relay's admin token: its --admin-token, else its --auth-token (RELAY_ADMIN_TOKEN, which keeps it "
                + "out of ps).",
            valueName: "token"
        )
    )
    var adminToken: String?
    @Option(help: ArgumentHelp("Only events about this rule (repeatable).", valueName: "name"))
    var rule: [String] = []
    @Option(help: ArgumentHelp("Only events about this target (repeatable).", valueName: "name"))
    var target: [String] = []
    @Flag(help: "Print the events as JSON lines: {\"event\":NAME, ...the event's fields}.")
    var json = false

    func run() async throws {
        let base = ProcessEnvironment.twin(relay, "TAP_URL") ?? "http://127.0.0.1:8080"
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw ValidationError("--relay: \"\(RedactedURL.redact(base))\" is not an http:// or https:// URL")
        }
        let url = Self.tapURL(base: base, rules: rule, targets: target)
        var headers: [(name: String, value: String)] = []
        if let token = ProcessEnvironment.twin(adminToken, "ADMIN_TOKEN") {
            headers.append((name: "Authorization", value: "Bearer \(token)"))
        }
        // The filters are the tap's own (rule and target names, never secrets): only the base is redacted.
        let filters = url.dropFirst(Self.tapURL(base: base, rules: [], targets: []).count)
        let shown = RedactedURL.redact(Self.tapURL(base: base, rules: [], targets: [])) + filters
        let client = EventStreamClient(url: url, headers: headers)
        let counts = TapCounts()
        let json = self.json

        // Ctrl-C and SIGTERM end the stream; the process then exits 0 after a summary line.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { client.stop() }
            source.resume()
            return source
        }
        defer { for source in sources { source.cancel() } }

        let end = await withCheckedContinuation { (continuation: CheckedContinuation<EventStreamClient.End, Never>) in
            client.start(
                onEvent: { event in
                    counts.count(event)
                    if event.name == "ready" {
                        printError("tap: connected to \(shown)")
                        if !json { return }
                    }
                    if json {
                        Self.write(Self.jsonLine(event))
                    } else if let line = TapText.line(event) {
                        Self.write(line)
                    }
                },
                onEnd: { continuation.resume(returning: $0) }
            )
        }
        let summary =
            "tap: \(counts.decisions.load(ordering: .relaxed)) decisions, "
            + "\(counts.outcomes.load(ordering: .relaxed)) outcomes, \(counts.dropped.load(ordering: .relaxed)) dropped"
        switch end {
        case .stopped:
            printError(summary)
        case .closed:
            printError(summary)
            guard counts.closing.load(ordering: .relaxed) else {
                printError("bucket-relay tap: \(shown): the relay closed the stream")
                throw ExitCode(1)
            }
        case .refused(let status, let body):
            printError("bucket-relay tap: \(shown) answered \(status): \(Self.explain(status, body))")
            throw ExitCode(1)
        case .failed(let error):
            if error.code == .connectionRefused || error.code == .couldNotResolveHost || error.code == .timeout {
                printError(
                    "bucket-relay tap: cannot connect to \(RedactedURL.redact(base)) (\(error.message)); is the "
                        + "relay running there? Give its address with --relay URL"
                )
            } else {
                printError("bucket-relay tap: \(shown): \(error.message)")
            }
            throw ExitCode(1)
        }
    }

    /// `BASE/tap?rule=…&target=…`, the values percent-encoded.
    static func tapURL(base: String, rules: [String], targets: [String]) -> String {
        var url = base
        while url.hasSuffix("/") { url.removeLast() }
        url += "/tap"
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        let pairs =
            rules.map { ("rule", $0) } + targets.map { ("target", $0) }
        let query = pairs.map { name, value in
            name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }
        if !query.isEmpty { url += "?" + query.joined(separator: "&") }
        return url
    }

    /// What a refusal means and what to do about it.
    static func explain(_ status: Int, _ body: String) -> String {
        let detail =
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["detail"] as? String
        switch status {
        case 401:
            return "the token is missing or wrong; pass --admin-token TOKEN or set RELAY_ADMIN_TOKEN (the relay's "
                + "--admin-token, else its --auth-token)"
        case 404:
            return "no live tap there; is --relay the address of a bucket-relay serve?"
        default:
            return detail ?? (body.isEmpty ? "no detail" : String(body.prefix(200)))
        }
    }

    /// `{"event":NAME,` followed by the event's own members.
    static func jsonLine(_ event: ServerSentEvent) -> String {
        var name: [UInt8] = []
        JSONWriter.appendString(event.name, to: &name)
        let data = event.data.trimmingCharacters(in: .whitespaces)
        guard data.hasPrefix("{"), data.count > 2 else {
            return "{\"event\":\(String(decoding: name, as: UTF8.self)),\"data\":\(data.isEmpty ? "null" : data)}"
        }
        return "{\"event\":\(String(decoding: name, as: UTF8.self)),\(data.dropFirst())"
    }

    /// One line to standard output, unbuffered (a pipe sees it at once).
    static func write(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// What a tap saw, for its summary line.
final class TapCounts: Sendable {
    let decisions = Atomic<Int>(0)
    let outcomes = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let closing = Atomic<Bool>(false)

    func count(_ event: ServerSentEvent) {
        switch event.name {
        case "decision":
            decisions.add(1, ordering: .relaxed)
        case "delivered", "retry", "dead_letter":
            outcomes.add(1, ordering: .relaxed)
        case "dropped":
            let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
            dropped.add((object?["dropped"] as? Int) ?? 0, ordering: .relaxed)
        case "closing":
            closing.store(true, ordering: .relaxed)
        default:
            break
        }
    }
}
