/// A `MatchSpec`, and a rule's pattern, prepared for the hot path: event names as a bit mask, buckets as ids,
/// strings as bytes.
///
/// A class: `RuleMatcher` checks a candidate through its reference, where a struct this size would be copied out of
/// the rule array for each check (a retain and a release of every array it holds).
final class CompiledCondition: Sendable {
    struct Metadata: Sendable {
        var fullName: String
        var shortName: String
        var values: [[UInt8]]
    }

    /// Known event ids accepted; nil when any event is.
    let events: EventSet?
    /// Family prefixes (`s3:ObjectCreated:`), for names outside the catalog.
    let eventFamilies: [[UInt8]]
    /// Bucket ids (`RuleMatcher.bucketIDs`); nil when any bucket is.
    let buckets: [Int32]?
    let prefixes: [[UInt8]]?
    let suffixes: [[UInt8]]?
    let contentTypes: [ContentTypePattern]?
    let size: MatchSpec.SizeRange?
    let metadata: [Metadata]
    /// The condition that must not hold, if any.
    let not: CompiledCondition?
    /// The rule's pattern; nil when it has none.
    let pattern: CompiledPattern?

    /// What `RuleMatcher`'s indexes file the rule under: known event ids it may accept (nil: any), whether it may
    /// accept names outside the catalog, bucket ids (nil: any) and key prefixes (nil: any). From `match` and from
    /// the pattern's top-level `eventName`, `s3.bucket.name` and `s3.object.key`, intersected where both have one:
    /// never narrower than the rule.
    let indexEvents: EventSet?
    let indexAcceptsUnknownEvents: Bool
    let indexBuckets: [Int32]?
    let indexPrefixes: [[UInt8]]?
    /// For a rule none of the above narrows: a pattern field of exact strings, by which `RuleMatcher` files the rule
    /// apart, looked up with the record's values at that path.
    let indexField: (path: [String], values: [String])?

    init(_ spec: MatchSpec, pattern: EventPattern? = nil, bucketID: (String) -> Int32) {
        var events: EventSet?
        var eventFamilies: [[UInt8]] = []
        if let names = spec.events {
            var set = EventSet()
            for (id, name) in EventNameCatalog.allNames.enumerated()
            where names.contains(where: { EventNameCatalog.pattern($0, accepts: name) }) {
                set.insert(id)
            }
            events = set
            eventFamilies = names.filter { $0.utf8.last == UInt8(ascii: "*") }.map { Array($0.utf8.dropLast()) }
        }
        self.events = events
        self.eventFamilies = eventFamilies
        let buckets = spec.buckets.map { $0.map(bucketID) }
        self.buckets = buckets
        let prefixes = spec.prefixes.map { $0.map { Array($0.utf8) } }
        self.prefixes = prefixes
        suffixes = spec.suffixes.map { $0.map { Array($0.utf8) } }
        contentTypes = spec.contentTypes.map { $0.map(ContentTypePattern.init) }
        size = spec.size
        metadata = (spec.metadata ?? []).map {
            Metadata(fullName: $0.name, shortName: String($0.shortName), values: $0.values.map { Array($0.utf8) })
        }
        not = spec.not.map { CompiledCondition($0, bucketID: bucketID) }

        var indexEvents = events
        var indexAcceptsUnknownEvents = events == nil || !eventFamilies.isEmpty
        var indexBuckets = buckets
        var indexPrefixes = prefixes
        var indexField: (path: [String], values: [String])?
        let compiled = pattern.map(CompiledPattern.init)
        if let compiled {
            if let names = compiled.eventNames() {
                indexEvents = indexEvents.map { $0.intersection(names.ids) } ?? names.ids
                indexAcceptsUnknownEvents = indexAcceptsUnknownEvents && names.acceptsUnknown
            }
            if let names = compiled.exactStrings(at: ["s3", "bucket", "name"]) {
                let ids = RuleFileReader.unique(names).map(bucketID)
                indexBuckets = indexBuckets.map { existing in existing.filter(ids.contains) } ?? ids
            }
            if indexPrefixes == nil, let keyPrefixes = compiled.keyPrefixes() {
                indexPrefixes = keyPrefixes
            }
            if indexEvents == nil, indexBuckets == nil, indexPrefixes == nil {
                indexField = compiled.exactValueField()
            }
        }
        self.pattern = compiled
        self.indexEvents = indexEvents
        self.indexAcceptsUnknownEvents = indexAcceptsUnknownEvents
        self.indexBuckets = indexBuckets
        self.indexPrefixes = indexPrefixes
        self.indexField = indexField
    }

    /// Whether `record` (looked up once into `view`) meets every condition.
    func holds(_ record: EventRecord, _ view: RecordView) -> Bool {
        var tree = RecordTree()
        return holds(record, view, &tree)
    }

    /// Whether `record` meets every condition; `tree` holds the record's JSON once a pattern has read it.
    func holds(_ record: EventRecord, _ view: RecordView, _ tree: inout RecordTree) -> Bool {
        if let events {
            if view.eventID >= 0 {
                if !events.contains(view.eventID) { return false }
            } else if !eventFamilies.contains(where: { record.eventName.utf8.starts(with: $0) }) {
                return false
            }
        }
        if let buckets, !buckets.contains(view.bucketID) { return false }
        if let prefixes, !prefixes.contains(where: { Self.starts(view.key, with: $0) }) { return false }
        if let suffixes, !suffixes.contains(where: { Self.ends(view.key, with: $0) }) { return false }
        if let contentTypes {
            let contentType = RecordFields.contentType(record.contentType) { tree.metadata(of: record) }
            guard let contentType else { return false }
            if !contentTypes.contains(where: { $0.matches(contentType) }) { return false }
        }
        if let size {
            guard let recordSize = RecordFields.size(of: record), size.contains(recordSize) else { return false }
        }
        if !metadata.isEmpty {
            if !holdsMetadata(tree.metadata(of: record)) { return false }
        }
        if let not, not.holds(record, view, &tree) { return false }
        if let pattern {
            let json = pattern.readsJSON ? tree.json(of: record) : nil
            if !pattern.holds(record, json: json) { return false }
        }
        return true
    }

    /// Whether every metadata condition holds for the record's metadata.
    private func holdsMetadata(_ recordMetadata: [String: String]) -> Bool {
        for condition in metadata {
            guard
                let value = RecordFields.metadataValue(
                    in: recordMetadata,
                    fullName: condition.fullName,
                    shortName: condition.shortName
                )
            else { return false }
            if !condition.values.contains(where: { value.utf8.elementsEqual($0) }) { return false }
        }
        return true
    }

    private static func starts(_ key: UnsafeBufferPointer<UInt8>, with prefix: [UInt8]) -> Bool {
        guard key.count >= prefix.count else { return false }
        var index = 0
        for byte in prefix {
            if key[index] != byte { return false }
            index += 1
        }
        return true
    }

    private static func ends(_ key: UnsafeBufferPointer<UInt8>, with suffix: [UInt8]) -> Bool {
        guard key.count >= suffix.count else { return false }
        var index = key.count - suffix.count
        for byte in suffix {
            if key[index] != byte { return false }
            index += 1
        }
        return true
    }
}

/// A record's JSON (`EventRecord.json`) and metadata, each read the first time a rule needs it and kept for the
/// other rules: a record the scanner decoded holds their text, which is parsed on each read.
struct RecordTree {
    private var loaded = false
    private var value: JSONValue?
    private var metadata: [String: String]?

    mutating func json(of record: EventRecord) -> JSONValue? {
        if !loaded {
            value = record.json
            loaded = true
        }
        return value
    }

    mutating func metadata(of record: EventRecord) -> [String: String] {
        if let metadata { return metadata }
        let read = record.metadata
        metadata = read
        return read
    }
}

/// What the compiled conditions need of one record beyond the record itself: ids looked up once, the key as bytes.
struct RecordView {
    /// `EventNameCatalog` id of the event name, or -1.
    let eventID: Int
    /// `RuleMatcher` bucket id, or -1 when no rule names the bucket.
    let bucketID: Int32
    let key: UnsafeBufferPointer<UInt8>
}
