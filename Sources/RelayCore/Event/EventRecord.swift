/// One S3 event record, normalised for matching. Built by `EventDecoder`.
///
/// The record's own JSON text is not copied: `recordRange` locates it in the request body, so payloads forward the
/// bytes as received.
public struct EventRecord: Sendable, Equatable {
    /// Always the `s3:` form, e.g. `s3:ObjectCreated:Put`; AWS and RGW send `ObjectCreated:Put` and are normalised.
    public var eventName: String {
        didSet { catalogID = nil }
    }
    /// The `EventNameCatalog` id of `eventName`, when the decoder found the name there; nil when not known.
    var catalogID: Int?
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
    public var metadata: [String: String] {
        get {
            switch metadataStorage {
            case .value(let value): return value
            case .userMetadata(let start): return EventScanner.userMetadata(lazyBody, at: start)
            }
        }
        set { metadataStorage = .value(newValue) }
    }
    /// `eventTime` as sent (RFC 3339, e.g. `2026-01-12T17:58:12.011Z`); nil when absent.
    public var eventTime: String? {
        get { lazyString(eventTimeStorage) }
        set { eventTimeStorage = .value(newValue) }
    }
    /// `awsRegion` as sent (MinIO sends `""` by default); nil when absent.
    public var awsRegion: String? {
        get { lazyString(awsRegionStorage) }
        set { awsRegionStorage = .value(newValue) }
    }
    /// `responseElements["x-amz-request-id"]`; nil when absent.
    public var requestID: String? {
        get { lazyString(requestIDStorage) }
        set { requestIDStorage = .value(newValue) }
    }
    /// `s3.object.sequencer`; nil when absent.
    public var sequencer: String? {
        get { lazyString(sequencerStorage) }
        set { sequencerStorage = .value(newValue) }
    }
    /// RGW's `eventId`, stable across RGW's retries; nil when absent.
    public var eventID: String? {
        get { lazyString(eventIDStorage) }
        set { eventIDStorage = .value(newValue) }
    }
    /// `s3.object.versionId`; nil when absent or `""` (RGW sends `""` for unversioned buckets).
    public var versionID: String? {
        get {
            switch versionIDStorage {
            case .value(let value): return value
            case .token(let token):
                let value = EventScanner.string(lazyBody, token)
                return value.isEmpty ? nil : value
            }
        }
        set { versionIDStorage = .value(newValue) }
    }

    // A record the scanner read keeps the fields that matching does not read as places in its body, and makes the
    // strings when they are read (by payloads and resend identities, once per delivery); one set in code is a value.

    /// A string field: a value, or the string literal of `lazyBody` it is read from.
    enum LazyString: Sendable {
        case value(String?)
        case token(StringToken)
    }

    /// The metadata: a value, or MinIO's `userMetadata` object at this offset of `lazyBody`.
    enum LazyMetadata: Sendable {
        case value([String: String])
        case userMetadata(start: Int)
    }

    /// The body the lazy fields point into (the request body, shared, not copied); empty for a record set in code.
    var lazyBody: [UInt8] = []
    var metadataStorage: LazyMetadata
    var eventTimeStorage: LazyString
    var awsRegionStorage: LazyString
    var requestIDStorage: LazyString
    var sequencerStorage: LazyString
    var eventIDStorage: LazyString
    var versionIDStorage: LazyString

    private func lazyString(_ storage: LazyString) -> String? {
        switch storage {
        case .value(let value): return value
        case .token(let token): return EventScanner.string(lazyBody, token)
        }
    }

    /// Byte range of this record's JSON text within the request body it was decoded from.
    public var recordRange: Range<Int>
    /// The record's parsed JSON as received (its ranges index the same body), which rule patterns read; nil for a
    /// record built in code, whose patterns see only `eventName`, `s3.bucket.name` and `s3.object.key`
    /// (docs/rules.md, "Patterns").
    ///
    /// A record the decoder's scanner read holds its text instead of a tree: the tree is parsed from that text on
    /// each read (one record's text, not the body's), so callers that read it more than once keep the value.
    public var json: JSONValue? {
        get { jsonSource.tree }
        set { jsonSource = newValue.map { .tree($0) } ?? .none }
    }

    /// Where `json` comes from.
    var jsonSource: JSONSource

    /// The record's JSON: none, a tree, or the bytes it is parsed from when read.
    enum JSONSource: Sendable {
        case none
        case tree(JSONValue)
        /// `body[range]` is the record's object, which the scanner validated; `depth` is the number of arrays and
        /// objects around it (2 inside `Records`), so that the parse applies the same nesting limit as one of the
        /// whole body.
        case text(body: [UInt8], range: Range<Int>, depth: Int)

        var tree: JSONValue? {
            switch self {
            case .none: return nil
            case .tree(let value): return value
            case .text(let body, let range, let depth): return JSONParser.parseValue(body, range: range, depth: depth)
            }
        }

        /// Whether a tree is at hand without a parse (nil, or a tree).
        var isParsed: Bool {
            if case .text = self { return false }
            return true
        }
    }

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
        self.metadataStorage = .value(metadata)
        self.eventTimeStorage = .value(eventTime)
        self.awsRegionStorage = .value(awsRegion)
        self.requestIDStorage = .value(requestID)
        self.sequencerStorage = .value(sequencer)
        self.eventIDStorage = .value(eventID)
        self.versionIDStorage = .value(versionID)
        self.recordRange = recordRange
        self.jsonSource = json.map { .tree($0) } ?? .none
    }

    /// Field by field, `json` by its value (parsed where it is held as text).
    public static func == (lhs: EventRecord, rhs: EventRecord) -> Bool {
        lhs.eventName == rhs.eventName && lhs.eventSource == rhs.eventSource && lhs.bucket == rhs.bucket
            && lhs.key == rhs.key && lhs.rawKey == rhs.rawKey && lhs.size == rhs.size
            && lhs.contentType == rhs.contentType && lhs.metadata == rhs.metadata && lhs.eventTime == rhs.eventTime
            && lhs.awsRegion == rhs.awsRegion && lhs.requestID == rhs.requestID && lhs.sequencer == rhs.sequencer
            && lhs.eventID == rhs.eventID && lhs.versionID == rhs.versionID && lhs.recordRange == rhs.recordRange
            && lhs.json == rhs.json
    }

    /// True for the `s3:ObjectCreated:*` family.
    public var isCreated: Bool { eventName.hasPrefix("s3:ObjectCreated:") }
}
