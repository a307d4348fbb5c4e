import Foundation
import RelayCore
import RelayDelivery
import RelayLog

/// What `GET /status` shows, as one value: encoded as JSON for `Accept: application/json`, rendered as HTML otherwise
/// (docs/operations.md, "Status page").
///
/// Holds nothing secret: target URLs are redacted (``RedactedURL``), header values and signing secrets are left out.
struct StatusSnapshot: Codable, Sendable {
    struct TargetStatus: Codable, Sendable {
        /// The target's name from the rules.
        var name: String
        /// The URL, credentials and query values redacted; nil for a target no longer in the rules.
        var url: String?
        /// `closed`, `open` or `half_open`.
        var circuit: String
        /// Pending deliveries, claimed ones included.
        var pending: Int
        /// When the oldest pending delivery was created (ISO 8601), nil when none is pending.
        var oldestPendingAt: String?
        /// Its age in seconds.
        var oldestPendingAgeSeconds: Int64?
        /// Attempts over the window.
        var attempts: Int
        /// Failed attempts over the window.
        var failures: Int
        /// The last failed attempt's error (`HTTP 503`, a curl error) and time, nil if none failed.
        var lastError: String?
        var lastErrorAt: String?
        /// Attempts and failures per bucket, oldest first.
        var history: History
        /// Whether the target is in the rules in force.
        var inRules: Bool
    }

    struct History: Codable, Sendable {
        /// The width of one bucket in seconds.
        var bucketSeconds: Int
        var attempts: [Int]
        var failures: [Int]
    }

    struct RulesStatus: Codable, Sendable {
        /// `--rules`.
        var path: String
        /// The files the rules in force come from.
        var files: [String]
        var targets: Int
        var rules: Int
        /// When the rules in force were loaded (ISO 8601).
        var loadedAt: String
        /// The last failed reload since then: its time and diagnostics; nil when none failed.
        var lastReloadErrorAt: String?
        var lastReloadError: [String]?
    }

    struct DeadLetterStatus: Codable, Sendable {
        var time: String
        var reason: String
        var target: String?
        var rule: String?
        var deliveryID: String?
        /// The object key as the payload holds it (MinIO's envelope `Key` `bucket/key`, else the first record's
        /// `s3.object.key`, form-encoded as S3 and MinIO send it, else a CloudEvent's `subject`); nil when it holds
        /// none.
        var key: String?
        /// The bucket of the payload's first event record; nil when it holds none.
        var bucket: String?
        /// The object key as the rules matched it, decoded (`uploads/2026/cat.jpg`, where the record says
        /// `uploads%2F2026%2Fcat.jpg`): the first event record's key, else a CloudEvent's `subject`; nil when the
        /// payload holds none (undecodable input, an SNS envelope).
        var decodedKey: String?
        var attempts: Int?
        var lastStatus: Int?
        var lastError: String?
        /// Whether the replay action can send it (it has a delivery id and a target).
        var replayable: Bool
    }

    struct ReplayResult: Codable, Sendable {
        var time: String
        /// `one`, `target` or `all`.
        var scope: String
        var target: String?
        var deliveryID: String?
        var sent: Int
        var failed: Int
        var unsendable: Int
        /// Selected lines that name no target (input never routed): kept, not sent.
        var neverRouted = 0
        var error: String?
    }

    var generatedAt: String
    /// The relay's name (`--instance`, default the host name).
    var instance: String
    var targets: [TargetStatus]
    var rules: RulesStatus
    /// The newest dead letters, newest first.
    var deadLetters: [DeadLetterStatus]
    /// Lines in the dead-letter file shown at most.
    var deadLetterLimit: Int
    var lastReplay: ReplayResult?

    /// The dead letters shown at most.
    static let deadLetterLimit = 50

    /// Gathers the snapshot from the running relay.
    static func gather(relay: Relay, lastReplay: ReplayResult?, now: Timestamp = .now()) async -> StatusSnapshot {
        let ruleSet = relay.rules.current
        let reload = relay.rules.reloadStatus
        let circuits = relay.delivery.circuitStates()
        let log: any DeliveryLog = relay.log
        var names = ruleSet.targets.map(\.name)
        var extra = Set(circuits.keys)
        if let pending = try? await log.pendingTargets() { extra.formUnion(pending) }
        extra.subtract(names)
        names.append(contentsOf: extra.sorted())
        var targets: [TargetStatus] = []
        for name in names {
            let target = ruleSet.target(named: name)
            let pending = (try? await log.pendingCount(target: name)) ?? 0
            let oldest = pending > 0 ? (try? await log.oldestPending(target: name)) ?? nil : nil
            let series = relay.delivery.history.series(target: name, now: now)
            targets.append(
                TargetStatus(
                    name: name,
                    url: target.map { RedactedURL.redact($0.url) },
                    circuit: circuits[name] ?? "closed",
                    pending: pending,
                    oldestPendingAt: oldest?.iso8601,
                    oldestPendingAgeSeconds: oldest.map {
                        max(0, (now.millisecondsSince1970 - $0.millisecondsSince1970) / 1000)
                    },
                    attempts: series.buckets.reduce(0) { $0 + $1.attempts },
                    failures: series.buckets.reduce(0) { $0 + $1.failures },
                    lastError: series.lastError?.error,
                    lastErrorAt: series.lastError?.time.iso8601,
                    history: History(
                        bucketSeconds: Int(relay.delivery.history.bucketMilliseconds / 1000),
                        attempts: series.buckets.map(\.attempts),
                        failures: series.buckets.map(\.failures)
                    ),
                    inRules: target != nil
                )
            )
        }
        var files = Set(ruleSet.targets.map(\.file))
        files.formUnion(ruleSet.rules.map(\.file))
        let rules = RulesStatus(
            path: relay.rules.path,
            files: files.sorted(),
            targets: ruleSet.targets.count,
            rules: ruleSet.rules.count,
            loadedAt: reload.loadedAt.iso8601,
            lastReloadErrorAt: reload.lastError?.time.iso8601,
            lastReloadError: reload.lastError.map { Array($0.diagnostics.errors.prefix(20).map(\.description)) }
        )
        let letters = (try? await log.recentDeadLetters(limit: deadLetterLimit)) ?? []
        let deadLetters = letters.reversed().map { letter in
            let object = decodedObject(inPayload: letter.payload)
            return DeadLetterStatus(
                time: letter.time,
                reason: letter.reason.rawValue,
                target: letter.target,
                rule: letter.rule,
                deliveryID: letter.deliveryID,
                key: key(inPayload: letter.payload),
                bucket: object?.bucket,
                decodedKey: object?.key,
                attempts: letter.attempts,
                lastStatus: letter.lastStatus,
                lastError: letter.lastError,
                replayable: letter.deliveryID != nil && letter.target != nil
            )
        }
        return StatusSnapshot(
            generatedAt: now.iso8601,
            instance: relay.configuration.instance,
            targets: targets,
            rules: rules,
            deadLetters: deadLetters,
            deadLetterLimit: deadLetterLimit,
            lastReplay: lastReplay
        )
    }

    /// The object key a payload names: MinIO's envelope `Key` (`bucket/key`), else the first record's
    /// `s3.object.key`, else a CloudEvent's `subject`; nil when it holds none (or is not JSON).
    static func key(inPayload payload: String) -> String? {
        guard payload.utf8.count <= 4 << 20,
            let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
        else { return nil }
        if let key = object["Key"] as? String { return key }
        if let records = object["Records"] as? [[String: Any]], let s3 = records.first?["s3"] as? [String: Any],
            let item = s3["object"] as? [String: Any], let key = item["key"] as? String
        {
            return key
        }
        if let subject = object["subject"] as? String { return subject }
        return nil
    }

    /// The bucket and decoded key of the payload's first event record, read as ingress reads a body (keys decoded
    /// as their sender encodes them, docs/interface.md "What senders send"); for a structured CloudEvent, its
    /// `subject` (already the decoded key) without a bucket; nil when the payload holds neither.
    static func decodedObject(inPayload payload: String) -> (bucket: String?, key: String)? {
        guard payload.utf8.count <= 4 << 20 else { return nil }
        if case .events(let events) = EventDecoder.decode(Array(payload.utf8)),
            case .record(let record)? = events.records.first
        {
            return (record.bucket, record.key)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
            object["specversion"] is String, let subject = object["subject"] as? String
        else { return nil }
        return (nil, subject)
    }

    /// The snapshot as JSON, keys sorted.
    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? Array(#"{"error":"cannot encode the status"}"#.utf8)
    }
}
