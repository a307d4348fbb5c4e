/// How rules read the fields of an `EventRecord` that need interpretation (docs/rules.md, "Match fields"). Shared by the compiled
/// matcher and the explanations so that both agree.
enum RecordFields {
    /// `contentType`, or MinIO's `content-type` user metadata entry when absent; nil when neither is set or both are
    /// empty.
    static func contentType(of record: EventRecord) -> String? {
        contentType(record.contentType, metadata: { record.metadata })
    }

    /// `contentType(of:)` from the record's `contentType` and its metadata, read only when needed.
    static func contentType(_ contentType: String?, metadata: () -> [String: String]) -> String? {
        if let value = contentType, !value.isEmpty { return value }
        if let value = metadataValue(in: metadata(), fullName: "content-type", shortName: "content-type"),
            !value.isEmpty
        {
            return value
        }
        return nil
    }

    /// The size a `size` condition sees: the record's size; 0 for a created-object record without one (MinIO omits
    /// `size` for 0-byte objects); nil for any other record without one.
    static func size(of record: EventRecord) -> Int64? {
        if let size = record.size { return size }
        return record.isCreated ? 0 : nil
    }

    /// The metadata value under `fullName` (`x-amz-meta-kind`) or `shortName` (`kind`). Names are lower-cased by the
    /// decoder; other spellings are found by a case-insensitive scan, which only runs when both lookups miss.
    static func metadataValue(in metadata: [String: String], fullName: String, shortName: String) -> String? {
        if metadata.isEmpty { return nil }
        if let value = metadata[fullName] { return value }
        if let value = metadata[shortName] { return value }
        for (name, value) in metadata
        where ASCII.equalsIgnoringCase(name, fullName) || ASCII.equalsIgnoringCase(name, shortName) {
            return value
        }
        return nil
    }
}
