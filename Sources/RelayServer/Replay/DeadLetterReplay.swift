import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelaySpool

/// Sends dead letters again and removes the ones whose target answered 2xx (docs/delivery.md, "Replay").
///
/// Guarantees, with or without a `serve` running on the same data directory:
/// - Only one replay runs at a time (``ReplayLock``).
/// - A line leaves the file only after its target answered 2xx, and lines appended meanwhile (by a running relay)
///   are kept: removal re-reads the file under its exclusive lock and removes exactly the lines sent.
/// - Sent lines are removed as the replay goes (about once a second), so a replay that is killed re-sends at most the
///   last second's lines (with their original `webhook-id`, so receivers can drop the repeat).
/// - A line is sent only to a target of the loaded rules, at its configured URL with its configured headers and
///   signing secrets; a line for a target not in the rules is never sent anywhere.
/// - A line that names no target (undecodable input, an SNS notification refused by its signature or topic: input
///   that was never routed) is never sent nor routed again: it is kept and reported as ``Event/neverRouted(_:)``.
public struct DeadLetterReplay: Sendable {
    /// Which lines to send.
    public struct Filter: Sendable {
        /// Only lines for this target.
        public var target: String?
        /// Only lines of this rule.
        public var rule: String?
        /// Only lines written at or after this time.
        public var since: Timestamp?
        /// Only the lines of this delivery (one line, unless it was dead-lettered twice).
        public var deliveryID: String?

        public init(target: String? = nil, rule: String? = nil, since: Timestamp? = nil, deliveryID: String? = nil) {
            self.target = target
            self.rule = rule
            self.since = since
            self.deliveryID = deliveryID
        }
    }

    /// What happened to one line, reported as the replay goes.
    public enum Event: Sendable {
        /// Sent, the target answered 2xx; the line is removed.
        case sent(deliveryID: String, target: String, status: Int)
        /// Sent, the target did not answer 2xx (or could not be reached); the line stays.
        case failed(deliveryID: String, target: String, reason: String)
        /// Not sent: the target is not in the rules; the line stays.
        case unsendable(deliveryID: String, target: String?)
        /// Not sent: the line names no target, because its input was never routed (its `reason`: `undecodable`,
        /// `undecodable_overflow`, `bad_signature`, `sns_topic_not_allowed`); the line stays. Reported when the
        /// filter selects no target (`--target` never selects these lines).
        case neverRouted(NeverRouted)
        /// Dry run: would be sent to this (redacted) URL.
        case wouldSend(deliveryID: String, target: String, url: String)
        /// With JetStream (``JetStreamDeadLetterReplay``): appended to the target's pending deliveries and removed
        /// from the dead letters; the relays deliver it.
        case requeued(deliveryID: String, target: String)
    }

    /// A line that names no target, as reported by ``Event/neverRouted(_:)``.
    public struct NeverRouted: Sendable, Equatable {
        /// When the line was written (ISO 8601), which identifies it: such lines have no delivery id.
        public var time: String
        public var reason: DeadLetterReason
        /// The field at fault of an `undecodable` line, if any.
        public var field: String?
        /// The line's explanation, if any.
        public var detail: String?

        /// Why such a line is not replayed, and what to do instead: one sentence without a final period.
        public var explanation: String {
            switch reason {
            case .undecodable, .undecodableOverflow:
                let at = field.map { " (field \($0))" } ?? ""
                return "the body received is not a routable event\(at); fix it at the sender, which sends it again"
            case .badSignature:
                return "its SNS signature did not verify, so it is never routed (docs/security.md, \"SNS signatures\")"
            case .snsTopicNotAllowed:
                return "its SNS topic is not allowed by --sns-topic-arn; allow the topic, then have S3 send the event "
                    + "again"
            default:
                return "the line names no target to send it to"
            }
        }
    }

    /// The counts of one replay.
    public struct Summary: Sendable, Equatable {
        /// Lines sent and removed (with JetStream: re-queued as pending deliveries and removed).
        public var sent = 0
        /// Lines sent whose target did not answer 2xx; kept.
        public var failed = 0
        /// Lines for a target not in the rules; kept, not sent.
        public var unsendable = 0
        /// Lines not selected by the filter; kept.
        public var skipped = 0
        /// Lines selected by the filter that name no target (never routed, ``Event/neverRouted(_:)``); kept, not
        /// sent, not counted in `selected`.
        public var neverRouted = 0
        /// Dry run: lines that would be sent.
        public var planned = 0
        /// Lines selected in all (sent + failed + unsendable, or planned + unsendable).
        public var selected = 0

        public init() {}
    }

    /// The data directory holding `dead-letter.jsonl`.
    public let dataDirectory: String
    /// The rules in force: where each target is and how it is signed.
    public let rules: RuleSet
    /// Sent lines are removed from the file once a second (at least 64 of them, or this many at most), and at the
    /// end: each removal rewrites the file, so a large replay removes in large steps.
    public var removalBatch = 4096
    /// Lines in flight at once (each to its own target's URL). Default 8.
    public var concurrency = 8

    public init(dataDirectory: String, rules: RuleSet) {
        self.dataDirectory = dataDirectory
        self.rules = rules
    }

    /// The path of the dead-letter file.
    public var path: String { (dataDirectory as NSString).appendingPathComponent(DeadLetterFile.fileName) }

    /// The lines a replay with `filter` would consider, without sending anything: (selected, total lines).
    public func count(_ filter: Filter) throws -> (selected: Int, total: Int) {
        guard FileManager.default.fileExists(atPath: path) else { return (0, 0) }
        let entries = try DeadLetterFile.read(path: path)
        return (entries.filter { Self.selected($0.letter, filter) }.count, entries.count)
    }

    /// Runs one replay.
    ///
    /// - Parameters:
    ///   - filter: which lines.
    ///   - dryRun: report what would be sent, send nothing, remove nothing.
    ///   - client: the HTTP client to send with.
    ///   - report: called for each selected line: unsendable and dry-run lines in file order, sent and failed ones as
    ///     their answers arrive.
    /// - Returns: the counts.
    /// - Throws: ``ReplayError`` `.busy` when another replay runs; ``DeliveryLogError`` when the file cannot be read
    ///   or rewritten (lines already removed stay removed; the rest stay).
    public func run(
        _ filter: Filter,
        dryRun: Bool,
        client: CurlClient,
        report: (Event) -> Void
    ) async throws -> Summary {
        let lock = try ReplayLock(directory: dataDirectory)
        defer { withExtendedLifetime(lock) {} }
        // The rewrite replaces the file beside it: refuse a directory others could have prepared links in.
        try DataDirectoryFiles.checkDirectory(dataDirectory)
        var summary = Summary()
        guard FileManager.default.fileExists(atPath: path) else { return summary }
        let entries = try DeadLetterFile.read(path: path)
        var sentLines: [String] = []
        var work: [(entry: DeadLetterEntry, letter: DeadLetter, target: Target)] = []
        for entry in entries {
            if let (letter, target) = Self.toSend(entry.letter, filter, rules, dryRun, &summary, report) {
                work.append((entry, letter, target))
            }
        }
        var lastRemoval = ContinuousClock.now
        // Up to `concurrency` lines in flight; results are handled here, one at a time, in completion order.
        try await withThrowingTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            var next = 0
            func launch() {
                guard next < work.count else { return }
                let index = next
                next += 1
                let item = work[index]
                group.addTask {
                    do {
                        return (index, .success(try await Self.send(item.letter, to: item.target, client: client)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            while let (index, result) = try await group.next() {
                let item = work[index]
                let deliveryID = item.letter.deliveryID ?? "-"
                switch result {
                case .success(let status) where (200..<300).contains(status):
                    summary.sent += 1
                    sentLines.append(item.entry.rawLine)
                    report(.sent(deliveryID: deliveryID, target: item.target.name, status: status))
                    let now = ContinuousClock.now
                    if sentLines.count >= removalBatch || (sentLines.count >= 64 && now - lastRemoval >= .seconds(1)) {
                        try DeadLetterFile.rewrite(path: path, removing: sentLines)
                        sentLines.removeAll(keepingCapacity: true)
                        lastRemoval = now
                    }
                case .success(let status):
                    summary.failed += 1
                    report(.failed(deliveryID: deliveryID, target: item.target.name, reason: "HTTP \(status)"))
                case .failure(let error):
                    summary.failed += 1
                    report(.failed(deliveryID: deliveryID, target: item.target.name, reason: "\(error)"))
                }
                launch()
            }
        }
        if !sentLines.isEmpty {
            try DeadLetterFile.rewrite(path: path, removing: sentLines)
        }
        return summary
    }

    /// Sends one line to its target, as configured in the rules. - Returns: the HTTP status.
    private static func send(_ letter: DeadLetter, to target: Target, client: CurlClient) async throws -> Int {
        let body = Array(letter.payload.utf8)
        var headers = DeliveryHeaders.make(
            target: target,
            deliveryID: letter.deliveryID ?? DeliveryID.make(),
            rule: letter.rule,
            attempt: nil,
            body: body,
            now: Timestamp.now()
        )
        headers.append((name: "X-Relay-Replay", value: "1"))
        // A batch's line is its body as sent: the same header as its attempts had.
        if let members = letter.members {
            headers.append((name: "X-Relay-Batch-Records", value: String(members.count)))
        }
        // A replay continues the event's trace: the same trace id, a span id of its own.
        var random = SystemRandomNumberGenerator()
        if let stored = letter.traceparent.flatMap({ TraceParent(header: $0) }) {
            EventTracing.setTraceparent(stored.child(using: &random).description, in: &headers)
        }
        let request = HTTPRequest(
            method: "POST",
            url: target.url,
            headers: headers,
            body: body,
            timeout: target.timeout,
            connectTimeout: min(target.timeout, .seconds(5)),
            tls: target.tls
        )
        return try await client.execute(request).status
    }

    /// The first step of a replay, the same for the file and for JetStream: counts `letter` in `summary` (skipped,
    /// selected, unsendable, planned), reports it, and returns it with its target when it is to be sent now (selected,
    /// its target in `rules`, not a dry run).
    static func toSend(
        _ letter: DeadLetter?,
        _ filter: Filter,
        _ rules: RuleSet,
        _ dryRun: Bool,
        _ summary: inout Summary,
        _ report: (Event) -> Void
    ) -> (DeadLetter, Target)? {
        guard let letter else {
            summary.skipped += 1
            return nil
        }
        if letter.target == nil {
            if matches(letter, filter) {
                summary.neverRouted += 1
                report(
                    .neverRouted(
                        NeverRouted(
                            time: letter.time,
                            reason: letter.reason,
                            field: letter.field,
                            detail: letter.detail
                        )
                    )
                )
            } else {
                summary.skipped += 1
            }
            return nil
        }
        guard selected(letter, filter) else {
            summary.skipped += 1
            return nil
        }
        summary.selected += 1
        let deliveryID = letter.deliveryID ?? "-"
        guard let targetName = letter.target, let target = rules.target(named: targetName) else {
            summary.unsendable += 1
            report(.unsendable(deliveryID: deliveryID, target: letter.target))
            return nil
        }
        if dryRun {
            summary.planned += 1
            report(.wouldSend(deliveryID: deliveryID, target: targetName, url: RedactedURL.redact(target.url)))
            return nil
        }
        return (letter, target)
    }

    /// Whether `filter` selects `letter` to be sent: never a line without a target (input that was never routed).
    static func selected(_ letter: DeadLetter?, _ filter: Filter) -> Bool {
        guard let letter, letter.target != nil else { return false }
        return matches(letter, filter)
    }

    /// Whether `letter`'s fields match `filter` (a line without a target never matches a `target` filter).
    static func matches(_ letter: DeadLetter, _ filter: Filter) -> Bool {
        if let target = filter.target, letter.target != target { return false }
        if let rule = filter.rule, letter.rule != rule { return false }
        if let deliveryID = filter.deliveryID, letter.deliveryID != deliveryID { return false }
        if let since = filter.since {
            guard let time = Self.timestamp(letter.time), time >= since else { return false }
        }
        return true
    }

    /// The instant of an ISO 8601 time with or without fractional seconds, `Z` or an offset.
    public static func timestamp(_ text: String) -> Timestamp? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        guard let date = withFraction.date(from: text) ?? plain.date(from: text) else { return nil }
        return Timestamp(millisecondsSince1970: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }
}
