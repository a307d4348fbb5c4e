import Foundation
import Logging
import Metrics
import RelayCore
import RelayDelivery
import RelaySpool

/// What the HTTP layer answers for one request body: status, JSON body and, for 503, a `Retry-After`.
public struct IngressResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// Seconds, sent as `Retry-After` with 503.
    public var retryAfter: Int?

    public init(status: Int, body: [UInt8], retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }

    /// `{"error": error, "detail": detail}` with `status` (DESIGN §5).
    static func error(_ status: Int, _ error: String, _ detail: String, retryAfter: Int? = nil) -> IngressResponse {
        var body: [UInt8] = Array(#"{"error":"#.utf8)
        JSONWriter.appendString(error, to: &body)
        body.append(contentsOf: Array(#","detail":"#.utf8))
        JSONWriter.appendString(detail, to: &body)
        body.append(UInt8(ascii: "}"))
        return IngressResponse(status: status, body: body, retryAfter: retryAfter)
    }
}

/// Turns one request body into spooled deliveries and dead letters, and says what to answer.
///
/// The answer is 2xx only once every delivery the body produced is committed to the spool (DESIGN §1): then the
/// event reaches each matched target or the dead-letter file. Valid JSON that is not a routable event is
/// dead-lettered with reason `undecodable` and answered 2xx ("no poison messages"); only non-JSON is refused (400).
public final class Ingress: Sendable {
    private let rules: RuleSetStore
    private let spool: Spool
    private let deadLetters: DeadLetterFile
    private let delivery: DeliveryService
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let metrics = IngressMetrics()
    private let recent = RecentEvents()

    /// - Parameters:
    ///   - now: the wall clock in milliseconds since the epoch (injected for tests).
    public init(
        rules: RuleSetStore,
        spool: Spool,
        deadLetters: DeadLetterFile,
        delivery: DeliveryService,
        logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.rules = rules
        self.spool = spool
        self.deadLetters = deadLetters
        self.delivery = delivery
        self.logger = logger
        self.now = now
    }

    /// Handles one request body (already size-checked and authenticated).
    public func handle(body: [UInt8]) async -> IngressResponse {
        switch EventDecoder.decode(body) {
        case .empty:
            metrics.requests(.empty)
            return IngressResponse(status: 200, body: Array(#"{"status":"empty"}"#.utf8))
        case .notJSON(let error):
            metrics.requests(.notJSON)
            logger.warning("Refused a body that is not JSON", metadata: ["error": "\(error)"])
            return .error(400, "body is not JSON", error.description)
        case .testEvent(let name):
            metrics.requests(.testEvent)
            logger.info("Test event received, routed nowhere", metadata: ["event.name": "\(name)"])
            return IngressResponse(status: 200, body: Array(#"{"status":"test event","deliveries":0}"#.utf8))
        case .undecodable(let problem):
            let letter = undecodableLetter(problem, body: body)
            do {
                try await deadLetters.append([letter])
            } catch {
                metrics.requests(.unavailable)
                logger.error("Cannot write the dead-letter file", metadata: ["error": "\(error)"])
                return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
            }
            metrics.requests(.undecodable)
            metrics.records(.undecodable)
            logger.warning(
                "Dead-lettered a body that is not a routable S3 event",
                metadata: ["dead_letter.field": "\(problem.field)", "dead_letter.detail": "\(problem.reason)"]
            )
            return undecodableResponse(problem)
        case .events(let events):
            return await route(events, body: body)
        }
    }

    private func route(_ events: DecodedEvents, body: [UInt8]) async -> IngressResponse {
        let ruleSet = rules.current
        let createdAt = now()
        var deliveries: [NewDelivery] = []
        var letters: [DeadLetter] = []
        var routed: [(record: EventRecord, targets: [String])] = []
        var identities: Set<RecentEvents.Identity> = []
        var duplicates = 0
        for result in events.records {
            switch result {
            case .undecodable(_, let problem):
                letters.append(undecodableLetter(problem, body: body))
            case .record(let record):
                if let identity = RecentEvents.identity(of: record) {
                    if recent.contains(identity, now: createdAt) || !identities.insert(identity).inserted {
                        duplicates += 1
                        metrics.records(.duplicate)
                        logger.info(
                            "Event resent by its sender, already spooled; not fanned out again",
                            metadata: [
                                "event.name": "\(record.eventName)",
                                "event.bucket": "\(LogText.escaped(record.bucket))",
                                "event.key": "\(LogText.escaped(record.key))",
                            ]
                        )
                        continue
                    }
                }
                let matches = ruleSet.matcher.match(record)
                var names: [String] = []
                names.reserveCapacity(matches.count)
                for match in matches {
                    let target = ruleSet.targets[match.targetIndex]
                    let payload = PayloadBuilder.payload(
                        format: target.format,
                        body: body,
                        events: events,
                        record: record
                    )
                    deliveries.append(
                        NewDelivery(
                            deliveryID: DeliveryID.make(),
                            target: target.name,
                            rule: match.rule,
                            payload: payload,
                            createdAt: createdAt,
                            nextAttemptAt: createdAt
                        )
                    )
                    names.append(target.name)
                }
                routed.append((record, names))
            }
        }
        if !deliveries.isEmpty {
            do {
                _ = try await spool.enqueue(deliveries)
            } catch let error as SpoolError {
                metrics.requests(.unavailable)
                logger.error("Spool refused the deliveries", metadata: ["error": "\(error)"])
                let reason = error.code == .full ? "spool full" : "spool not writable"
                return .error(503, reason, error.message, retryAfter: error.code == .full ? 10 : 5)
            } catch {
                metrics.requests(.unavailable)
                logger.error("Spool refused the deliveries", metadata: ["error": "\(error)"])
                return .error(503, "spool not writable", "\(error)", retryAfter: 5)
            }
            delivery.wake(targets: deliveries.map(\.target))
        }
        // Only what is spooled counts as seen: a resend of a refused (503) event must go through.
        recent.insert(Array(identities), now: createdAt)
        if !letters.isEmpty {
            do {
                try await deadLetters.append(letters)
            } catch {
                // The deliveries are spooled already; a resend only duplicates them (at least once).
                metrics.requests(.unavailable)
                logger.error("Cannot write the dead-letter file", metadata: ["error": "\(error)"])
                return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
            }
        }
        for (record, targets) in routed {
            if targets.isEmpty {
                metrics.records(.unmatched)
                logger.info(
                    "Event matched no rule",
                    metadata: [
                        "event.name": "\(record.eventName)", "event.bucket": "\(LogText.escaped(record.bucket))",
                        "event.key": "\(LogText.escaped(record.key))",
                    ]
                )
            } else {
                metrics.records(.routed)
                logger.info(
                    "Event spooled",
                    metadata: [
                        "event.name": "\(record.eventName)", "event.bucket": "\(LogText.escaped(record.bucket))",
                        "event.key": "\(LogText.escaped(record.key))", "targets": "\(targets.joined(separator: ","))",
                    ]
                )
            }
        }
        for letter in letters {
            metrics.records(.undecodable)
            logger.warning(
                "Dead-lettered a record that is not a routable S3 event",
                metadata: [
                    "dead_letter.field": "\(letter.field ?? "")", "dead_letter.detail": "\(letter.detail ?? "")",
                ]
            )
        }
        metrics.requests(.accepted)
        if duplicates > 0 && routed.isEmpty && letters.isEmpty {
            var out: [UInt8] = Array(#"{"status":"duplicate","records":"#.utf8)
            out.append(contentsOf: Array(String(duplicates).utf8))
            out.append(contentsOf: Array(#","deliveries":0}"#.utf8))
            return IngressResponse(status: 200, body: out)
        }
        if routed.isEmpty, let first = letters.first {
            // Nothing in the body was routable: say so like for a whole undecodable body.
            return undecodableResponse(Undecodable(field: first.field ?? "$", reason: first.detail ?? ""))
        }
        var out: [UInt8] = Array(#"{"status":"accepted","records":"#.utf8)
        out.append(contentsOf: Array(String(events.records.count).utf8))
        out.append(contentsOf: Array(#","deliveries":"#.utf8))
        out.append(contentsOf: Array(String(deliveries.count).utf8))
        out.append(contentsOf: Array(#","deadLettered":"#.utf8))
        out.append(contentsOf: Array(String(letters.count).utf8))
        if duplicates > 0 {
            out.append(contentsOf: Array(#","duplicates":"#.utf8))
            out.append(contentsOf: Array(String(duplicates).utf8))
        }
        if !letters.isEmpty {
            out.append(contentsOf: Array(#","undecodable":["#.utf8))
            for (index, letter) in letters.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: Array(#"{"field":"#.utf8))
                JSONWriter.appendString(letter.field ?? "", to: &out)
                out.append(contentsOf: Array(#","detail":"#.utf8))
                JSONWriter.appendString(letter.detail ?? "", to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return IngressResponse(status: 200, body: out)
    }

    private func undecodableLetter(_ problem: Undecodable, body: [UInt8]) -> DeadLetter {
        DeadLetter(
            time: DeadLetter.timestamp(millisecondsSince1970: now()),
            reason: "undecodable",
            field: problem.field,
            detail: problem.reason,
            payload: String(decoding: body, as: UTF8.self)
        )
    }

    private func undecodableResponse(_ problem: Undecodable) -> IngressResponse {
        var out: [UInt8] = Array(#"{"status":"dead-lettered","reason":"undecodable","field":"#.utf8)
        JSONWriter.appendString(problem.field, to: &out)
        out.append(contentsOf: Array(#","detail":"#.utf8))
        JSONWriter.appendString(problem.reason, to: &out)
        out.append(UInt8(ascii: "}"))
        return IngressResponse(status: 200, body: out)
    }
}

/// Counters of what ingress did; labels are bounded.
struct IngressMetrics: Sendable {
    enum RequestOutcome: String, CaseIterable {
        case accepted, empty
        case testEvent = "test_event"
        case undecodable
        case notJSON = "not_json"
        case unavailable
    }
    enum RecordOutcome: String, CaseIterable {
        case routed, unmatched, undecodable, duplicate
    }

    private let requestCounters: [String: Counter]
    private let recordCounters: [String: Counter]

    init() {
        var r: [String: Counter] = [:]
        for outcome in RequestOutcome.allCases {
            r[outcome.rawValue] = Counter(label: "relay_requests_total", dimensions: [("outcome", outcome.rawValue)])
        }
        var e: [String: Counter] = [:]
        for outcome in RecordOutcome.allCases {
            e[outcome.rawValue] = Counter(label: "relay_records_total", dimensions: [("outcome", outcome.rawValue)])
        }
        requestCounters = r
        recordCounters = e
    }

    func requests(_ outcome: RequestOutcome) { requestCounters[outcome.rawValue]?.increment() }
    func records(_ outcome: RecordOutcome) { recordCounters[outcome.rawValue]?.increment() }
}
