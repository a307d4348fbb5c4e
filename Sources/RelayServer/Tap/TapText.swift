import Foundation
import RelayDelivery

/// The readable line `bucket-relay tap` prints for one tap event (docs/interface.md, "`tap`"), e.g.
///
/// ```
/// 12:00:01.123 decision  routed minio s3:ObjectCreated:Put photos/uploads/cat.jpg rules=new-images targets=thumbnailer,audit ids=msg_1,msg_2
/// 12:00:01.140 delivered thumbnailer msg_1 attempt=1 status=200 12.1ms
/// 12:00:01.150 retry     audit msg_2 attempt=1 status=503 in=200ms (HTTP 503)
/// 12:00:09.000 dead      audit msg_2 reason=exhausted attempt=8 status=503 (HTTP 503)
/// 12:00:09.500 dropped   41 events (this tap read too slowly; the relay did not wait)
/// ```
///
/// Values a sender chose (keys, buckets, event names) are escaped like log values, so they cannot drive the terminal.
public enum TapText {
    /// The line for `event`, nil for events that print nothing (`ready`, unknown names, unparsable data).
    public static func line(_ event: ServerSentEvent) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any] else {
            return nil
        }
        func text(_ name: String) -> String {
            if let value = object[name] as? String { return LogText.escaped(value) }
            if let value = object[name] as? NSNumber { return value.stringValue }
            return ""
        }
        func list(_ name: String) -> String {
            ((object[name] as? [Any]) ?? []).compactMap { $0 as? String }.map(LogText.escaped).joined(separator: ",")
        }
        let time = clock(text("time"))
        func common() -> String {
            var line = "\(text("target")) \(text("deliveryID")) attempt=\(text("attempt"))"
            if object["status"] != nil { line += " status=\(text("status"))" }
            return line
        }
        switch event.name {
        case "decision":
            let outcome = text("outcome")
            if outcome == "undecodable" {
                return "\(time) decision  undecodable field=\(text("field")) (\(text("detail")))"
            }
            var line =
                "\(time) decision  \(outcome) \(text("source")) \(text("event")) \(text("bucket"))/\(text("key"))"
            if !list("rules").isEmpty { line += " rules=\(list("rules"))" }
            if !list("targets").isEmpty { line += " targets=\(list("targets"))" }
            let ids = ((object["deliveries"] as? [[String: Any]]) ?? []).compactMap { $0["deliveryID"] as? String }
            if !ids.isEmpty { line += " ids=\(ids.map(LogText.escaped).joined(separator: ","))" }
            return line
        case "delivered":
            var line = "\(time) delivered \(common())"
            if let ms = object["durationMs"] as? NSNumber { line += " \(String(format: "%.1f", ms.doubleValue))ms" }
            return line
        case "retry":
            var line = "\(time) retry     \(common()) in=\(text("retryInMs"))ms"
            if (object["counted"] as? Bool) == false { line += " (not counted)" }
            if object["error"] != nil { line += " (\(text("error")))" }
            return line
        case "dead_letter":
            var line =
                "\(time) dead      \(text("target")) \(text("deliveryID")) reason=\(text("reason")) attempt=\(text("attempt"))"
            if object["status"] != nil { line += " status=\(text("status"))" }
            if object["error"] != nil { line += " (\(text("error")))" }
            return line
        case "dropped":
            return "\(time) dropped   \(text("dropped")) events (this tap read too slowly; the relay did not wait)"
        case "closing":
            return "\(time) closing   \(text("reason"))"
        default:
            return nil
        }
    }

    /// `HH:MM:SS.mmm` of an ISO 8601 time such as `2026-12-01T12:00:01.123Z`; the local clock when none.
    static func clock(_ iso: String) -> String {
        if let t = iso.firstIndex(of: "T") {
            let rest = iso[iso.index(after: t)...].prefix { $0 != "Z" && $0 != "+" }
            if !rest.isEmpty { return String(rest) }
        }
        let now = Date()
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss.SSS"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: now)
    }
}
