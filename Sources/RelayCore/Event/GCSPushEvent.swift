/// Google Cloud Storage notifications delivered by a Pub/Sub push subscription, translated into an S3 event record
/// so that one rule set, one matcher and every payload format serve GCS like MinIO, AWS and RGW
/// (docs/interface.md, "What senders send").
///
/// Pub/Sub pushes `{"message":{"attributes":{"eventType","bucketId","objectId","objectGeneration",
/// "overwroteGeneration"?,"overwrittenByGeneration"?,"payloadFormat","eventTime",…},"data":<base64>,"messageId",
/// "publishTime"},"subscription"}`; with payload format `JSON_API_V1`, `data` is the object resource as JSON (`name`,
/// `bucket`, `size` as a decimal string, `contentType`, `md5Hash` base64, `metadata` map, `generation`, …), with
/// `NONE` it is absent and the attributes alone say what happened. The translation is one `{"Records":[record]}`:
/// - `eventName` from `attributes.eventType` (`eventName(gcsEventType:overwritten:)`), `eventSource` `gcs:s3`,
///   `eventTime` from `attributes.eventTime` (else `message.publishTime`);
/// - `eventId` from `message.messageId`: the resend identity (Pub/Sub resends a message with its id);
/// - `s3.bucket.name` from `attributes.bucketId` (else `data.bucket`), `s3.object.key` from `attributes.objectId`
///   (else `data.name`), `size` from `data.size` (a string, as a number), `contentType`, `userMetadata` from
///   `data.metadata` (`X-Amz-Meta-<name>`, as MinIO names them), `eTag` the hex of `data.md5Hash` (S3's ETag of a
///   single-part object), `versionId` the generation;
/// - `"gcs":{"eventType","subscription","generation"}` beside `s3`, Google's own words.
///
/// **Keys.** GCS object names arrive as they are (not encoded), in the attributes and in the resource: form-encoded
/// into the record here, which every reader decodes back. This is the one place that decides it
/// (`keyIsFormEncoded`).
public enum GCSPushEvent {
    /// Whether the push's `objectId` / `name` arrive form-encoded like an S3 record's key: Google sends the name as
    /// it is.
    static let keyIsFormEncoded = false

    /// The `eventSource` of a translated record.
    public static let eventSource = "gcs:s3"

    /// Whether `root` is a Pub/Sub push of a Cloud Storage notification: `message.attributes` holds string
    /// `eventType` and `bucketId` members.
    static func isPubSubPush(_ root: JSONValue) -> Bool {
        guard let attributes = root["message"]?["attributes"], attributes.objectValue != nil else { return false }
        return attributes["eventType"]?.stringValue != nil && attributes["bucketId"]?.stringValue != nil
    }

    /// The `{"Records":[record]}` body for a push (`isPubSubPush(root)` holds), or why it is not a routable one.
    static func translate(_ root: JSONValue) -> Result<[UInt8], Undecodable> {
        if let duplicate = EventDecoder.duplicateMember(within: root) {
            return .failure(Undecodable(field: duplicate.field, reason: duplicate.reason))
        }
        guard let message = root["message"], let attributes = message["attributes"] else {
            return .failure(Undecodable(field: "message.attributes", reason: "missing; expected an object"))
        }
        guard let eventType = attributes["eventType"]?.stringValue else {
            return .failure(Undecodable(field: "message.attributes.eventType", reason: "missing; expected a string"))
        }
        let overwritten = attributes["overwrittenByGeneration"]?.stringValue != nil
        guard let eventName = eventName(gcsEventType: eventType, overwritten: overwritten) else {
            return .failure(
                Undecodable(
                    field: "message.attributes.eventType",
                    reason: "\(eventType.quotedForMessage) is not a Cloud Storage event type this relay knows"
                )
            )
        }
        var resource: JSONValue?
        if let data = message["data"], !data.isNull {
            guard let text = data.stringValue, let bytes = Base64.decode(text) else {
                return .failure(Undecodable(field: "message.data", reason: "expected a base64 string"))
            }
            if !bytes.isEmpty {
                do throws(JSONSyntaxError) {
                    resource = try JSONParser.parse(bytes)
                } catch {
                    return .failure(
                        Undecodable(field: "message.data", reason: "the decoded data is not JSON: \(error)")
                    )
                }
                guard resource?.objectValue != nil else {
                    return .failure(
                        Undecodable(field: "message.data", reason: "expected the object resource, a JSON object")
                    )
                }
                if let resource, let duplicate = EventDecoder.duplicateMember(within: resource) {
                    return .failure(Undecodable(field: "message.data.\(duplicate.field)", reason: duplicate.reason))
                }
            }
        }
        guard
            let bucket = attributes["bucketId"]?.stringValue ?? resource?["bucket"]?.stringValue, !bucket.isEmpty
        else {
            return .failure(Undecodable(field: "message.attributes.bucketId", reason: "expected a bucket name"))
        }
        guard let key = attributes["objectId"]?.stringValue ?? resource?["name"]?.stringValue, !key.isEmpty else {
            return .failure(
                Undecodable(field: "message.attributes.objectId", reason: "missing; expected an object name")
            )
        }
        var size: Int64?
        if let value = resource?["size"], !value.isNull {
            // The JSON API writes 64-bit integers as decimal strings.
            guard let text = value.stringValue ?? (value.int64Value.map { String($0) }),
                !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let bytes = Int64(text)
            else {
                return .failure(
                    Undecodable(
                        field: "message.data.size",
                        reason: "expected a decimal byte count, found \(value.typeName)"
                    )
                )
            }
            size = bytes
        }
        var metadata: [(name: String, value: String)] = []
        if let value = resource?["metadata"], !value.isNull {
            guard let entries = value.objectValue else {
                return .failure(
                    Undecodable(field: "message.data.metadata", reason: "expected an object, found \(value.typeName)")
                )
            }
            for entry in entries {
                switch entry.value.kind {
                case .string(let text): metadata.append(("X-Amz-Meta-" + entry.key, text))
                case .null: continue
                default:
                    return .failure(
                        Undecodable(
                            field: "message.data.metadata.\(entry.key)",
                            reason: "expected a string, found \(entry.value.typeName)"
                        )
                    )
                }
            }
        }
        let generation = attributes["objectGeneration"]?.stringValue ?? resource?["generation"]?.stringValue
        let messageID = message["messageId"]?.stringValue ?? message["message_id"]?.stringValue
        let publishTime = message["publishTime"]?.stringValue ?? message["publish_time"]?.stringValue
        var extensionJSON: [UInt8] = Array(#"{"eventType":"#.utf8)
        JSONWriter.appendString(eventType, to: &extensionJSON)
        if let subscription = root["subscription"]?.stringValue {
            extensionJSON.append(contentsOf: Array(#","subscription":"#.utf8))
            JSONWriter.appendString(subscription, to: &extensionJSON)
        }
        if let generation {
            extensionJSON.append(contentsOf: Array(#","generation":"#.utf8))
            JSONWriter.appendString(generation, to: &extensionJSON)
        }
        extensionJSON.append(UInt8(ascii: "}"))
        let record = TranslatedRecord(
            eventSource: eventSource,
            eventName: eventName,
            eventTime: attributes["eventTime"]?.stringValue ?? publishTime,
            eventID: messageID.flatMap { $0.isEmpty ? nil : $0 },
            principalID: nil,
            configurationID: attributes["notificationConfig"]?.stringValue,
            bucket: bucket,
            key: key,
            keyIsFormEncoded: keyIsFormEncoded,
            size: size,
            eTag: resource?["md5Hash"]?.stringValue.flatMap(hexOfBase64),
            contentType: resource?["contentType"]?.stringValue,
            userMetadata: metadata,
            versionID: generation,
            extensionMembers: [("gcs", extensionJSON)]
        )
        return .success(TranslatedRecord.body([record.json()]))
    }

    /// The S3 event name (`s3:` form) of a Cloud Storage event type; nil for one this relay does not know.
    ///
    /// `OBJECT_FINALIZE` (a new object or a new generation of one) → `s3:ObjectCreated:Put`; `OBJECT_DELETE` →
    /// `s3:ObjectRemoved:Delete`; `OBJECT_ARCHIVE` (the live version became noncurrent in a versioned bucket) →
    /// `s3:ObjectRemoved:DeleteMarkerCreated`; `OBJECT_METADATA_UPDATE` → `s3:ObjectMetadata:Update` (S3 has no
    /// such event). A delete or archive that only says the object was overwritten (`overwrittenByGeneration` set:
    /// Google sends it beside the new generation's `OBJECT_FINALIZE`, S3 sends nothing) → `s3:ObjectOverwritten:Delete`
    /// or `s3:ObjectOverwritten:Archive`, outside the `s3:ObjectRemoved:` family, so that a rule for deletions does
    /// not fire on overwrites.
    static func eventName(gcsEventType: String, overwritten: Bool) -> String? {
        switch gcsEventType {
        case "OBJECT_FINALIZE": "s3:ObjectCreated:Put"
        case "OBJECT_DELETE": overwritten ? "s3:ObjectOverwritten:Delete" : "s3:ObjectRemoved:Delete"
        case "OBJECT_ARCHIVE": overwritten ? "s3:ObjectOverwritten:Archive" : "s3:ObjectRemoved:DeleteMarkerCreated"
        case "OBJECT_METADATA_UPDATE": "s3:ObjectMetadata:Update"
        default: nil
        }
    }

    /// The lower-case hex of the bytes `base64` encodes (an `md5Hash`), nil when it is not base64.
    static func hexOfBase64(_ base64: String) -> String? {
        guard let bytes = Base64.decode(base64), !bytes.isEmpty else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
