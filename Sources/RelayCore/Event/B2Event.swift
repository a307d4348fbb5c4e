/// Backblaze B2 event notifications (a B2 bucket's notification rule posting to the relay), translated into S3 event
/// records so that one rule set, one matcher and every payload format serve B2 like MinIO, AWS and RGW
/// (docs/interface.md, "What senders send").
///
/// B2 posts `{"events":[event, …]}` (one to 50 events), each event
/// `{"accountId","bucketId","bucketName","eventId","eventTimestamp" (ms since 1970),"eventType":"b2:ObjectCreated:Upload",
/// "eventVersion":1,"matchedRuleName","objectName" (the name as it is, not encoded),"objectSize","objectVersionId"}`.
/// The translation is one `{"Records":[…]}` body with one record per event, in order:
/// - `eventName` from `eventType` (`eventName(b2EventType:)`), `eventSource` `b2:s3`, `eventTime` from
///   `eventTimestamp`;
/// - `eventId` from B2's `eventId`: the resend identity, as RGW's `eventId` is;
/// - `s3.bucket.name` from `bucketName`, `s3.object.key` from `objectName`, `size` from `objectSize`, `versionId` from
///   `objectVersionId`, `userIdentity.principalId` from `accountId`, `s3.configurationId` from `matchedRuleName`;
/// - `"b2":{"eventType","bucketId","accountId"}` beside `s3`, B2's own words.
///
/// An event that cannot be routed (no bucket name, no object name, an event type this relay does not know) is one
/// undecodable record (field `events[i].…`, its dead letter the event as B2 sent it); the other events are routed.
/// A body of only `b2:TestEvent` events (sent when a rule is tested) is a test event: answered 2xx, routed nowhere.
///
/// **Keys.** B2's `objectName` is the file name as it is (not form-encoded): it is form-encoded into the record here,
/// which every reader decodes back. This is the one place that decides it (`keyIsFormEncoded`).
public enum B2Event {
    /// Whether B2's `objectName` arrives form-encoded like an S3 record's key. B2's documentation, its SDKs and
    /// captured deliveries show the plain name.
    static let keyIsFormEncoded = false

    /// The `eventSource` of a translated record.
    public static let eventSource = "b2:s3"

    /// B2's test event type.
    static let testEventType = "b2:TestEvent"

    /// Whether `root` is a B2 event notification body: an object whose `events` is a non-empty array with at least
    /// one object whose `eventType` is a string starting with `b2:`.
    static func isB2Notification(_ root: JSONValue) -> Bool {
        guard let events = root["events"]?.arrayValue, !events.isEmpty else { return false }
        return events.contains { $0["eventType"]?.stringValue?.utf8.starts(with: "b2:".utf8) == true }
    }

    /// The outcome of translating a B2 body.
    enum Translation {
        /// Every event is `b2:TestEvent`; the value is the first one's `bucketName` (`""` when absent).
        case testEvent(String)
        /// The `{"Records":[…]}` body (one element per event; an event that cannot be routed is copied as B2 sent
        /// it), and the problems of those events by index.
        case records(body: [UInt8], problems: [Int: Undecodable])
    }

    /// Translates a B2 body (`isB2Notification(root)` holds). `source` is the request body `root` was parsed from,
    /// whose bytes an event that cannot be routed is copied from.
    static func translate(_ root: JSONValue, source: UnsafeRawBufferPointer) -> Translation {
        let events = root["events"]?.arrayValue ?? []
        if events.allSatisfy({ $0["eventType"]?.stringValue == testEventType }) {
            return .testEvent(events.first?["bucketName"]?.stringValue ?? "")
        }
        var records: [[UInt8]] = []
        records.reserveCapacity(events.count)
        var problems: [Int: Undecodable] = [:]
        for (index, event) in events.enumerated() {
            switch record(event, index: index) {
            case .success(let record):
                records.append(record)
            case .failure(let problem):
                problems[index] = problem
                let range = event.range.clamped(to: 0..<source.count)
                records.append(Array(UnsafeRawBufferPointer(rebasing: source[range])))
            }
        }
        return .records(body: TranslatedRecord.body(records), problems: problems)
    }

    /// One event's record, or why it cannot be routed.
    static func record(_ event: JSONValue, index: Int) -> Result<[UInt8], Undecodable> {
        let path = "events[\(index)]"
        guard event.objectValue != nil else {
            return .failure(Undecodable(field: path, reason: "expected an object, found \(event.typeName)"))
        }
        if let duplicate = EventDecoder.duplicateMember(within: event) {
            return .failure(Undecodable(field: "\(path).\(duplicate.field)", reason: duplicate.reason))
        }
        guard let eventType = event["eventType"]?.stringValue else {
            return .failure(Undecodable(field: "\(path).eventType", reason: "missing; expected a string"))
        }
        if eventType == testEventType {
            return .failure(
                Undecodable(field: "\(path).eventType", reason: "a test event among object events; routed nowhere")
            )
        }
        guard let eventName = eventName(b2EventType: eventType) else {
            return .failure(
                Undecodable(
                    field: "\(path).eventType",
                    reason: "\(eventType.quotedForMessage) is not a B2 event type this relay knows"
                )
            )
        }
        guard let bucket = event["bucketName"]?.stringValue, !bucket.isEmpty else {
            return .failure(Undecodable(field: "\(path).bucketName", reason: "missing; expected a bucket name"))
        }
        guard let key = event["objectName"]?.stringValue, !key.isEmpty else {
            return .failure(Undecodable(field: "\(path).objectName", reason: "missing; expected an object name"))
        }
        var size: Int64?
        if let value = event["objectSize"], !value.isNull {
            guard let bytes = value.int64Value, bytes >= 0 else {
                return .failure(
                    Undecodable(
                        field: "\(path).objectSize",
                        reason: "expected a non-negative integer, found \(value.typeName)"
                    )
                )
            }
            size = bytes
        }
        var eventTime: String?
        if let milliseconds = event["eventTimestamp"]?.int64Value {
            eventTime = Timestamp(millisecondsSince1970: milliseconds).iso8601
        }
        var extensionJSON: [UInt8] = Array(#"{"eventType":"#.utf8)
        JSONWriter.appendString(eventType, to: &extensionJSON)
        if let bucketID = event["bucketId"]?.stringValue {
            extensionJSON.append(contentsOf: Array(#","bucketId":"#.utf8))
            JSONWriter.appendString(bucketID, to: &extensionJSON)
        }
        if let accountID = event["accountId"]?.stringValue {
            extensionJSON.append(contentsOf: Array(#","accountId":"#.utf8))
            JSONWriter.appendString(accountID, to: &extensionJSON)
        }
        extensionJSON.append(UInt8(ascii: "}"))
        let record = TranslatedRecord(
            eventSource: eventSource,
            eventName: eventName,
            eventTime: eventTime,
            eventID: event["eventId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            principalID: event["accountId"]?.stringValue,
            configurationID: event["matchedRuleName"]?.stringValue,
            bucket: bucket,
            key: key,
            keyIsFormEncoded: keyIsFormEncoded,
            size: size,
            versionID: event["objectVersionId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            extensionMembers: [("b2", extensionJSON)]
        )
        return .success(record.json())
    }

    /// The S3 event name (`s3:` form) of a B2 event type; nil for one this relay does not know.
    ///
    /// B2's types (its Event Notifications reference guide): `b2:ObjectCreated:Upload` → `s3:ObjectCreated:Put`,
    /// `…:MultipartUpload` → `s3:ObjectCreated:CompleteMultipartUpload`, `…:Copy` → `s3:ObjectCreated:Copy`,
    /// `…:Replica` and `…:MultipartReplica` (the replica in a destination bucket) keep their names in the
    /// `s3:ObjectCreated:` family; `b2:ObjectDeleted:Delete` → `s3:ObjectRemoved:Delete`,
    /// `b2:ObjectDeleted:LifecycleRule` → `s3:LifecycleExpiration:Delete`; a hide marker is B2's delete marker:
    /// `b2:HideMarkerCreated:Hide` → `s3:ObjectRemoved:DeleteMarkerCreated`, `b2:HideMarkerCreated:LifecycleRule` →
    /// `s3:LifecycleExpiration:DeleteMarkerCreated`; `b2:MultipartUploadCreated:LiveRead` (an upload started, not an
    /// object yet) → `s3:MultipartUploadCreated:LiveRead`, outside the `s3:ObjectCreated:` family.
    static func eventName(b2EventType: String) -> String? {
        switch b2EventType {
        case "b2:ObjectCreated:Upload": "s3:ObjectCreated:Put"
        case "b2:ObjectCreated:MultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload"
        case "b2:ObjectCreated:Copy": "s3:ObjectCreated:Copy"
        case "b2:ObjectCreated:Replica": "s3:ObjectCreated:Replica"
        case "b2:ObjectCreated:MultipartReplica": "s3:ObjectCreated:MultipartReplica"
        case "b2:ObjectDeleted:Delete": "s3:ObjectRemoved:Delete"
        case "b2:ObjectDeleted:LifecycleRule": "s3:LifecycleExpiration:Delete"
        case "b2:HideMarkerCreated:Hide": "s3:ObjectRemoved:DeleteMarkerCreated"
        case "b2:HideMarkerCreated:LifecycleRule": "s3:LifecycleExpiration:DeleteMarkerCreated"
        case "b2:MultipartUploadCreated:LiveRead": "s3:MultipartUploadCreated:LiveRead"
        default: nil
        }
    }
}
