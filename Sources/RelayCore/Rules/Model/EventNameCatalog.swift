/// The event names a rule's `event` field may name, and how they map onto `mc event add --event` types.
///
/// Sources: MinIO's `internal/event/name.go` (every name MinIO puts into a record), the event types of AWS S3's
/// notification documentation, and Ceph RGW's lifecycle and sync names (Reef). A family `s3:ObjectCreated:*` is
/// valid when at least one known name starts with `s3:ObjectCreated:`; at match time a family accepts any name with
/// that prefix, including names not listed here.
enum EventNameCatalog {
    /// Every name MinIO sends, in the order of MinIO's `Name` constants. `s3:BucketCreated:*` and
    /// `s3:BucketRemoved:*` are single names despite the `*` (they reach ListenNotification only).
    static let minioNames: [String] = [
        "s3:ObjectAccessed:Get",
        "s3:ObjectAccessed:GetRetention",
        "s3:ObjectAccessed:GetLegalHold",
        "s3:ObjectAccessed:Head",
        "s3:ObjectAccessed:Attributes",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:PutRetention",
        "s3:ObjectCreated:PutLegalHold",
        "s3:ObjectCreated:PutTagging",
        "s3:ObjectCreated:DeleteTagging",
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRemoved:DeleteAllVersions",
        "s3:ObjectRemoved:NoOP",
        "s3:BucketCreated:*",
        "s3:BucketRemoved:*",
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationCompletedReplication",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked",
        "s3:ObjectRestore:Post",
        "s3:ObjectRestore:Completed",
        "s3:ObjectTransition:Failed",
        "s3:ObjectTransition:Complete",
        "s3:Scanner:ManyVersions",
        "s3:Scanner:LargeVersions",
        "s3:Scanner:BigPrefix",
        "s3:LifecycleDelMarkerExpiration:Delete",
    ]

    /// Names AWS S3 and Ceph RGW send that MinIO does not.
    static let otherNames: [String] = [
        "s3:ObjectRestore:Delete",
        "s3:ReducedRedundancyLostObject",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
        "s3:ObjectLifecycle:Expiration:Current",
        "s3:ObjectLifecycle:Expiration:NonCurrent",
        "s3:ObjectLifecycle:Expiration:DeleteMarker",
        "s3:ObjectLifecycle:Expiration:AbortMultipartUpload",
        "s3:ObjectLifecycle:Transition:Current",
        "s3:ObjectLifecycle:Transition:NonCurrent",
        "s3:ObjectSynced:Create",
        "s3:ObjectSynced:Delete",
        "s3:ObjectSynced:DeletionMarkerCreated",
    ]

    /// All known names; a name's index here is its id in `EventSet`.
    static let allNames: [String] = minioNames + otherNames

    /// Name → id.
    static let ids: [String: Int] = {
        var ids: [String: Int] = [:]
        for (index, name) in allNames.enumerated() { ids[name] = index }
        return ids
    }()

    /// Every valid family pattern, e.g. `s3:ObjectCreated:*`, `s3:ObjectLifecycle:Expiration:*`, `s3:*`.
    static let families: [String] = {
        var seen: Set<String> = []
        var out: [String] = []
        for name in allNames {
            let parts = name.split(separator: ":", omittingEmptySubsequences: false)
            var prefix = ""
            for part in parts.dropLast() {
                prefix += part + ":"
                if seen.insert(prefix).inserted { out.append(prefix + "*") }
            }
        }
        return out
    }()

    /// The `mc event add --event` types, in mc's order, with the MinIO families each one subscribes to
    /// (mc's `cmd/client-s3.go`, `AddNotificationConfig`).
    static let mcEventTypes: [(name: String, families: [String])] = [
        ("put", ["s3:ObjectCreated:"]),
        ("delete", ["s3:ObjectRemoved:"]),
        ("get", ["s3:ObjectAccessed:"]),
        ("replica", ["s3:Replication:"]),
        ("ilm", ["s3:ObjectRestore:", "s3:ObjectTransition:"]),
    ]

    /// Whether `pattern` (normalised `s3:` form: an exact name or a family ending in `*`) accepts `name`.
    static func pattern(_ pattern: String, accepts name: String) -> Bool {
        if pattern.utf8.last == UInt8(ascii: "*") {
            return name.utf8.starts(with: pattern.utf8.dropLast())
        }
        return name.utf8.elementsEqual(pattern.utf8)
    }
}
