import FuzzSupport
import RelayCore

/// Request bodies: `EventDecoder.decode`, then every payload format for every decoded record.
///
/// Invariants: decoding raw memory and an array agree; a syntax error points inside the body; record ranges lie in
/// the body and hold a JSON object in which no object repeats a member name; every payload is JSON; a MinIO
/// envelope with one record is forwarded byte for byte in `minio` format exactly when its `EventName` and `Key`
/// agree with the record, and rebuilt otherwise (a bare `Records` body with one record is forwarded in `records`
/// format); a built envelope holds the record's bytes unchanged and decodes back to the same record; a CloudEvent
/// carries the record as `data` and the record's fields in its attributes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // libFuzzer's buffer is allocated at exactly `size` bytes: AddressSanitizer reports any read past it.
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let decoded = EventDecoder.decode(raw)
    let body = Array(raw)
    FuzzCheck.require(decoded == EventDecoder.decode(body), "decode(raw) and decode([UInt8]) differ")

    switch decoded {
    case .empty:
        var index = body.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while index < body.count, [0x20, 0x0A, 0x0D, 0x09].contains(body[index]) { index += 1 }
        FuzzCheck.require(index == body.count, "a body with non-blank bytes decoded as empty")
    case .notJSON(let error):
        FuzzCheck.require(error.offset >= 0 && error.offset <= size, "syntax error offset \(error.offset) outside body")
        FuzzCheck.require(error.line >= 1 && error.column >= 1, "syntax error at line \(error.line):\(error.column)")
        // Past the parser's depth limit the decoder reports what the tree-less validator finds: the real error.
        let parsed = FuzzCheck.syntaxError(body)
        let expected = parsed?.isNestingLimit == true ? JSONParser.validate(raw) : parsed
        FuzzCheck.require(expected == error, "parse and decode report different syntax errors")
        FuzzCheck.require(printable(error.message), "a syntax error message holds a control character: \(error)")
    case .testEvent:
        FuzzCheck.require(FuzzCheck.parse(body) != nil, "a test event that is not JSON")
    case .undecodable(let problem):
        FuzzCheck.require(JSONParser.validate(raw) == nil, "an undecodable body that is not JSON")
        FuzzCheck.require(!problem.field.isEmpty && !problem.reason.isEmpty, "undecodable without field or reason")
        FuzzCheck.require(printable(problem.reason), "an undecodable reason holds a control character: \(problem)")
    case .events(let events):
        // An EventBridge event's records index its translation into S3's record form.
        checkEvents(events, events.payloadBody(body))
    }
    return 0
}

/// Messages end up in logs and on terminals: values taken from the body must be quoted, never raw. (Field paths
/// may hold raw metadata keys: they are data, written through `JSONWriter` into responses and dead letters.)
private func printable(_ message: String) -> Bool {
    !message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
}

private func checkEvents(_ events: DecodedEvents, _ body: [UInt8]) {
    FuzzCheck.require(!events.records.isEmpty, "events without records")
    if events.envelope == .bareRecord {
        FuzzCheck.require(events.records.count == 1, "a bare record body with \(events.records.count) records")
    }
    for (position, result) in events.records.enumerated() {
        switch result {
        case .undecodable(let index, let problem):
            FuzzCheck.require(index == (events.envelope == .bareRecord ? 0 : position), "record index \(index)")
            FuzzCheck.require(!problem.field.isEmpty && !problem.reason.isEmpty, "undecodable without field or reason")
            FuzzCheck.require(printable(problem.reason), "an undecodable reason holds a control character: \(problem)")
        case .record(let record):
            checkRecord(record, events, body)
        }
    }
}

private func checkRecord(_ record: EventRecord, _ events: DecodedEvents, _ body: [UInt8]) {
    let range = record.recordRange
    FuzzCheck.require(
        range.lowerBound >= 0 && range.upperBound <= body.count && !range.isEmpty,
        "record range \(range) outside a body of \(body.count) bytes"
    )
    let recordBytes = Array(body[range])
    guard let recordValue = FuzzCheck.parse(recordBytes), case .object = recordValue.kind else {
        FuzzCheck.require(false, "record range \(range) does not hold a JSON object")
        return
    }
    // The `s3:` form, in bytes: `s3:` is prefixed unless the name starts with it. Unknown names (even a bare
    // `s3:`) are accepted: rules without an event condition route them.
    if let raw = recordValue["eventName"]?.stringValue {
        let expected = raw.utf8.starts(with: "s3:".utf8) ? raw : "s3:" + raw
        FuzzCheck.require(
            FuzzCheck.sameBytes(record.eventName, expected),
            "event name \(Array(raw.unicodeScalars)) normalised to \(Array(record.eventName.unicodeScalars))"
        )
    } else {
        FuzzCheck.require(false, "a decoded record without an eventName string")
    }
    FuzzCheck.require(!repeatsAName(recordValue), "a decoded record repeats a member name")
    if events.envelope == .minio, events.records.count == 1, let envelope = FuzzCheck.parse(body) {
        let agrees =
            envelope["EventName"]?.stringValue.map { FuzzCheck.sameBytes($0, record.eventName) } == true
            && envelope["Key"]?.stringValue.map { FuzzCheck.sameBytes($0, record.bucket + "/" + record.key) } == true
        FuzzCheck.require(
            events.envelopeMatchesRecord == agrees,
            "envelopeMatchesRecord is \(events.envelopeMatchesRecord) for an envelope that agrees: \(agrees)"
        )
    } else {
        FuzzCheck.require(!events.envelopeMatchesRecord, "envelopeMatchesRecord set for a \(events.envelope) body")
    }
    FuzzCheck.require(!record.bucket.isEmpty && !record.rawKey.isEmpty, "empty bucket or key")
    FuzzCheck.require(record.size.map { $0 >= 0 } ?? true, "negative size")
    FuzzCheck.require(record.versionID.map { !$0.isEmpty } ?? true, "empty versionID kept")
    if record.eventSource == "ceph:s3" {
        FuzzCheck.require(FuzzCheck.sameBytes(record.key, record.rawKey), "an RGW key was unescaped")
    }
    if !record.rawKey.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) {
        FuzzCheck.require(FuzzCheck.sameBytes(record.key, record.rawKey), "a key without escapes changed")
    }

    for format in PayloadFormat.allCases {
        let payload = PayloadBuilder.payload(format: format, body: body, events: events, record: record)
        guard let value = FuzzCheck.parse(payload) else {
            FuzzCheck.require(false, "\(format) payload is not JSON: \(payload)")
            return
        }
        FuzzCheck.checkRanges(value, in: payload, bounds: 0..<payload.count)
        switch format {
        case .minio:
            if events.envelope == .minio && events.records.count == 1 && events.envelopeMatchesRecord {
                FuzzCheck.require(payload == body, "a MinIO single-record body was not forwarded byte for byte")
            } else {
                checkEnvelope(payload, value, record, recordBytes, envelope: .minio)
            }
        case .records:
            if events.envelope == .records && events.records.count == 1 {
                FuzzCheck.require(payload == body, "a single-record Records body was not forwarded byte for byte")
            } else {
                checkEnvelope(payload, value, record, recordBytes, envelope: .records)
            }
        case .cloudevents:
            checkCloudEvent(payload, value, record, recordBytes, body)
        case .cloudeventsBinary:
            FuzzCheck.require(payload == recordBytes, "a binary CloudEvent's body is not the record as received")
        }
    }
}

/// Whether an object in `value` (or below it) has two members of one name, compared exactly: a weaker check than
/// the decoder's (which also ignores case), written independently of it.
private func repeatsAName(_ value: JSONValue) -> Bool {
    switch value.kind {
    case .object(let members):
        var names: Set<String> = []
        for member in members where !names.insert(member.key).inserted { return true }
        return members.contains { repeatsAName($0.value) }
    case .array(let elements):
        return elements.contains(where: repeatsAName)
    default:
        return false
    }
}

/// A built envelope: the expected members in order, the record's bytes as the only element of `Records`, and a
/// decode that gives the same record back.
private func checkEnvelope(
    _ payload: [UInt8],
    _ value: JSONValue,
    _ record: EventRecord,
    _ recordBytes: [UInt8],
    envelope: DecodedEvents.Envelope
) {
    guard let members = value.objectValue else {
        FuzzCheck.require(false, "\(envelope) envelope is not an object")
        return
    }
    let keys = members.map(\.key)
    if envelope == .minio {
        FuzzCheck.require(keys == ["EventName", "Key", "Records"], "MinIO envelope members \(keys)")
        FuzzCheck.require(
            members[0].value.stringValue.map { FuzzCheck.sameBytes($0, record.eventName) } == true,
            "EventName is not the record's event name"
        )
        FuzzCheck.require(
            members[1].value.stringValue.map { FuzzCheck.sameBytes($0, record.bucket + "/" + record.key) } == true,
            "Key is not bucket/key"
        )
    } else {
        FuzzCheck.require(keys == ["Records"], "Records envelope members \(keys)")
    }
    guard let elements = members.last?.value.arrayValue, elements.count == 1 else {
        FuzzCheck.require(false, "envelope Records is not a one-element array")
        return
    }
    FuzzCheck.require(
        payload[elements[0].range].elementsEqual(recordBytes),
        "envelope does not hold the record's bytes unchanged"
    )
    guard case .events(let again) = EventDecoder.decode(payload), again.records.count == 1,
        case .record(var back) = again.records[0]
    else {
        FuzzCheck.require(false, "\(envelope) envelope does not decode to one record")
        return
    }
    FuzzCheck.require(again.envelope == envelope, "envelope decoded as \(again.envelope), built as \(envelope)")
    FuzzCheck.require(back.recordRange == elements[0].range, "decoded record range differs from the parsed one")
    back.recordRange = record.recordRange
    // The record's JSON tree carries byte ranges of the body it was read from; its bytes were compared above.
    back.json = record.json
    FuzzCheck.require(back == record, "record changed through a \(envelope) envelope: \(record) became \(back)")
}

private func checkCloudEvent(
    _ payload: [UInt8],
    _ value: JSONValue,
    _ record: EventRecord,
    _ recordBytes: [UInt8],
    _ body: [UInt8]
) {
    guard let members = value.objectValue else {
        FuzzCheck.require(false, "CloudEvent is not an object")
        return
    }
    let hasTime = record.eventTime.map { !$0.isEmpty } ?? false
    let expectedKeys =
        ["specversion", "id", "source", "type", "subject"] + (hasTime ? ["time"] : []) + ["datacontenttype", "data"]
    FuzzCheck.require(members.map(\.key) == expectedKeys, "CloudEvent members \(members.map(\.key))")
    func attribute(_ name: String) -> String? { value[name]?.stringValue }
    let eventType = "com.amazonaws.s3." + (String(record.eventName.utf8.dropFirst(3)) ?? "")
    // Source, region and bucket joined by "." with the empty ones left out.
    let source = [record.eventSource, record.awsRegion ?? "", record.bucket].filter { !$0.isEmpty }
        .joined(separator: ".")
    let id = PayloadBuilder.cloudEventID(body: body, record: record)
    FuzzCheck.require(!id.isEmpty, "empty CloudEvent id")
    FuzzCheck.require(attribute("specversion") == "1.0", "specversion")
    FuzzCheck.require(attribute("id").map { FuzzCheck.sameBytes($0, id) } == true, "id")
    FuzzCheck.require(attribute("source").map { FuzzCheck.sameBytes($0, source) } == true, "source")
    FuzzCheck.require(attribute("type").map { FuzzCheck.sameBytes($0, eventType) } == true, "type")
    FuzzCheck.require(attribute("subject").map { FuzzCheck.sameBytes($0, record.key) } == true, "subject")
    if hasTime, let time = record.eventTime {
        FuzzCheck.require(attribute("time").map { FuzzCheck.sameBytes($0, time) } == true, "time")
    }
    FuzzCheck.require(attribute("datacontenttype") == "application/json", "datacontenttype")
    guard let data = value["data"] else { return }
    FuzzCheck.require(payload[data.range].elementsEqual(recordBytes), "CloudEvent data is not the record's bytes")
}
