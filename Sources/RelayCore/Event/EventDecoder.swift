/// Decodes webhook request bodies (MinIO, AWS S3, Ceph RGW) into event records.
///
/// One parse of the body, no re-encoding: each record keeps the byte range of its JSON text so payloads can forward
/// it as received. The decoder is lenient where senders differ (unknown fields are ignored, `null` is accepted for
/// optional fields such as `requestParameters`, `userMetadata` or `contentType`) and strict where routing depends on
/// a field: a record without an `eventName`, bucket name or key string, with a `size` that is not a non-negative
/// integer, with a key that does not unescape, or with a wrong-typed `eventSource`, `contentType` or metadata is
/// undecodable. So is a record (or a body, at its top level or in the envelope's members) in which one object
/// names a member twice, ignoring case, or that lists one metadata name twice: the relay would route on one copy
/// while a receiver may read the other (see `duplicateMember(within:)`). Informational fields of the wrong type
/// (`eventTime`, `awsRegion`, `sequencer`, `versionId`, `eventId`, `responseElements`) are treated as absent.
public enum EventDecoder {
    /// Decodes one request body.
    /// - Parameter body: the request body as received.
    /// - Returns: `.empty` for a body of only whitespace, `.notJSON` for a syntax error, `.testEvent` for S3's
    ///   `s3:TestEvent`, `.undecodable` for valid JSON that holds no routable records, otherwise `.events` with one
    ///   result per record. Record ranges index `body`.
    public static func decode(_ body: [UInt8]) -> DecodedBody {
        body.withUnsafeBytes { decode($0, backing: body, scan: true) }
    }

    /// Decodes one request body held in raw memory. See `decode(_:)`; record ranges index `body`.
    public static func decode(_ body: UnsafeRawBufferPointer) -> DecodedBody {
        decode(body, backing: nil, scan: true)
    }

    /// `decode(_:)` by the full parse alone, without the scanner's fast path (`EventScanner`): the reference the
    /// scanner is checked against (tests, the differential fuzz target, benchmarks). The same result for every body.
    public static func decodeByFullParse(_ body: [UInt8]) -> DecodedBody {
        body.withUnsafeBytes { decode($0, backing: body, scan: false) }
    }

    /// The scanner's answer alone: nil where `decode(_:)` falls back to the full parse (shapes other than MinIO's,
    /// AWS's and RGW's records, any record that does not decode, any syntax error). Where it is not nil it equals
    /// `decodeByFullParse(_:)`.
    public static func decodeByScanner(_ body: [UInt8]) -> DecodedBody? {
        body.withUnsafeBytes { raw in
            if isBlank(raw) || VersityGateway.mayBeVersityGateway(raw) { return nil }
            return EventScanner.scan(raw, backing: body)
        }
    }

    /// The scanner first (for a body in the common records shape), then the full parse for everything else.
    /// `backing`, when given, holds `body`'s bytes (the scanned records refer to it rather than to a copy).
    static func decode(_ body: UnsafeRawBufferPointer, backing: [UInt8]?, scan: Bool) -> DecodedBody {
        if isBlank(body) { return .empty }
        if scan, !VersityGateway.mayBeVersityGateway(body), let scanned = EventScanner.scan(body, backing: backing) {
            return scanned
        }
        let root: JSONValue
        do throws(JSONSyntaxError) {
            root = try JSONParser.parse(body)
        } catch {
            // Deeper than the parser builds trees for: valid JSON is dead-lettered, not refused (a refused body is
            // resent forever); otherwise the answer names the real syntax error, not the depth.
            guard error.isNestingLimit else { return .notJSON(error) }
            if let syntaxError = JSONParser.validate(body) { return .notJSON(syntaxError) }
            return .undecodable(
                Undecodable(field: "$", reason: "nesting deeper than \(JSONParser.maximumDepth) levels")
            )
        }
        if EventBridgeEvent.isEventBridgeS3(root) { return decodeEventBridge(root) }
        if B2Event.isB2Notification(root) { return decodeB2(root, source: body) }
        if GCSPushEvent.isPubSubPush(root) { return decodeGCSPush(root) }
        if VersityGateway.isVersityGateway(root) {
            return withOrigin(.versityGateway, decode(root: root, keys: .versityGateway))
        }
        return decode(root: root)
    }

    /// An EventBridge S3 event, through its translation into AWS's record form (`EventBridgeEvent`).
    static func decodeEventBridge(_ root: JSONValue) -> DecodedBody {
        switch EventBridgeEvent.translate(root) {
        case .failure(let problem):
            return .undecodable(problem)
        case .success(let translated):
            guard case .events(var events) = decode(translated) else {
                return .undecodable(Undecodable(field: "detail", reason: "cannot be read as an S3 object event"))
            }
            events.translatedBody = translated
            events.origin = .eventBridge
            return .events(events)
        }
    }

    /// Decodes a body that was already parsed; record ranges are `root`'s ranges.
    public static func decode(root: JSONValue) -> DecodedBody {
        decode(root: root, keys: .byEventSource)
    }

    /// Decodes a parsed body whose keys read as `keys` says.
    static func decode(root: JSONValue, keys: KeyDecoding) -> DecodedBody {
        guard case .object(let members) = root.kind else {
            return .undecodable(Undecodable(field: "$", reason: "expected an object, found \(root.typeName)"))
        }
        // A name given twice at the top level (`Records`, `EventName`, `Key`, ...): the sender and a receiver could
        // each read another copy.
        if let duplicate = duplicateMember(in: members) {
            return .undecodable(Undecodable(field: duplicate.field, reason: duplicate.reason))
        }
        var records: JSONValue?
        var event: JSONValue?
        var testBucket: JSONValue?
        var envelopeEventName: JSONValue?
        var envelopeKey: JSONValue?
        var hasS3 = false
        var hasEventName = false
        for member in members {
            switch member.key {
            case "Records": if records == nil { records = member.value }
            case "EventName": if envelopeEventName == nil { envelopeEventName = member.value }
            case "Key": if envelopeKey == nil { envelopeKey = member.value }
            case "Event": if event == nil { event = member.value }
            case "Bucket": if testBucket == nil { testBucket = member.value }
            case "s3": hasS3 = true
            case "eventName": hasEventName = true
            default: break
            }
        }
        if let records {
            guard case .array(let elements) = records.kind else {
                return .undecodable(
                    Undecodable(field: "Records", reason: "expected an array, found \(records.typeName)")
                )
            }
            if elements.isEmpty {
                return .undecodable(
                    Undecodable(field: "Records", reason: "expected at least one record, found an empty array")
                )
            }
            // The envelope's other members are sent on as they are, so they are held to the same rule as records.
            for member in members where member.key != "Records" {
                if var duplicate = duplicateMember(within: member.value) {
                    duplicate.path.insert(.key(member.key), at: 0)
                    return .undecodable(Undecodable(field: duplicate.field, reason: duplicate.reason))
                }
            }
            var results: [RecordResult] = []
            results.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                results.append(decodeRecord(element, index: index, keys: keys))
            }
            guard envelopeEventName != nil else {
                return .events(DecodedEvents(envelope: .records, records: results))
            }
            var matchesRecord = false
            if results.count == 1, case .record(let record) = results[0] {
                matchesRecord = envelope(eventName: envelopeEventName, key: envelopeKey, matches: record)
            }
            return .events(DecodedEvents(envelope: .minio, records: results, envelopeMatchesRecord: matchesRecord))
        }
        if let event, case .string("s3:TestEvent") = event.kind {
            return .testEvent(testBucket?.stringValue ?? "")
        }
        if hasS3 && hasEventName {
            return .events(DecodedEvents(envelope: .bareRecord, records: [decodeRecord(root, index: nil, keys: keys)]))
        }
        return .undecodable(Undecodable(field: "Records", reason: "missing; expected an array of event records"))
    }

    /// True when `body` holds nothing but JSON whitespace, after an optional UTF-8 byte order mark.
    static func isBlank(_ body: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        if body.count >= 3, body[0] == 0xEF, body[1] == 0xBB, body[2] == 0xBF { index = 3 }
        while index < body.count {
            switch body[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return false
            }
        }
        return true
    }

    /// Whether a MinIO envelope's `EventName` is the record's (normalised) event name and its `Key` the record's
    /// bucket, `/` and decoded key, byte for byte, as MinIO builds them (`event.Log`, internal/event/event.go).
    static func envelope(eventName: JSONValue?, key: JSONValue?, matches record: EventRecord) -> Bool {
        guard let eventName = eventName?.stringValue, let key = key?.stringValue else { return false }
        guard eventName.utf8.elementsEqual(record.eventName.utf8) else { return false }
        let bucket = record.bucket.utf8
        let objectKey = record.key.utf8
        let keyBytes = key.utf8
        guard keyBytes.count == bucket.count + 1 + objectKey.count else { return false }
        return keyBytes.starts(with: bucket)
            && keyBytes.dropFirst(bucket.count).first == UInt8(ascii: "/")
            && keyBytes.dropFirst(bucket.count + 1).elementsEqual(objectKey)
    }

    static func decodeRecord(_ value: JSONValue, index: Int?, keys: KeyDecoding = .byEventSource) -> RecordResult {
        do throws(Undecodable) {
            return .record(try record(from: value, path: FieldPath(index: index), keys: keys))
        } catch {
            return .undecodable(index: index ?? 0, error)
        }
    }

    // MARK: - One record

    private static func record(
        from value: JSONValue,
        path: FieldPath,
        keys: KeyDecoding
    ) throws(Undecodable) -> EventRecord {
        guard case .object(let members) = value.kind else {
            throw path.error("", "expected an object, found \(value.typeName)")
        }
        // Routing reads the first of two members of one name, a receiver often the last: refused anywhere in the
        // record, since a receiver may read any field.
        if let duplicate = duplicateMember(within: value) {
            throw path.error(duplicate.field, duplicate.reason)
        }
        var eventNameValue: JSONValue?
        var eventSourceValue: JSONValue?
        var eventTimeValue: JSONValue?
        var awsRegionValue: JSONValue?
        var responseElementsValue: JSONValue?
        var s3Value: JSONValue?
        var eventIDValue: JSONValue?
        for member in members {
            switch member.key {
            case "eventName": if eventNameValue == nil { eventNameValue = member.value }
            case "eventSource": if eventSourceValue == nil { eventSourceValue = member.value }
            case "eventTime": if eventTimeValue == nil { eventTimeValue = member.value }
            case "awsRegion": if awsRegionValue == nil { awsRegionValue = member.value }
            case "responseElements": if responseElementsValue == nil { responseElementsValue = member.value }
            case "s3": if s3Value == nil { s3Value = member.value }
            case "eventId": if eventIDValue == nil { eventIDValue = member.value }
            default: break
            }
        }

        let s3 = try object(s3Value, path, "s3")
        var bucketValue: JSONValue?
        var objectValue: JSONValue?
        for member in s3 {
            switch member.key {
            case "bucket": if bucketValue == nil { bucketValue = member.value }
            case "object": if objectValue == nil { objectValue = member.value }
            default: break
            }
        }
        let bucketMembers = try object(bucketValue, path, "s3.bucket")
        let bucket = try nonEmptyString(firstValue(bucketMembers, "name"), path, "s3.bucket.name")

        let objectMembers = try object(objectValue, path, "s3.object")
        var keyValue: JSONValue?
        var sizeValue: JSONValue?
        var contentTypeValue: JSONValue?
        var userMetadataValue: JSONValue?
        var rgwMetadataValue: JSONValue?
        var sequencerValue: JSONValue?
        var versionIDValue: JSONValue?
        for member in objectMembers {
            switch member.key {
            case "key": if keyValue == nil { keyValue = member.value }
            case "size": if sizeValue == nil { sizeValue = member.value }
            case "contentType": if contentTypeValue == nil { contentTypeValue = member.value }
            case "userMetadata": if userMetadataValue == nil { userMetadataValue = member.value }
            case "metadata": if rgwMetadataValue == nil { rgwMetadataValue = member.value }
            case "sequencer": if sequencerValue == nil { sequencerValue = member.value }
            case "versionId": if versionIDValue == nil { versionIDValue = member.value }
            default: break
            }
        }
        let rawKey = try nonEmptyString(keyValue, path, "s3.object.key")

        let rawEventName = try nonEmptyString(eventNameValue, path, "eventName")
        // Bytes, not characters: `s3:` followed by a combining mark does not start with the character `:`.
        let eventName = rawEventName.utf8.starts(with: "s3:".utf8) ? rawEventName : "s3:" + rawEventName
        let eventSource = try optionalString(eventSourceValue, path, "eventSource") ?? ""

        let key: String
        if keys == .versityGateway || eventSource == "ceph:s3" {
            key = rawKey
        } else {
            switch formUnescape(rawKey) {
            case .unescaped(let decoded):
                key = decoded
            case .invalidEscape(let escape):
                throw path.error(
                    "s3.object.key",
                    "invalid URL escape \(escape.quotedForMessage); expected '%' followed by two hex digits"
                )
            case .invalidUTF8:
                throw path.error("s3.object.key", "the unescaped key is not valid UTF-8")
            }
        }

        let size = try self.size(sizeValue, path)
        let contentType = try optionalString(contentTypeValue, path, "s3.object.contentType")
        var metadata: [String: String] = [:]
        try addUserMetadata(userMetadataValue, to: &metadata, path)
        try addRGWMetadata(rgwMetadataValue, to: &metadata, path)

        var requestID: String?
        if let responseElementsValue, case .object(let elements) = responseElementsValue.kind {
            requestID = firstValue(elements, "x-amz-request-id")?.stringValue
        }
        var versionID = versionIDValue?.stringValue
        if versionID?.isEmpty == true { versionID = nil }

        return EventRecord(
            eventName: eventName,
            eventSource: eventSource,
            bucket: bucket,
            key: key,
            rawKey: rawKey,
            size: size,
            contentType: contentType,
            metadata: metadata,
            eventTime: eventTimeValue?.stringValue,
            awsRegion: awsRegionValue?.stringValue,
            requestID: requestID,
            sequencer: sequencerValue?.stringValue,
            eventID: eventIDValue?.stringValue,
            versionID: versionID,
            recordRange: value.range,
            json: value
        )
    }

    private static func size(_ value: JSONValue?, _ path: FieldPath) throws(Undecodable) -> Int64? {
        guard let value else { return nil }
        switch value.kind {
        case .null:
            return nil
        case .number(let text):
            guard let size = value.int64Value else {
                throw path.error("s3.object.size", "expected an integer, found number \(text.prefix(40))")
            }
            guard size >= 0 else {
                throw path.error("s3.object.size", "expected a non-negative integer, found \(size)")
            }
            return size
        default:
            throw path.error("s3.object.size", "expected an integer, found \(value.typeName)")
        }
    }

    /// MinIO's `userMetadata`: `{"X-Amz-Meta-Kind":"avatar","content-type":"image/jpeg"}`.
    private static func addUserMetadata(
        _ value: JSONValue?,
        to metadata: inout [String: String],
        _ path: FieldPath
    ) throws(Undecodable) {
        guard let value else { return }
        switch value.kind {
        case .null:
            return
        case .object(let entries):
            metadata.reserveCapacity(entries.count)
            for entry in entries {
                switch entry.value.kind {
                case .string(let text): metadata[lowercasedName(entry.key)] = text
                case .null: continue
                default:
                    throw path.error(
                        "s3.object.userMetadata.\(entry.key)",
                        "expected a string, found \(entry.value.typeName)"
                    )
                }
            }
        default:
            throw path.error("s3.object.userMetadata", "expected an object, found \(value.typeName)")
        }
    }

    /// RGW's `metadata`: `[{"key":"x-amz-meta-demo","val":"1"}]`.
    private static func addRGWMetadata(
        _ value: JSONValue?,
        to metadata: inout [String: String],
        _ path: FieldPath
    ) throws(Undecodable) {
        guard let value else { return }
        switch value.kind {
        case .null:
            return
        case .array(let items):
            metadata.reserveCapacity(metadata.count + items.count)
            for (index, item) in items.enumerated() {
                let entry = try object(item, path, "s3.object.metadata[\(index)]")
                let name = try string(firstValue(entry, "key"), path, "s3.object.metadata[\(index)].key")
                guard let val = try optionalString(firstValue(entry, "val"), path, "s3.object.metadata[\(index)].val")
                else { continue }
                // Routing would see the last of two entries of one name, a receiver perhaps the first.
                if metadata.updateValue(val, forKey: lowercasedName(name)) != nil {
                    throw path.error(
                        "s3.object.metadata[\(index)].key",
                        "duplicate metadata name \(name.quotedForMessage) (names ignore case); a receiver could read "
                            + "the other value"
                    )
                }
            }
        default:
            throw path.error("s3.object.metadata", "expected an array, found \(value.typeName)")
        }
    }

    // MARK: - Field helpers

    /// Builds field paths only when a record is refused.
    struct FieldPath {
        /// The index in `Records`; nil for a body that is itself one record.
        var index: Int?

        func error(_ field: String, _ reason: String) -> Undecodable {
            let path: String
            if let index {
                path = field.isEmpty ? "Records[\(index)]" : "Records[\(index)].\(field)"
            } else {
                path = field.isEmpty ? "$" : field
            }
            return Undecodable(field: path, reason: reason)
        }
    }

    private static func firstValue(_ members: [JSONMember], _ key: String) -> JSONValue? {
        for member in members where member.key == key {
            return member.value
        }
        return nil
    }

    private static func object(
        _ value: JSONValue?,
        _ path: FieldPath,
        _ field: String
    ) throws(Undecodable) -> [JSONMember] {
        guard let value else { throw path.error(field, "missing; expected an object") }
        guard case .object(let members) = value.kind else {
            throw path.error(field, "expected an object, found \(value.typeName)")
        }
        return members
    }

    private static func string(_ value: JSONValue?, _ path: FieldPath, _ field: String) throws(Undecodable) -> String {
        guard let value else { throw path.error(field, "missing; expected a string") }
        guard case .string(let text) = value.kind else {
            throw path.error(field, "expected a string, found \(value.typeName)")
        }
        return text
    }

    private static func nonEmptyString(
        _ value: JSONValue?,
        _ path: FieldPath,
        _ field: String
    ) throws(Undecodable) -> String {
        let text = try string(value, path, field)
        guard !text.isEmpty else { throw path.error(field, "expected a non-empty string, found \"\"") }
        return text
    }

    /// A string, or nil when absent or null; any other type is refused.
    private static func optionalString(
        _ value: JSONValue?,
        _ path: FieldPath,
        _ field: String
    ) throws(Undecodable) -> String? {
        guard let value else { return nil }
        switch value.kind {
        case .string(let text): return text
        case .null: return nil
        default: throw path.error(field, "expected a string, found \(value.typeName)")
        }
    }

    /// `name` with ASCII and Unicode upper case lowered; returned as is (no copy) when already lower case ASCII.
    static func lowercasedName(_ name: String) -> String {
        for byte in name.utf8 where (byte >= 0x41 && byte <= 0x5A) || byte >= 0x80 {
            return name.lowercased()
        }
        return name
    }

    // MARK: - Key unescaping

    enum FormUnescapeResult: Equatable {
        case unescaped(String)
        /// The bad escape's text, e.g. `%zz` or a truncated `%4`.
        case invalidEscape(String)
        case invalidUTF8
    }

    /// Go's `url.QueryUnescape`: `+` becomes a space and `%XX` the byte XX; a `%` not followed by two hex digits is
    /// an error. The result must be UTF-8. Returns `text` itself when it holds neither `%` nor `+`.
    static func formUnescape(_ text: String) -> FormUnescapeResult {
        var needsWork = false
        for byte in text.utf8 where byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") {
            needsWork = true
            break
        }
        if !needsWork { return .unescaped(text) }
        if let result = text.utf8.withContiguousStorageIfAvailable({ formUnescape(bytes: $0) }) {
            return result
        }
        return Array(text.utf8).withUnsafeBufferPointer { formUnescape(bytes: $0) }
    }

    /// `formUnescape(_:)` of a text's UTF-8 bytes, which hold a `%` or a `+`.
    static func formUnescape(bytes: UnsafeBufferPointer<UInt8>) -> FormUnescapeResult {
        // The output is never longer than the input: built in scratch memory, copied once into the string.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, bytes.count)) { out in
            var count = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "%"):
                    guard index + 2 < bytes.count, let high = ASCII.hexValue(bytes[index + 1]),
                        let low = ASCII.hexValue(bytes[index + 2])
                    else {
                        let end = min(index + 3, bytes.count)
                        return .invalidEscape(
                            String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
                        )
                    }
                    out[count] = high << 4 | low
                    index += 3
                case UInt8(ascii: "+"):
                    out[count] = UInt8(ascii: " ")
                    index += 1
                default:
                    out[count] = byte
                    index += 1
                }
                count += 1
            }
            let decoded = UnsafeBufferPointer(rebasing: out[0..<count])
            guard EventScanner.isValidUTF8(decoded) else { return .invalidUTF8 }
            return .unescaped(String(decoding: decoded, as: UTF8.self))
        }
    }
}

extension EventDecoder {
    /// How the records of a body read their keys; decided once per body, never from a key's bytes.
    enum KeyDecoding: Equatable {
        /// By each record's `eventSource`: `ceph:s3` as it is, every other source form-unescaped.
        case byEventSource
        /// versitygw's records: keys as they are, like `ceph:s3`'s (see `VersityGateway`).
        case versityGateway
    }

    /// `body` with `origin` set when it holds events.
    static func withOrigin(_ origin: DecodedEvents.Origin, _ body: DecodedBody) -> DecodedBody {
        guard case .events(var events) = body else { return body }
        events.origin = origin
        return .events(events)
    }

    /// A Backblaze B2 body, through its translation into S3 records (`B2Event`): one record per event, an event that
    /// cannot be routed undecodable (its dead letter the event as B2 sent it), a body of test events a test event.
    static func decodeB2(_ root: JSONValue, source: UnsafeRawBufferPointer) -> DecodedBody {
        switch B2Event.translate(root, source: source) {
        case .testEvent(let bucket):
            return .testEvent(bucket.isEmpty ? B2Event.testEventType : bucket)
        case .records(let translated, let problems):
            guard case .events(var events) = decode(translated) else {
                return .undecodable(Undecodable(field: "events", reason: "cannot be read as B2 object events"))
            }
            for (index, problem) in problems where index < events.records.count {
                events.records[index] = .undecodable(index: index, problem)
            }
            events.translatedBody = translated
            events.origin = .b2
            return .events(events)
        }
    }

    /// A Pub/Sub push of a Cloud Storage notification, through its translation into an S3 record (`GCSPushEvent`).
    /// One that cannot be routed is one undecodable record (the dead letter holds the push as received), so that the
    /// body is still known as a push (`origin` `.gcsPush`).
    static func decodeGCSPush(_ root: JSONValue) -> DecodedBody {
        var problem = Undecodable(field: "message", reason: "cannot be read as a Cloud Storage object event")
        switch GCSPushEvent.translate(root) {
        case .success(let translated):
            if case .events(var events) = decode(translated) {
                events.translatedBody = translated
                events.origin = .gcsPush
                return .events(events)
            }
        case .failure(let failure):
            problem = failure
        }
        var events = DecodedEvents(envelope: .records, records: [.undecodable(index: 0, problem)])
        events.origin = .gcsPush
        return .events(events)
    }
}
