/// One S3 event record written as JSON, for the sources whose events are translated into S3's record form
/// (Backblaze B2, Google Cloud Storage through Pub/Sub): the shape AWS sends, with the key form-encoded as S3 records
/// carry it, so that every reader (the decoder, and a receiver written for MinIO or AWS) decodes it back.
///
/// Only the members given are written; absent ones are left out, never written as `null`.
struct TranslatedRecord {
    /// `eventSource`, e.g. `b2:s3`.
    var eventSource: String
    /// `eventName` in the `s3:` form, e.g. `s3:ObjectCreated:Put`.
    var eventName: String
    /// `eventTime`, RFC 3339.
    var eventTime: String?
    /// The top-level `eventId`: the source's id of the event, stable across its resends (the resend identity, as
    /// for Ceph RGW's `eventId`).
    var eventID: String?
    /// `userIdentity.principalId`.
    var principalID: String?
    /// `s3.configurationId`: the name of the source's notification rule or subscription.
    var configurationID: String?
    /// `s3.bucket.name`.
    var bucket: String
    /// `s3.object.key` as the source sent it; form-encoded into the record unless `keyIsFormEncoded` says it
    /// already is (each source declares which, in one place).
    var key: String
    var keyIsFormEncoded: Bool
    /// `s3.object.size`, bytes.
    var size: Int64?
    /// `s3.object.eTag`.
    var eTag: String?
    /// `s3.object.contentType`.
    var contentType: String?
    /// `s3.object.userMetadata`, names as given.
    var userMetadata: [(name: String, value: String)] = []
    /// `s3.object.versionId`.
    var versionID: String?
    /// Members of the source's own, written beside `s3` as they are (name, JSON text), e.g. `"b2":{…}`.
    var extensionMembers: [(name: String, json: [UInt8])] = []

    /// The record's JSON text.
    func json() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(384 + key.utf8.count * 3)
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) { JSONWriter.appendString(text, to: &out) }
        raw(#"{"eventVersion":"2.1","eventSource":"#)
        string(eventSource)
        raw(#","awsRegion":"""#)
        if let eventTime {
            raw(#","eventTime":"#)
            string(eventTime)
        }
        raw(#","eventName":"#)
        string(eventName)
        if let eventID {
            raw(#","eventId":"#)
            string(eventID)
        }
        if let principalID {
            raw(#","userIdentity":{"principalId":"#)
            string(principalID)
            raw("}")
        }
        raw(#","s3":{"s3SchemaVersion":"1.0""#)
        if let configurationID {
            raw(#","configurationId":"#)
            string(configurationID)
        }
        raw(#","bucket":{"name":"#)
        string(bucket)
        raw(#"},"object":{"key":"#)
        string(keyIsFormEncoded ? key : EventBridgeEvent.formEncoded(key))
        if let size {
            raw(#","size":"#)
            raw(String(size))
        }
        if let eTag {
            raw(#","eTag":"#)
            string(eTag)
        }
        if let contentType {
            raw(#","contentType":"#)
            string(contentType)
        }
        if !userMetadata.isEmpty {
            raw(#","userMetadata":{"#)
            for (index, entry) in userMetadata.enumerated() {
                if index > 0 { raw(",") }
                string(entry.name)
                raw(":")
                string(entry.value)
            }
            raw("}")
        }
        if let versionID {
            raw(#","versionId":"#)
            string(versionID)
        }
        raw("}}")
        for member in extensionMembers {
            raw(",")
            string(member.name)
            raw(":")
            out.append(contentsOf: member.json)
        }
        raw("}")
        return out
    }

    /// `{"Records":[…]}` around records' JSON texts.
    static func body(_ records: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = Array(#"{"Records":["#.utf8)
        out.reserveCapacity(records.reduce(16) { $0 + $1.count + 1 })
        for (index, record) in records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: record)
        }
        out.append(contentsOf: Array("]}".utf8))
        return out
    }
}
