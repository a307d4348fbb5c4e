import RelayCore
import RelayDelivery
import RelayLog

/// What ingress puts on its spans (docs/operations.md, "Tracing"): the attribute names are those of its log lines.
enum IngressTracing {
    /// Stores the `spool` span's `traceparent` with every delivery, so that each attempt, however late and after
    /// however many restarts, continues the event's trace.
    static func stamp(_ records: inout [RecordDeliveries], _ spool: EventTracing.SpanHandle) {
        for index in records.indices {
            for delivery in records[index].deliveries.indices {
                records[index].deliveries[delivery].traceparent = spool.traceparent
            }
        }
    }

    /// The `spool` span: deliveries appended, records recognised as resends.
    static func describe(_ spool: EventTracing.SpanHandle, _ outcomes: [AppendOutcome]) {
        var appended = 0
        var duplicates = 0
        for outcome in outcomes {
            switch outcome {
            case .appended(let sequences): appended += sequences.count
            case .duplicate: duplicates += 1
            }
        }
        spool.set("delivery.count", appended)
        spool.set("event.duplicates", duplicates)
    }

    /// The `receive` span: the records of the request (the first one's name, bucket and key) and the answer.
    static func describe(_ receive: EventTracing.SpanHandle, events: DecodedEvents, response: IngressResponse) {
        receive.set("event.records", events.records.count)
        for result in events.records {
            guard case .record(let record) = result else { continue }
            receive.set("event.name", record.eventName)
            receive.set("event.bucket", record.bucket)
            receive.set("event.key", record.key)
            break
        }
        receive.set("http.response.status_code", response.status)
        if response.status >= 500 {
            receive.fail(String(decoding: response.body, as: UTF8.self))
        }
    }
}
