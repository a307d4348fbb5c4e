/// One S3 event record, normalised for matching. Built by `EventDecoder`.
///
/// The record's own JSON text is not copied: `recordRange` locates it in the request body, so payloads forward the
/// bytes as received.
///
/// A value type whose fields live in one shared, copy-on-write box: a copy of a record (into a result array, out of
/// it, into a delivery) is one retain, not one per field.
public struct EventRecord: Sendable, Equatable {
    /// Always the `s3:` form, e.g. `s3:ObjectCreated:Put`; AWS and RGW send `ObjectCreated:Put` and are normalised.
    public var eventName: String {
        get { storage.fields.eventName }
        set {
            unique().fields.eventName = newValue
            storage.fields.catalogID = nil
        }
    }
    /// The `EventNameCatalog` id of `eventName`, when the decoder found the name there; nil when not known.
    var catalogID: Int? {
        get { storage.fields.catalogID }
        set { unique().fields.catalogID = newValue }
    }
    /// `minio:s3`, `aws:s3`, `ceph:s3`, or `""` when the record has none.
    public var eventSource: String {
        get { storage.fields.eventSource }
        set { unique().fields.eventSource = newValue }
    }
    /// The bucket name, `s3.bucket.name`.
    public var bucket: String {
        get { storage.fields.bucket }
        set { unique().fields.bucket = newValue }
    }
    /// The object key as rules see it: form-unescaped (`+` is a space, `%XX` a byte, Go's `url.QueryUnescape`) for
    /// `minio:s3`, `aws:s3`, other sources and when `eventSource` is absent; exactly `rawKey` for `ceph:s3`, which
    /// sends keys unescaped.
    public var key: String {
        get { storage.fields.key }
        set {
            let storage = unique()
            // A raw key that was "the same as `key`" keeps the old key.
            if case .value(.none) = storage.fields.rawKey { storage.fields.rawKey = .value(storage.fields.key) }
            storage.fields.key = newValue
        }
    }
    /// `s3.object.key` exactly as in the record (after JSON unescaping).
    public var rawKey: String {
        get {
            switch storage.fields.rawKey {
            case .value(let value): return value ?? storage.fields.key
            case .token(let token): return EventScanner.string(storage.fields.lazyBody, token)
            }
        }
        set { unique().fields.rawKey = .value(newValue) }
    }
    /// Object size in bytes; nil when absent (MinIO omits it for 0-byte objects and for deletes).
    public var size: Int64? {
        get { storage.fields.size }
        set { unique().fields.size = newValue }
    }
    /// `s3.object.contentType`; nil when absent or null. MinIO also lists `content-type` in `metadata`.
    public var contentType: String? {
        get { storage.fields.contentType }
        set { unique().fields.contentType = newValue }
    }
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
    var lazyBody: [UInt8] {
        get { storage.fields.lazyBody }
        set { unique().fields.lazyBody = newValue }
    }
    var metadataStorage: LazyMetadata {
        get { storage.fields.metadata }
        set { unique().fields.metadata = newValue }
    }
    var eventTimeStorage: LazyString {
        get { storage.fields.eventTime }
        set { unique().fields.eventTime = newValue }
    }
    var awsRegionStorage: LazyString {
        get { storage.fields.awsRegion }
        set { unique().fields.awsRegion = newValue }
    }
    var requestIDStorage: LazyString {
        get { storage.fields.requestID }
        set { unique().fields.requestID = newValue }
    }
    var sequencerStorage: LazyString {
        get { storage.fields.sequencer }
        set { unique().fields.sequencer = newValue }
    }
    var eventIDStorage: LazyString {
        get { storage.fields.eventID }
        set { unique().fields.eventID = newValue }
    }
    var versionIDStorage: LazyString {
        get { storage.fields.versionID }
        set { unique().fields.versionID = newValue }
    }

    private func lazyString(_ storage: LazyString) -> String? {
        switch storage {
        case .value(let value): return value
        case .token(let token): return EventScanner.string(lazyBody, token)
        }
    }

    /// Byte range of this record's JSON text within the request body it was decoded from.
    public var recordRange: Range<Int> {
        get { storage.fields.recordRange }
        set { unique().fields.recordRange = newValue }
    }
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
    var jsonSource: JSONSource {
        get { storage.fields.jsonSource }
        set { unique().fields.jsonSource = newValue }
    }

    /// The fields, shared by copies of the record until one of them changes a field.
    private var storage: Storage

    /// The box, copied first when another record shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
        return storage
    }

    /// The fields of a record, in a box. Changed only through `unique()`, that is when no other record holds the
    /// box, so that records shared between tasks never see a change.
    private final class Storage: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    /// The fields of a record (see ``EventRecord``'s public properties for each).
    struct Fields {
        var eventName: String
        var catalogID: Int?
        var eventSource: String
        var bucket: String
        var key: String
        /// `.value(nil)`: the same as `key`.
        var rawKey: LazyString
        var size: Int64?
        var contentType: String?
        var lazyBody: [UInt8]
        var metadata: LazyMetadata
        var eventTime: LazyString
        var awsRegion: LazyString
        var requestID: LazyString
        var sequencer: LazyString
        var eventID: LazyString
        var versionID: LazyString
        var recordRange: Range<Int>
        var jsonSource: JSONSource
    }

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
        storage = Storage(
            Fields(
                eventName: eventName,
                catalogID: nil,
                eventSource: eventSource,
                bucket: bucket,
                key: key,
                rawKey: .value(rawKey),
                size: size,
                contentType: contentType,
                lazyBody: [],
                metadata: .value(metadata),
                eventTime: .value(eventTime),
                awsRegion: .value(awsRegion),
                requestID: .value(requestID),
                sequencer: .value(sequencer),
                eventID: .value(eventID),
                versionID: .value(versionID),
                recordRange: recordRange,
                jsonSource: json.map { .tree($0) } ?? .none
            )
        )
    }

    /// A record the scanner read (`EventScanner`): its lazy fields point into `body`, the request body.
    init(
        scannedEventName eventName: String,
        catalogID: Int?,
        eventSource: String,
        bucket: String,
        key: String,
        rawKey: LazyString,
        size: Int64?,
        contentType: String?,
        body: [UInt8],
        metadata: LazyMetadata,
        eventTime: LazyString,
        awsRegion: LazyString,
        requestID: LazyString,
        sequencer: LazyString,
        eventID: LazyString,
        versionID: LazyString,
        recordRange: Range<Int>,
        jsonDepth: Int
    ) {
        storage = Storage(
            Fields(
                eventName: eventName,
                catalogID: catalogID,
                eventSource: eventSource,
                bucket: bucket,
                key: key,
                rawKey: rawKey,
                size: size,
                contentType: contentType,
                lazyBody: body,
                metadata: metadata,
                eventTime: eventTime,
                awsRegion: awsRegion,
                requestID: requestID,
                sequencer: sequencer,
                eventID: eventID,
                versionID: versionID,
                recordRange: recordRange,
                jsonSource: .text(body: body, range: recordRange, depth: jsonDepth)
            )
        )
    }

    /// Field by field, `json` by its value (parsed where it is held as text).
    public static func == (lhs: EventRecord, rhs: EventRecord) -> Bool {
        if lhs.storage === rhs.storage { return true }
        return lhs.eventName == rhs.eventName && lhs.eventSource == rhs.eventSource && lhs.bucket == rhs.bucket
            && lhs.key == rhs.key && lhs.rawKey == rhs.rawKey && lhs.size == rhs.size
            && lhs.contentType == rhs.contentType && lhs.metadata == rhs.metadata && lhs.eventTime == rhs.eventTime
            && lhs.awsRegion == rhs.awsRegion && lhs.requestID == rhs.requestID && lhs.sequencer == rhs.sequencer
            && lhs.eventID == rhs.eventID && lhs.versionID == rhs.versionID && lhs.recordRange == rhs.recordRange
            && lhs.json == rhs.json
    }

    /// True for the `s3:ObjectCreated:*` family.
    public var isCreated: Bool { eventName.hasPrefix("s3:ObjectCreated:") }
}
