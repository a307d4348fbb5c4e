import RelayCore
import RelayDelivery
import RelayLog

/// One server-sent event of the live tap: its `event:` name, its JSON `data:` line, and the rules and targets that
/// the tap's `rule=` and `target=` filters select by (docs/interface.md, "`GET /tap`").
///
/// Built once per record or outcome, only while a tap is connected, and shared by every tap it is sent to.
struct TapEvent: Sendable {
    /// `decision`, `delivered`, `retry`, `dead_letter`, `dropped`, `ready` or `closing`.
    var name: String
    /// One JSON object, on one line.
    var data: [UInt8]
    /// The rules the event concerns: matched ones for a decision, the delivery's rule for an outcome.
    var rules: [String]
    /// The targets the event concerns.
    var targets: [String]

    /// The SSE frame: `event: NAME`, `data: JSON`, a blank line.
    func frame(into out: inout [UInt8]) {
        out.append(contentsOf: Array("event: ".utf8))
        out.append(contentsOf: Array(name.utf8))
        out.append(contentsOf: Array("\ndata: ".utf8))
        out.append(contentsOf: data)
        out.append(contentsOf: Array("\n\n".utf8))
    }

    /// The sender the record came from, by its `eventSource`: `minio`, `aws`, `rgw`, `b2`, `gcs`; for a record without one, `minio`
    /// in MinIO's envelope and `unknown` otherwise; `other` for any other source.
    static func source(_ record: EventRecord, envelope: DecodedEvents.Envelope) -> String {
        switch record.eventSource {
        case "minio:s3": "minio"
        case "aws:s3": "aws"
        case "ceph:s3": "rgw"
        case B2Event.eventSource: "b2"
        case GCSPushEvent.eventSource: "gcs"
        case "": envelope == .minio ? "minio" : "unknown"
        default: "other"
        }
    }

    /// A record's decision: `{"time","outcome":"routed"|"unmatched"|"duplicate","source","event","bucket","key",
    /// "size"?,"rules":[…],"targets":[…],"deliveries":[{"deliveryID","target","rule"}]}`. A duplicate lists the
    /// rules and targets it matched and no delivery (nothing new was spooled).
    static func decision(
        time: Timestamp,
        record: EventRecord,
        envelope: DecodedEvents.Envelope,
        duplicate: Bool,
        deliveries: [NewDelivery]
    ) -> TapEvent {
        var rules: [String] = []
        var targets: [String] = []
        for delivery in deliveries {
            if !rules.contains(delivery.rule) { rules.append(delivery.rule) }
            targets.append(delivery.target)
        }
        let outcome = duplicate ? "duplicate" : deliveries.isEmpty ? "unmatched" : "routed"
        var out = JSONObject(time: time)
        out.string("outcome", outcome)
        out.string("source", source(record, envelope: envelope))
        out.string("event", record.eventName)
        out.string("bucket", record.bucket)
        out.string("key", record.key)
        if let size = record.size { out.number("size", size) }
        out.strings("rules", rules)
        out.strings("targets", targets)
        out.raw("deliveries")
        out.bytes.append(UInt8(ascii: "["))
        if !duplicate {
            for (index, delivery) in deliveries.enumerated() {
                if index > 0 { out.bytes.append(UInt8(ascii: ",")) }
                var item = JSONObject()
                item.string("deliveryID", delivery.deliveryID)
                item.string("target", delivery.target)
                item.string("rule", delivery.rule)
                out.bytes.append(contentsOf: item.finished())
            }
        }
        out.bytes.append(UInt8(ascii: "]"))
        return TapEvent(name: "decision", data: out.finished(), rules: rules, targets: targets)
    }

    /// A body or record dead-lettered as undecodable: `{"time","outcome":"undecodable","field","detail"}`. It matched
    /// no rule, so a tap with a filter does not see it.
    static func undecodable(time: Timestamp, _ problem: Undecodable) -> TapEvent {
        var out = JSONObject(time: time)
        out.string("outcome", "undecodable")
        out.string("field", problem.field)
        out.string("detail", problem.reason)
        return TapEvent(name: "decision", data: out.finished(), rules: [], targets: [])
    }

    /// A delivery's outcome, named `delivered`, `retry` or `dead_letter`: `{"time","outcome","deliveryID","target",
    /// "rule","attempt","status"?,"error"?,"durationMs"?}`, plus `"retryInMs","counted"` for a retry and `"reason"`
    /// for a dead letter.
    static func outcome(time: Timestamp, _ report: DeliveryReport) -> TapEvent {
        let name: String
        switch report.outcome {
        case .delivered: name = "delivered"
        case .retry: name = "retry"
        case .deadLetter: name = "dead_letter"
        }
        var out = JSONObject(time: time)
        out.string("outcome", name)
        out.string("deliveryID", report.deliveryID)
        out.string("target", report.target)
        out.string("rule", report.rule)
        out.number("attempt", Int64(report.attempt))
        if let status = report.status { out.number("status", Int64(status)) }
        if let error = report.error { out.string("error", error) }
        if let duration = report.duration {
            let (seconds, attoseconds) = duration.components
            let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
            out.raw("durationMs")
            out.bytes.append(contentsOf: Array(String(Double(micros) / 1000).utf8))
        }
        switch report.outcome {
        case .delivered:
            break
        case .retry(let after, let counted):
            out.number("retryInMs", after.wholeMilliseconds)
            out.raw("counted")
            out.bytes.append(contentsOf: Array((counted ? "true" : "false").utf8))
        case .deadLetter(let reason):
            out.string("reason", reason.rawValue)
        }
        return TapEvent(name: name, data: out.finished(), rules: [report.rule], targets: [report.target])
    }

    /// `{"dropped":N}`: N events this tap did not get because it read too slowly.
    static func dropped(_ count: Int) -> TapEvent {
        var out = JSONObject()
        out.number("dropped", Int64(count))
        return TapEvent(name: "dropped", data: out.finished(), rules: [], targets: [])
    }
}

/// A JSON object written member by member into bytes (strings escaped by `JSONWriter`).
struct JSONObject {
    var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    init() {}

    /// Starts with `"time": time` (ISO 8601, UTC, milliseconds).
    init(time: Timestamp) {
        string("time", time.iso8601)
    }

    /// Writes `"name":` (after a comma unless first); the caller writes the value.
    mutating func raw(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONWriter.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String) {
        raw(name)
        JSONWriter.appendString(value, to: &bytes)
    }

    mutating func number(_ name: String, _ value: Int64) {
        raw(name)
        bytes.append(contentsOf: Array(String(value).utf8))
    }

    mutating func strings(_ name: String, _ values: [String]) {
        raw(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    func finished() -> [UInt8] {
        bytes + [UInt8(ascii: "}")]
    }
}
