/// Builds the body sent to a target for one event record.
///
/// The record's JSON text is spliced in as received (`body[record.recordRange]`): no field is lost, reordered or
/// re-escaped by a decode/encode round trip. Only the few envelope strings are written, through `JSONWriter`.
public enum PayloadBuilder {
    /// The payload for `record` in `format`.
    /// - Parameters:
    ///   - format: the target's payload format.
    ///   - body: the request body `events` was decoded from; `record.recordRange` indexes it.
    ///   - events: the decoded body, which tells whether the body can be forwarded unchanged.
    ///   - record: one of `events`' records.
    /// - Returns: JSON bytes:
    ///   - `.minio`: `body` itself when it is a MinIO envelope with exactly one record whose `EventName` and `Key`
    ///     agree with that record (`DecodedEvents.envelopeMatchesRecord`: byte-identical, as MinIO sent it);
    ///     otherwise `{"EventName":<eventName>,"Key":<bucket/key>,"Records":[<record bytes>]}` in MinIO's field
    ///     order, with the normalised `s3:` event name and the decoded key.
    ///
    ///     An envelope that disagrees with its one record (`"EventName":"s3:ObjectRemoved:Delete"` around a Put
    ///     record, a `Key` naming another object) is rebuilt from the record rather than dead-lettered: rules
    ///     matched the record, which is authoritative, and the record itself is a valid event the sender expects
    ///     delivered; forwarding the envelope as sent would let a receiver that reads `Key` act on an object no rule
    ///     chose, and dead-lettering would lose an event over fields the relay never routes on. The rebuilt
    ///     envelope is what MinIO sends for that record, so a receiver sees one consistent event.
    ///   - `.records`: `body` itself when it is a bare `{"Records":[…]}` with exactly one record; otherwise
    ///     `{"Records":[<record bytes>]}`.
    ///   - `.cloudevents`: a structured CloudEvents 1.0 event (see `cloudEvent(body:record:)`).
    ///   - `.cloudeventsBinary`: the record's JSON text as received; its attributes travel as headers, computed
    ///     from these bytes at each attempt (`cloudEventHeaders(record:recordBytes:)`).
    public static func payload(
        format: PayloadFormat,
        body: [UInt8],
        events: DecodedEvents,
        record: EventRecord
    ) -> [UInt8] {
        switch format {
        case .minio:
            if events.envelope == .minio && events.records.count == 1 && events.envelopeMatchesRecord { return body }
            return minioEnvelope(body: body, record: record)
        case .records:
            if events.envelope == .records && events.records.count == 1 { return body }
            return recordsEnvelope(body: body, record: record)
        case .cloudevents:
            return cloudEvent(body: body, record: record)
        case .cloudeventsBinary:
            return Array(recordSlice(body, record))
        }
    }

    /// `{"EventName":…,"Key":"<bucket>/<decoded key>","Records":[<record bytes>]}`, as MinIO's `notify_webhook`
    /// builds it (`event.Log`, internal/event/event.go).
    public static func minioEnvelope(body: [UInt8], record: EventRecord) -> [UInt8] {
        let recordBytes = recordSlice(body, record)
        var out: [UInt8] = []
        out.reserveCapacity(
            recordBytes.count + record.eventName.utf8.count + record.bucket.utf8.count + record.key.utf8.count + 48
        )
        append(#"{"EventName":"#, to: &out)
        JSONWriter.appendString(record.eventName, to: &out)
        append(#","Key":"#, to: &out)
        JSONWriter.appendString(record.bucket + "/" + record.key, to: &out)
        append(#","Records":["#, to: &out)
        out.append(contentsOf: recordBytes)
        append("]}", to: &out)
        return out
    }

    /// `{"Records":[<record bytes>]}`.
    public static func recordsEnvelope(body: [UInt8], record: EventRecord) -> [UInt8] {
        let recordBytes = recordSlice(body, record)
        var out: [UInt8] = []
        out.reserveCapacity(recordBytes.count + 14)
        append(#"{"Records":["#, to: &out)
        out.append(contentsOf: recordBytes)
        append("]}", to: &out)
        return out
    }

    /// A structured-mode CloudEvents 1.0 JSON event, after the CloudEvents AWS S3 adapter
    /// (cloudevents/spec `cloudevents/adapters/aws-s3.md`):
    /// - `specversion` `1.0`; `type` `com.amazonaws.s3.` + the event name without `s3:` (`ObjectCreated:Put`);
    /// - `source` `cloudEventSource(record:)`: `<eventSource>.<awsRegion>.<bucket>` without empty segments
    ///   (`aws:s3.us-east-1.photos`; `minio:s3.photos` for MinIO's default empty region);
    /// - `id` `cloudEventID(body:record:)`; `subject` the decoded key (the adapter names the raw `s3.object.key`;
    ///   the decoded key is what rules matched and what the object is called);
    /// - `time` the record's `eventTime` (omitted when absent or empty); `datacontenttype` `application/json`;
    /// - `data` the record's JSON text as received.
    public static func cloudEvent(body: [UInt8], record: EventRecord) -> [UInt8] {
        let recordBytes = recordSlice(body, record)
        var out: [UInt8] = []
        out.reserveCapacity(recordBytes.count + 2 * record.key.utf8.count + 256)
        append(#"{"specversion":"1.0","id":"#, to: &out)
        JSONWriter.appendString(cloudEventID(body: body, record: record), to: &out)
        append(#","source":"#, to: &out)
        JSONWriter.appendString(cloudEventSource(record: record), to: &out)
        append(#","type":"#, to: &out)
        JSONWriter.appendString(cloudEventType(record: record), to: &out)
        append(#","subject":"#, to: &out)
        JSONWriter.appendString(record.key, to: &out)
        if let time = record.eventTime, !time.isEmpty {
            append(#","time":"#, to: &out)
            JSONWriter.appendString(time, to: &out)
        }
        append(#","datacontenttype":"application/json","data":"#, to: &out)
        out.append(contentsOf: recordBytes)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The CloudEvents `source`: the record's event source, region and bucket joined by `.`, empty ones left out.
    public static func cloudEventSource(record: EventRecord) -> String {
        [record.eventSource, record.awsRegion ?? "", record.bucket].filter { !$0.isEmpty }.joined(separator: ".")
    }

    /// The CloudEvents `type`: `com.amazonaws.s3.` + the event name without `s3:` (`com.amazonaws.s3.ObjectCreated:Put`).
    public static func cloudEventType(record: EventRecord) -> String {
        let name =
            record.eventName.utf8.starts(with: "s3:".utf8)
            ? Substring(record.eventName.utf8.dropFirst(3)) : Substring(record.eventName)
        return "com.amazonaws.s3." + name
    }

    /// The `ce-*` headers of a binary-mode CloudEvent (CloudEvents HTTP binding §3.1.3): the same attributes as
    /// `cloudEvent(body:record:)`, with `data` the body. Values are percent-encoded where the binding requires it
    /// (space, `"`, `%` and every byte outside printable ASCII, as UTF-8), so a key with any character is a valid
    /// header value.
    /// - Parameter recordBytes: the record's JSON text (the payload), which the fallback `id` hashes.
    public static func cloudEventHeaders(record: EventRecord, recordBytes: [UInt8]) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("ce-specversion", "1.0"),
            ("ce-id", percentEncodedHeaderValue(cloudEventID(body: recordBytes, record: record))),
            ("ce-source", percentEncodedHeaderValue(cloudEventSource(record: record))),
            ("ce-type", percentEncodedHeaderValue(cloudEventType(record: record))),
            ("ce-subject", percentEncodedHeaderValue(record.key)),
        ]
        if let time = record.eventTime, !time.isEmpty {
            headers.append(("ce-time", percentEncodedHeaderValue(time)))
        }
        return headers
    }

    /// `value` with space, `"`, `%` and every byte outside U+0021–U+007E percent-encoded (upper-case hex).
    public static func percentEncodedHeaderValue(_ value: String) -> String {
        let needs = value.utf8.contains { $0 <= 0x20 || $0 >= 0x7F || $0 == 0x22 || $0 == 0x25 }
        guard needs else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count * 3)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in value.utf8 {
            if byte <= 0x20 || byte >= 0x7F || byte == 0x22 || byte == 0x25 {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A CloudEvents `id` that is the same every time the same record arrives (sender retries included):
    /// RGW's `eventId` when present; else `<x-amz-request-id>.<sequencer>`; else `fnv1a64-` + the FNV-1a 64-bit hash
    /// of the record's bytes in hex. (The adapter's `<x-amz-request-id>.<x-amz-id-2>` is not unique for MinIO: its
    /// `x-amz-id-2` is constant per node, so the events of one multi-object request would share an id.)
    public static func cloudEventID(body: [UInt8], record: EventRecord) -> String {
        if let eventID = record.eventID, !eventID.isEmpty { return eventID }
        if let requestID = record.requestID, !requestID.isEmpty, let sequencer = record.sequencer, !sequencer.isEmpty {
            return requestID + "." + sequencer
        }
        return "fnv1a64-" + fnv1a64Hex(recordSlice(body, record))
    }

    /// The FNV-1a 64-bit hash of `bytes`, 16 lower-case hex digits.
    public static func fnv1a64Hex(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.utf8.count) + hex
    }

    private static func recordSlice(_ body: [UInt8], _ record: EventRecord) -> ArraySlice<UInt8> {
        body[record.recordRange.clamped(to: body.startIndex..<body.endIndex)]
    }

    static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
