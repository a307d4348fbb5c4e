extension MatchSpec {
    /// Whether `record` meets every condition. A plain evaluation: `RuleMatcher` is the fast path.
    public func matches(_ record: EventRecord) -> Bool {
        firstFailure(for: record) == nil
    }

    /// The first condition `record` fails, in plain words, or nil when it meets them all. Conditions are checked in
    /// the order event, bucket, prefix, suffix, contentType, size, metadata, not.
    public func firstFailure(for record: EventRecord) -> String? {
        if let events, !events.contains(where: { EventNameCatalog.pattern($0, accepts: record.eventName) }) {
            return "event: \(record.eventName.quotedForMessage) is none of \(Self.list(events))"
        }
        // String equality (canonical equivalence), as the matcher's bucket index compares: `café` composed and
        // decomposed are one bucket to both.
        if let buckets, !buckets.contains(record.bucket) {
            return "bucket: \(record.bucket.quotedForMessage) is none of \(Self.list(buckets))"
        }
        if let prefixes, !prefixes.contains(where: { record.key.utf8.starts(with: $0.utf8) }) {
            return "prefix: key \(record.key.quotedForMessage) starts with none of \(Self.list(prefixes))"
        }
        if let suffixes, !suffixes.contains(where: { Self.hasSuffix(record.key, $0) }) {
            return "suffix: key \(record.key.quotedForMessage) ends with none of \(Self.list(suffixes))"
        }
        if let contentTypes {
            guard let contentType = RecordFields.contentType(of: record) else {
                return "contentType: record has no content type"
            }
            if !contentTypes.contains(where: { ContentTypePattern($0).matches(contentType) }) {
                let shown = ContentTypePattern.mediaType(of: contentType) ?? contentType
                return "contentType: \(shown.quotedForMessage) is none of \(Self.list(contentTypes))"
            }
        }
        if let size {
            guard let recordSize = RecordFields.size(of: record) else {
                return "size: record has no size (not a created-object event)"
            }
            if let min = size.min, recordSize < min {
                return "size: \(recordSize) bytes is below the minimum of \(min)"
            }
            if let max = size.max, recordSize > max {
                return "size: \(recordSize) bytes is above the maximum of \(max)"
            }
        }
        for condition in metadata ?? [] {
            let value = RecordFields.metadataValue(
                in: record.metadata,
                fullName: condition.name,
                shortName: String(condition.shortName)
            )
            guard let value else {
                return "metadata: record has no \(condition.name)"
            }
            if !condition.values.contains(where: { $0.utf8.elementsEqual(value.utf8) }) {
                return "metadata: \(condition.name) \(value.quotedForMessage) is none of \(Self.list(condition.values))"
            }
        }
        if let not, not.firstFailure(for: record) == nil {
            return "not: excluded by \(not.holdingDescription(for: record))"
        }
        return nil
    }

    /// For a spec that holds for `record`: what held, field by field, e.g. `bucket "photos" and prefix "tmp/"`.
    func holdingDescription(for record: EventRecord) -> String {
        var parts: [String] = []
        if let events, let hit = events.first(where: { EventNameCatalog.pattern($0, accepts: record.eventName) }) {
            parts.append("event \(hit.quotedForMessage)")
        }
        if buckets != nil {
            parts.append("bucket \(record.bucket.quotedForMessage)")
        }
        if let prefixes, let hit = prefixes.first(where: { record.key.utf8.starts(with: $0.utf8) }) {
            parts.append("prefix \(hit.quotedForMessage)")
        }
        if let suffixes, let hit = suffixes.first(where: { Self.hasSuffix(record.key, $0) }) {
            parts.append("suffix \(hit.quotedForMessage)")
        }
        if let contentTypes, let contentType = RecordFields.contentType(of: record),
            let hit = contentTypes.first(where: { ContentTypePattern($0).matches(contentType) })
        {
            parts.append("contentType \(hit.quotedForMessage)")
        }
        if let size, let recordSize = RecordFields.size(of: record) {
            parts.append("size \(recordSize) (\(Self.describe(size)))")
        }
        for condition in metadata ?? [] {
            let value = RecordFields.metadataValue(
                in: record.metadata,
                fullName: condition.name,
                shortName: String(condition.shortName)
            )
            if let value { parts.append("metadata \(condition.name) \(value.quotedForMessage)") }
        }
        if let not, let failure = not.firstFailure(for: record) {
            parts.append("not (\(failure))")
        }
        if parts.isEmpty { return "an empty condition" }
        return parts.joined(separator: " and ")
    }

    static func hasSuffix(_ key: String, _ suffix: String) -> Bool {
        let keyCount = key.utf8.count
        let suffixCount = suffix.utf8.count
        return keyCount >= suffixCount && key.utf8.dropFirst(keyCount - suffixCount).elementsEqual(suffix.utf8)
    }

    /// `"a", "b"`; lists longer than 10 are cut: `"a", ..., "j", and 5 more`.
    static func list(_ values: [String]) -> String {
        let shown = values.prefix(10).map(\.quotedForMessage).joined(separator: ", ")
        return values.count > 10 ? shown + ", and \(values.count - 10) more" : shown
    }

    /// `min 1`, `max 50`, `1...50`.
    static func describe(_ size: SizeRange) -> String {
        switch (size.min, size.max) {
        case (let min?, let max?): "\(min)...\(max)"
        case (let min?, nil): "min \(min)"
        case (nil, let max?): "max \(max)"
        case (nil, nil): "any"
        }
    }
}
