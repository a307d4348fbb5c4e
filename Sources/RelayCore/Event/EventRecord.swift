/// One S3 event record, normalised for matching. Built by `EventDecoder`.
///
/// The record's own JSON text is not copied: `recordRange` locates it in the request body, so payloads forward the
/// bytes as received.
public struct EventRecord: Sendable, Equatable {
    /// Always the `s3:` form, e.g. `s3:ObjectCreated:Put`; AWS and RGW send `ObjectCreated:Put` and are normalised.
    public var eventName: String
    /// `minio:s3`, `aws:s3`, `ceph:s3`, or `""` when the record has none.
    public var eventSource: String
    /// The bucket name, `s3.bucket.name`.
    public var bucket: String
    /// The object key as rules see it: form-unescaped (`+` is a space, `%XX` a byte, Go's `url.QueryUnescape`) for
    /// `minio:s3`, `aws:s3`, other sources and when `eventSource` is absent; exactly `rawKey` for `ceph:s3`, which
    /// sends keys unescaped.
    public var key: String
    /// `s3.object.key` exactly as in the record (after JSON unescaping).
    public var rawKey: String
    /// Object size in bytes; nil when absent (MinIO omits it for 0-byte objects and for deletes).
    public var size: Int64?
    /// `s3.object.contentType`; nil when absent or null. MinIO also lists `content-type` in `metadata`.
    public var contentType: String?
    /// User metadata with lower-cased names: MinIO's `userMetadata` map (`X-Amz-Meta-Kind` becomes
    /// `x-amz-meta-kind`) and RGW's `metadata` list of `{"key","val"}`. `content-type` entries are kept as they come.
    public var metadata: [String: String]
    /// `eventTime` as sent (RFC 3339, e.g. `2026-01-12T17:58:12.011Z`); nil when absent.
    public var eventTime: String?
    /// `awsRegion` as sent (MinIO sends `""` by default); nil when absent.
    public var awsRegion: String?
    /// `responseElements["x-amz-request-id"]`; nil when absent.
    public var requestID: String?
    /// `s3.object.sequencer`; nil when absent.
    public var sequencer: String?
    /// RGW's `eventId`, stable across RGW's retries; nil when absent.
    public var eventID: String?
    /// `s3.object.versionId`; nil when absent or `""` (RGW sends `""` for unversioned buckets).
    public var versionID: String?
    /// Byte range of this record's JSON text within the request body it was decoded from.
    public var recordRange: Range<Int>
    /// The record's parsed JSON as received (its ranges index the same body), which rule patterns read; nil for a
    /// record built in code, whose patterns see only `eventName`, `s3.bucket.name` and `s3.object.key`
    /// (docs/rules.md, "Patterns").
    public var json: JSONValue?

    /// Creates a record. `rawKey` defaults to `key`.
    public init(
        eventName: String,
        eventSource: String = "",
        bucket: String,
        key: String,
        rawKey: String? = nil,
        size: Int64? = nil,
        contentType: String? = nil,
        metadata: [String: String] = [:],
        eventTime: String? = nil,
        awsRegion: String? = nil,
        requestID: String? = nil,
        sequencer: String? = nil,
        eventID: String? = nil,
        versionID: String? = nil,
        recordRange: Range<Int> = 0..<0,
        json: JSONValue? = nil
    ) {
        self.eventName = eventName
        self.eventSource = eventSource
        self.bucket = bucket
        self.key = key
        self.rawKey = rawKey ?? key
        self.size = size
        self.contentType = contentType
        self.metadata = metadata
        self.eventTime = eventTime
        self.awsRegion = awsRegion
        self.requestID = requestID
        self.sequencer = sequencer
        self.eventID = eventID
        self.versionID = versionID
        self.recordRange = recordRange
        self.json = json
    }

    /// True for the `s3:ObjectCreated:*` family.
    public var isCreated: Bool { eventName.hasPrefix("s3:ObjectCreated:") }
}
