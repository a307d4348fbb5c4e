import Foundation
import Logging
import Metrics
import RelayCore
import RelayDelivery
import RelayLog

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

    /// `{"error": error, "detail": detail}` with `status` (docs/interface.md, "Answers to an event body").
    static func error(_ status: Int, _ error: String, _ detail: String, retryAfter: Int? = nil) -> IngressResponse {
        var body: [UInt8] = Array(#"{"error":"#.utf8)
        JSONWriter.appendString(error, to: &body)
        body.append(contentsOf: Array(#","detail":"#.utf8))
        JSONWriter.appendString(detail, to: &body)
        body.append(UInt8(ascii: "}"))
        return IngressResponse(status: status, body: body, retryAfter: retryAfter)
    }
}

/// Where an event body came from.
public enum EventSource: Sendable, Equatable {
    /// `POST /minio-event` or `POST /`: the sender gets the answer.
    case webhook
    /// The message at `sequence` of the events stream (`RELAY_EVENTS`, MinIO's `notify_nats` with `jetstream` on),
    /// routed by ``EventRouter``: the answer decides between ack (2xx) and nak (503).
    case stream(sequence: UInt64)

    /// The `source` label of `relay_events_routed_total`: `webhook` or `stream`.
    public var label: String {
        switch self {
        case .webhook: "webhook"
        case .stream: "stream"
        }
    }
}

/// Turns one request body into spooled deliveries and dead letters, and says what to answer.
///
/// The answer is 2xx only once every delivery the body produced is committed to the delivery log
/// (docs/architecture.md, "Guarantees"): then the event reaches each matched target or the dead letters. Valid JSON
/// that is not a routable event is dead-lettered with reason `undecodable` and answered 2xx ("no poison messages");
/// only non-JSON is refused (400). Resends are recognised by the log, in the same step that appends the deliveries.
public final class Ingress: Sendable {
    private let rules: RuleSetStore
    private let log: any DeliveryLog
    private let delivery: DeliveryService
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    private let metrics = IngressMetrics()
    private let tap: TapHub?
    private let tracing: EventTracing

    /// The most dead letters one request writes for its undecodable records; the rest go into one more line
    /// (reason `undecodable_overflow`) that carries them together, so a body costs at most about its own size.
    public static let maxUndecodableLettersPerRequest = 100

    /// The most log lines one request writes for its undecodable records; the rest are counted in one more line.
    public static let maxUndecodableLogLinesPerRequest = 10

    /// - Parameters:
    ///   - tracing: the `receive` and `spool` spans of each event (docs/operations.md, "Tracing").
    ///   - now: the wall clock (injected for tests).
    ///   - tap: told each record's decision (the live tap); nil for none.
    public init(
        rules: RuleSetStore,
        log: any DeliveryLog,
        delivery: DeliveryService,
        logger: Logger,
        tracing: EventTracing = .off,
        now: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        tap: TapHub? = nil
    ) {
        self.tap = tap
        self.tracing = tracing
        self.rules = rules
        self.log = log
        self.delivery = delivery
        self.logger = logger
        self.now = now
    }

    /// Handles one request body (already size-checked and authenticated), or one message of the events stream.
    ///
    /// The same decoding, routing, resend identities and dead letters for both sources; the differences for
    /// `.stream`: a body that is not JSON is dead-lettered (`undecodable`, field `$`) rather than refused, since no
    /// sender keeps it; a record without a resend identity of its own gets one from the message's stream sequence and
    /// its position, so that routing the same message again (a relay died before its ack) stores nothing twice; the
    /// counts go to `relay_stream_messages_total` instead of `relay_requests_total`.
    /// - Returns: 2xx when everything the body produced is stored (deliveries appended, dead letters written), 400 for
    ///   a webhook body that is not JSON, 503 with `retryAfter` when the delivery log refused (nothing of it stored
    ///   but what a resend finds as a duplicate).
    /// - Parameter traceparent: the request's W3C `traceparent` header: an event continues its trace when it is
    ///   valid, and starts a new one otherwise (an invalid one is ignored, never refused).
    /// - Parameter admission: which bodies the request's credentials admit (a B2 body needs its signature, ...);
    ///   a body they do not admit is answered 401 before anything of it is stored (docs/security.md).
    public func handle(
        body: [UInt8],
        source: EventSource = .webhook,
        traceparent: String? = nil,
        admission: SourceAdmission = .unrestricted
    ) async -> IngressResponse {
        let metrics = IngressMetrics.Counted(metrics: self.metrics, source: source)
        let decoded = EventDecoder.decode(body)
        if let refusal = admission.refusal(for: decoded) {
            logger.warning(
                "Refused a body its sender did not authenticate",
                metadata: [
                    "http.response.status_code": "\(refusal.status)",
                    "answer": "\(String(decoding: refusal.body, as: UTF8.self))",
                ]
            )
            return refusal
        }
        switch decoded {
        case .empty:
            metrics.requests(.empty)
            return IngressResponse(status: 200, body: Array(#"{"status":"empty"}"#.utf8))
        case .notJSON(let error):
            if case .stream = source {
                return await deadLetterNotJSON(error, body: body, metrics: metrics)
            }
            metrics.requests(.notJSON)
            logger.warning("Refused a body that is not JSON", metadata: ["error": "\(error)"])
            return .error(400, "body is not JSON", error.description)
        case .testEvent(let name):
            metrics.requests(.testEvent)
            logger.info("Test event received, routed nowhere", metadata: ["event.name": "\(name)"])
            return IngressResponse(status: 200, body: Array(#"{"status":"test event","deliveries":0}"#.utf8))
        case .undecodable(let problem):
            let letter = undecodableLetter(problem, payload: body)
            do {
                try await log.deadLetter([letter])
            } catch {
                metrics.requests(.unavailable)
                logger.error("Cannot write the dead-letter file", metadata: ["error": "\(error)"])
                return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
            }
            metrics.requests(.undecodable)
            metrics.records(.undecodable)
            delivery.activity.add(.undecodable)
            tap?.publishUndecodable(CollectionOfOne(problem))
            logger.warning(
                "Dead-lettered a body that is not a routable S3 event",
                metadata: ["dead_letter.field": "\(problem.field)", "dead_letter.detail": "\(problem.reason)"]
            )
            return undecodableResponse(problem)
        case .events(let events):
            // An EventBridge event is routed and delivered as its translation into S3's record form.
            let trace = tracing.startReceive(incoming: traceparent)
            let response = await route(
                events,
                body: events.payloadBody(body),
                source: source,
                metrics: metrics,
                trace: trace
            )
            if trace.isRecording { IngressTracing.describe(trace, events: events, response: response) }
            trace.end()
            return response
        }
    }

    /// A stream message larger than the largest body (`--max-body`, lowered to what NATS takes): its deliveries could
    /// not be stored, so rather than giving it back for ever it is dead-lettered (`undecodable`, field `$`) with its
    /// first 64 KiB as payload, and the router acks it.
    public func deadLetterOversized(body: [UInt8], limit: Int) async -> IngressResponse {
        let metrics = IngressMetrics.Counted(metrics: self.metrics, source: .stream(sequence: 0))
        let kept = 64 * 1024
        let problem = Undecodable(
            field: "$",
            reason: "a message of \(body.count) bytes is larger than the largest body (\(limit) bytes); the payload "
                + "holds its first \(min(kept, body.count)) bytes"
        )
        do {
            try await log.deadLetter([undecodableLetter(problem, payload: body.prefix(kept))])
        } catch {
            metrics.requests(.unavailable)
            logger.error("Cannot write the dead letters", metadata: ["error": "\(error)"])
            return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
        }
        metrics.requests(.undecodable)
        metrics.records(.undecodable)
        delivery.activity.add(.undecodable)
        logger.warning(
            "Dead-lettered a stream message larger than the largest body",
            metadata: ["dead_letter.field": "$", "dead_letter.detail": "\(problem.reason)", "event.source": "stream"]
        )
        return undecodableResponse(problem)
    }

    /// A stream message that is not JSON: nobody can be told, so it is kept as an `undecodable` dead letter.
    private func deadLetterNotJSON(
        _ error: some CustomStringConvertible,
        body: [UInt8],
        metrics: IngressMetrics.Counted
    ) async -> IngressResponse {
        let problem = Undecodable(field: "$", reason: "not JSON: \(error)")
        do {
            try await log.deadLetter([undecodableLetter(problem, payload: body)])
        } catch {
            metrics.requests(.unavailable)
            logger.error("Cannot write the dead letters", metadata: ["error": "\(error)"])
            return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
        }
        metrics.requests(.notJSON)
        metrics.records(.undecodable)
        delivery.activity.add(.undecodable)
        logger.warning(
            "Dead-lettered a stream message that is not JSON",
            metadata: ["dead_letter.field": "$", "dead_letter.detail": "\(problem.reason)", "event.source": "stream"]
        )
        return undecodableResponse(problem)
    }

    private func route(
        _ events: DecodedEvents,
        body: [UInt8],
        source: EventSource,
        metrics: IngressMetrics.Counted,
        trace: EventTracing.SpanHandle
    ) async -> IngressResponse {
        let ruleSet = rules.current
        let createdAt = now()
        var records: [RecordDeliveries] = []
        var recordIndexes: [Int] = []
        var undecodable: [(index: Int, problem: Undecodable)] = []
        var decoded: [EventRecord] = []
        var matchedTargets: [[String]] = []
        for (position, result) in events.records.enumerated() {
            switch result {
            case .undecodable(let index, let problem):
                undecodable.append((index, problem))
            case .record(let record):
                let matches = ruleSet.matcher.match(record)
                var identity = matches.isEmpty ? nil : ResendIdentity.of(record)
                if !matches.isEmpty, identity == nil, case .stream(let sequence) = source {
                    // Routing the same message again (its ack was lost) must find its deliveries, not add more.
                    identity = ResendIdentity(["relay-events", String(sequence), String(position)])
                }
                var names: [String] = []
                names.reserveCapacity(matches.count)
                var deliveries: [NewDelivery] = []
                deliveries.reserveCapacity(matches.count)
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
                            deliveryID: identity.map { DeliveryID.make(identity: $0, target: target.name) }
                                ?? DeliveryID.make(),
                            target: target.name,
                            rule: match.rule,
                            payload: payload,
                            createdAt: createdAt,
                            ordering: target.ordering == .key ? DeliveryOrdering.of(record, arrival: createdAt) : nil
                        )
                    )
                    names.append(target.name)
                }
                if !deliveries.isEmpty {
                    recordIndexes.append(decoded.count)
                    records.append(RecordDeliveries(identity: identity, deliveries: deliveries))
                }
                decoded.append(record)
                matchedTargets.append(names)
            }
        }
        var duplicate = [Bool](repeating: false, count: decoded.count)
        var deliveryCount = 0
        var woken: Set<String> = []
        if !records.isEmpty {
            // Each delivery's attempts continue the event's trace under its `spool` span.
            let spool = tracing.startSpool(in: trace)
            IngressTracing.stamp(&records, spool)
            defer { spool.end() }
            let outcomes: [AppendOutcome]
            do {
                outcomes = try await log.append(records, at: createdAt)
                if spool.isRecording { IngressTracing.describe(spool, outcomes) }
            } catch let error as DeliveryLogError {
                spool.fail("\(error)")
                metrics.requests(.unavailable)
                logger.error("The delivery log refused the deliveries", metadata: ["error": "\(error)"])
                let reason = error.code == .full ? "spool full" : "spool not writable"
                return .error(503, reason, error.message, retryAfter: error.code == .full ? 10 : 5)
            } catch {
                spool.fail("\(error)")
                metrics.requests(.unavailable)
                logger.error("The delivery log refused the deliveries", metadata: ["error": "\(error)"])
                return .error(503, "spool not writable", "\(error)", retryAfter: 5)
            }
            for (position, outcome) in zip(recordIndexes, outcomes) {
                switch outcome {
                case .duplicate:
                    duplicate[position] = true
                case .appended(let sequences):
                    deliveryCount += sequences.count
                    woken.formUnion(matchedTargets[position])
                }
            }
        }
        if let tap, tap.isActive {
            // Before the wake-up, so that a tap sees each decision before its deliveries' outcomes.
            let byRecord = Dictionary(uniqueKeysWithValues: zip(recordIndexes, records.map(\.deliveries)))
            tap.publishDecisions(decoded, envelope: events.envelope, duplicate: duplicate, deliveries: byRecord)
        }
        if !woken.isEmpty { delivery.wake(targets: woken) }
        let letters = undecodable.isEmpty ? [] : undecodableLetters(undecodable, events: events, body: body)
        if !letters.isEmpty {
            do {
                try await log.deadLetter(letters)
            } catch {
                // The deliveries are in the log already; a resend is then recognised as such (at least once).
                metrics.requests(.unavailable)
                logger.error("Cannot write the dead letters", metadata: ["error": "\(error)"])
                return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
            }
            tap?.publishUndecodable(undecodable.lazy.map(\.problem))
        }
        var duplicates = 0
        var routedCount = 0
        var spooledCount = 0
        for position in decoded.indices {
            if duplicate[position] {
                duplicates += 1
                metrics.records(.duplicate)
            } else if matchedTargets[position].isEmpty {
                routedCount += 1
                metrics.records(.unmatched)
            } else {
                routedCount += 1
                spooledCount += 1
                metrics.records(.routed)
            }
        }
        let activity = delivery.activity
        activity.add(.records, decoded.count)
        activity.add(.spooled, spooledCount)
        activity.add(.duplicates, duplicates)
        activity.add(.unmatched, routedCount - spooledCount)
        activity.add(.undecodable, undecodable.count)
        // One line per event at debug (the info level has the periodic summary): nothing is built when it is off.
        if logger.logLevel <= .debug {
            logDecisions(decoded, duplicate: duplicate, matchedTargets: matchedTargets, source: source)
        }
        for (position, item) in undecodable.enumerated() {
            metrics.records(.undecodable)
            // One line per record for the first few; one line for the rest, so a body costs the log little.
            if position < Self.maxUndecodableLogLinesPerRequest {
                logger.warning(
                    "Dead-lettered a record that is not a routable S3 event",
                    metadata: [
                        "dead_letter.field": "\(item.problem.field)", "dead_letter.detail": "\(item.problem.reason)",
                    ]
                )
            }
        }
        if undecodable.count > Self.maxUndecodableLogLinesPerRequest {
            logger.warning(
                "Dead-lettered more records of the same request that are not routable S3 events",
                metadata: ["dead_letter.count": "\(undecodable.count - Self.maxUndecodableLogLinesPerRequest)"]
            )
        }
        metrics.requests(.accepted)
        if duplicates > 0 && routedCount == 0 && undecodable.isEmpty {
            var out: [UInt8] = Array(#"{"status":"duplicate","records":"#.utf8)
            out.append(contentsOf: Array(String(duplicates).utf8))
            out.append(contentsOf: Array(#","deliveries":0}"#.utf8))
            return IngressResponse(status: 200, body: out)
        }
        if decoded.isEmpty, let first = undecodable.first {
            // Nothing in the body was routable: say so like for a whole undecodable body.
            return undecodableResponse(first.problem)
        }
        var out: [UInt8] = Array(#"{"status":"accepted","records":"#.utf8)
        out.append(contentsOf: Array(String(events.records.count).utf8))
        out.append(contentsOf: Array(#","deliveries":"#.utf8))
        out.append(contentsOf: Array(String(deliveryCount).utf8))
        out.append(contentsOf: Array(#","deadLettered":"#.utf8))
        out.append(contentsOf: Array(String(undecodable.count).utf8))
        if duplicates > 0 {
            out.append(contentsOf: Array(#","duplicates":"#.utf8))
            out.append(contentsOf: Array(String(duplicates).utf8))
        }
        if !undecodable.isEmpty {
            out.append(contentsOf: Array(#","undecodable":["#.utf8))
            for (index, item) in undecodable.prefix(Self.maxUndecodableLettersPerRequest).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: Array(#"{"field":"#.utf8))
                JSONWriter.appendString(item.problem.field, to: &out)
                out.append(contentsOf: Array(#","detail":"#.utf8))
                JSONWriter.appendString(item.problem.reason, to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return IngressResponse(status: 200, body: out)
    }

    /// The per-event debug lines of one request: spooled (with its targets), matched no rule, or resent.
    private func logDecisions(
        _ decoded: [EventRecord],
        duplicate: [Bool],
        matchedTargets: [[String]],
        source: EventSource
    ) {
        for (position, record) in decoded.enumerated() {
            var metadata: Logger.Metadata = [
                "event.name": "\(LogText.escaped(record.eventName))",
                "event.bucket": "\(LogText.escaped(record.bucket))",
                "event.key": "\(LogText.escaped(record.key))",
            ]
            if case .stream = source { metadata["event.source"] = "stream" }
            if duplicate[position] {
                logger.debug(
                    "Event resent by its sender, already in the delivery log; not fanned out again",
                    metadata: metadata
                )
            } else if matchedTargets[position].isEmpty {
                logger.debug("Event matched no rule", metadata: metadata)
            } else {
                metadata["targets"] = "\(matchedTargets[position].joined(separator: ","))"
                logger.debug("Event spooled", metadata: metadata)
            }
        }
    }

    /// The dead letters of a body's undecodable records: each carries the record's own bytes, at most
    /// ``maxUndecodableLettersPerRequest`` of them; the rest go together into one `undecodable_overflow` line, so
    /// that the letters of one request hold each byte of the body at most once.
    private func undecodableLetters(
        _ undecodable: [(index: Int, problem: Undecodable)],
        events: DecodedEvents,
        body: [UInt8]
    ) -> [DeadLetter] {
        // Parsed again only on this path (the body is valid JSON: the decoder parsed it), once per request.
        let elements: [JSONValue]?
        if events.envelope == .bareRecord {
            elements = nil
        } else {
            elements = (try? JSONParser.parse(body))?["Records"]?.arrayValue
        }
        func bytes(of index: Int) -> ArraySlice<UInt8> {
            guard let elements else { return body[...] }
            guard index >= 0, index < elements.count else { return [] }
            return body[elements[index].range]
        }
        let cap = Self.maxUndecodableLettersPerRequest
        var letters: [DeadLetter] = []
        letters.reserveCapacity(min(undecodable.count, cap + 1))
        for item in undecodable.prefix(cap) {
            letters.append(undecodableLetter(item.problem, payload: bytes(of: item.index)))
        }
        if undecodable.count > cap {
            let rest = undecodable[cap...]
            var payload: [UInt8] = [UInt8(ascii: "[")]
            for (position, item) in rest.enumerated() {
                if position > 0 { payload.append(UInt8(ascii: ",")) }
                payload.append(contentsOf: bytes(of: item.index))
            }
            payload.append(UInt8(ascii: "]"))
            let first = rest[rest.startIndex].problem
            letters.append(
                DeadLetter(
                    time: now().iso8601,
                    reason: .undecodableOverflow,
                    field: first.field,
                    detail: "\(rest.count) more undecodable records in this request (beyond \(cap)); the payload "
                        + "holds them as a JSON array; the first: \(first.reason)",
                    payload: String(decoding: payload, as: UTF8.self)
                )
            )
        }
        return letters
    }

    private func undecodableLetter(_ problem: Undecodable, payload: some Collection<UInt8>) -> DeadLetter {
        DeadLetter(
            time: now().iso8601,
            reason: .undecodable,
            field: problem.field,
            detail: problem.reason,
            payload: String(decoding: payload, as: UTF8.self)
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
        var m: [String: Counter] = [:]
        for outcome in RequestOutcome.allCases {
            m[outcome.rawValue] = Counter(
                label: "relay_stream_messages_total",
                dimensions: [("outcome", outcome.rawValue)]
            )
        }
        requestCounters = r
        recordCounters = e
        streamCounters = m
        routedWebhook = Counter(label: "relay_events_routed_total", dimensions: [("source", "webhook")])
        routedStream = Counter(label: "relay_events_routed_total", dimensions: [("source", "stream")])
    }

    private let streamCounters: [String: Counter]
    private let routedWebhook: Counter
    private let routedStream: Counter

    /// The counters of one body from `source`: requests of a webhook count in `relay_requests_total`, messages of the
    /// events stream in `relay_stream_messages_total`; records in `relay_records_total` either way, and routed
    /// records (matched against the rules, duplicates and undecodable ones not) in
    /// `relay_events_routed_total{source}`.
    struct Counted {
        let metrics: IngressMetrics
        let source: EventSource

        func requests(_ outcome: RequestOutcome) {
            if case .stream = source {
                metrics.streamCounters[outcome.rawValue]?.increment()
            } else {
                metrics.requestCounters[outcome.rawValue]?.increment()
            }
        }

        func records(_ outcome: RecordOutcome) {
            metrics.recordCounters[outcome.rawValue]?.increment()
            guard outcome == .routed || outcome == .unmatched else { return }
            if case .stream = source { metrics.routedStream.increment() } else { metrics.routedWebhook.increment() }
        }
    }
}
