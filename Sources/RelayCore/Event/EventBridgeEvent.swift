/// Amazon EventBridge's S3 events (`"source":"aws.s3"`, an API destination or rule target posting to the relay),
/// translated into the S3 event record form AWS itself sends, so that one rule set, one matcher and every payload
/// format serve EventBridge like MinIO, AWS and RGW (docs/interface.md, "What senders send").
///
/// The translation is one `{"Records":[record]}` body, decoded like any other:
/// - `eventName` from `detail-type` (and `detail.reason`, `detail.deletion-type` where they tell more), in AWS's
///   form without `s3:` (`Object Created` + `CopyObject` → `ObjectCreated:Copy`; `Object Deleted` +
///   `Delete Marker Created` → `ObjectRemoved:DeleteMarkerCreated`; with reason `Lifecycle Expiration` →
///   `LifecycleExpiration:…`; `Object Restore Completed` → `ObjectRestore:Completed`; `Object Tags Added` →
///   `ObjectTagging:Put`; `Object ACL Updated` → `ObjectAcl:Put`; `Object Storage Class Changed` →
///   `LifecycleTransition`; `Object Access Tier Changed` → `IntelligentTiering`);
/// - `eventSource` `aws:s3`, `awsRegion` from `region`, `eventTime` from `time`;
/// - `s3.bucket.name`, `s3.object.key`, `size`, `eTag` (from `etag`), `versionId`, `sequencer` from `detail`;
/// - `userIdentity.principalId` from `detail.requester`, `requestParameters.sourceIPAddress` from
///   `detail.source-ip-address`, `responseElements.x-amz-request-id` from `detail.request-id` (so the resend
///   identity is request id + sequencer, as for AWS's own records).
///
/// **Keys.** EventBridge's `detail.object.key` is taken as the object's name as it is (not form-encoded, unlike an
/// S3 record's): it is form-encoded into the record here, which every reader decodes back. This is the one place
/// that decides it (`keyIsFormEncoded`).
enum EventBridgeEvent {
    /// Whether EventBridge's `detail.object.key` arrives form-encoded like an S3 record's key. AWS's examples show
    /// the plain name; a capture from a real bucket that says otherwise changes this one value.
    static let keyIsFormEncoded = false

    /// Whether `root` is an EventBridge event from S3: an object with `"source":"aws.s3"`, a string `detail-type`
    /// and a `detail` member.
    static func isEventBridgeS3(_ root: JSONValue) -> Bool {
        guard root["source"]?.stringValue == "aws.s3", root["detail-type"]?.stringValue != nil else { return false }
        return root["detail"] != nil
    }

    /// The `{"Records":[record]}` body for an EventBridge S3 event, or why it is not a routable one.
    static func translate(_ root: JSONValue) -> Result<[UInt8], Undecodable> {
        guard let detailType = root["detail-type"]?.stringValue else {
            return .failure(Undecodable(field: "detail-type", reason: "missing; expected a string"))
        }
        guard let detail = root["detail"], detail.objectValue != nil else {
            return .failure(Undecodable(field: "detail", reason: "expected an object"))
        }
        guard let bucket = detail["bucket"]?["name"]?.stringValue, !bucket.isEmpty else {
            return .failure(Undecodable(field: "detail.bucket.name", reason: "missing; expected a bucket name"))
        }
        guard let object = detail["object"], object.objectValue != nil else {
            return .failure(Undecodable(field: "detail.object", reason: "missing; expected an object"))
        }
        guard let key = object["key"]?.stringValue else {
            return .failure(Undecodable(field: "detail.object.key", reason: "missing; expected a string"))
        }
        guard let eventName = eventName(detailType: detailType, detail: detail) else {
            return .failure(
                Undecodable(
                    field: "detail-type",
                    reason: "\(detailType.quotedForMessage) is not an S3 object event this relay knows"
                )
            )
        }
        var out: [UInt8] = []
        out.reserveCapacity(512 + key.utf8.count * 3)
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) { JSONWriter.appendString(text, to: &out) }
        raw(#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"#)
        string(root["region"]?.stringValue ?? "")
        if let time = root["time"]?.stringValue {
            raw(#","eventTime":"#)
            string(time)
        }
        raw(#","eventName":"#)
        string(eventName)
        if let requester = detail["requester"]?.stringValue {
            raw(#","userIdentity":{"principalId":"#)
            string(requester)
            raw("}")
        }
        if let address = detail["source-ip-address"]?.stringValue {
            raw(#","requestParameters":{"sourceIPAddress":"#)
            string(address)
            raw("}")
        }
        if let requestID = detail["request-id"]?.stringValue {
            raw(#","responseElements":{"x-amz-request-id":"#)
            string(requestID)
            raw("}")
        }
        raw(#","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"#)
        string(bucket)
        raw(#","arn":"#)
        string("arn:aws:s3:::" + bucket)
        raw(#"},"object":{"key":"#)
        string(keyIsFormEncoded ? key : formEncoded(key))
        if let size = object["size"], case .number(let text) = size.kind {
            raw(#","size":"#)
            raw(text)
        }
        if let etag = object["etag"]?.stringValue {
            raw(#","eTag":"#)
            string(etag)
        }
        if let versionID = object["version-id"]?.stringValue {
            raw(#","versionId":"#)
            string(versionID)
        }
        if let sequencer = object["sequencer"]?.stringValue {
            raw(#","sequencer":"#)
            string(sequencer)
        }
        raw("}}}]}")
        return .success(out)
    }

    /// The S3 event name (AWS's form, without `s3:`) of an EventBridge detail type; nil for one that is not an
    /// object event of S3's.
    static func eventName(detailType: String, detail: JSONValue) -> String? {
        let reason = detail["reason"]?.stringValue ?? ""
        switch detailType {
        case "Object Created":
            switch reason {
            case "PutObject", "": return "ObjectCreated:Put"
            case "POST Object", "PostObject": return "ObjectCreated:Post"
            case "CopyObject": return "ObjectCreated:Copy"
            case "CompleteMultipartUpload": return "ObjectCreated:CompleteMultipartUpload"
            default: return "ObjectCreated:" + reason.filter { !$0.isWhitespace }
            }
        case "Object Deleted":
            let marker = detail["deletion-type"]?.stringValue == "Delete Marker Created"
            if reason == "Lifecycle Expiration" {
                return marker ? "LifecycleExpiration:DeleteMarkerCreated" : "LifecycleExpiration:Delete"
            }
            return marker ? "ObjectRemoved:DeleteMarkerCreated" : "ObjectRemoved:Delete"
        case "Object Restore Initiated": return "ObjectRestore:Post"
        case "Object Restore Completed": return "ObjectRestore:Completed"
        case "Object Restore Expired": return "ObjectRestore:Delete"
        case "Object Tags Added": return "ObjectTagging:Put"
        case "Object Tags Deleted": return "ObjectTagging:Delete"
        case "Object ACL Updated": return "ObjectAcl:Put"
        case "Object Storage Class Changed": return "LifecycleTransition"
        case "Object Access Tier Changed": return "IntelligentTiering"
        default: return nil
        }
    }

    /// `text` form-encoded as S3 records carry keys (Go's `url.QueryEscape`): letters, digits and `-_.~` as they
    /// are, a space as `+`, every other byte as `%XX`.
    static func formEncoded(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: " "):
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
