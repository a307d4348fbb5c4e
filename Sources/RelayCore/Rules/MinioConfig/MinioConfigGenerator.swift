/// Produces the `mc event add` commands that let MinIO pre-filter events before they reach the relay
/// (`bucket-relay mc-config`).
///
/// MinIO's filter is coarser than a rule: one prefix and one suffix per notification configuration, event types
/// chosen through mc's short names, and nothing about content type, size, metadata or `not`. So the generated
/// filter is a superset of what the rules want, never narrower — a record MinIO drops never reaches any rule,
/// while a record MinIO sends that no rule wants is simply matched to nothing. The choices:
///
/// - Events: mc's `--event` takes `put` (`s3:ObjectCreated:*`), `delete` (`s3:ObjectRemoved:*`), `get`
///   (`s3:ObjectAccessed:*`), `replica` (`s3:Replication:*`) and `ilm` (`s3:ObjectRestore:*` and
///   `s3:ObjectTransition:*`) (mc `cmd/client-s3.go`). A rule gets every short name whose families hold one of its
///   events; a rule without `event` gets all five. MinIO events outside those families (`s3:Scanner:*`,
///   `s3:LifecycleDelMarkerExpiration:Delete`) cannot be selected with `mc event add`: a comment says so
///   (`s3:BucketCreated:*` and `s3:BucketRemoved:*` reach ListenNotification only and are not mentioned).
/// - Buckets: one command per bucket of the rule. A rule without `bucket` is given the buckets passed as `buckets`
///   (`mc-config --bucket`); with none, it needs every bucket, and gets a runnable shell loop over the buckets
///   `mc ls --json` lists (bucket names hold no spaces or quotes), whose lines cover and replace the same lines of
///   single buckets.
/// - What MinIO cannot pre-filter (`contentType`, `size`, `metadata`, `not`): a comment per rule says the relay
///   filters it.
/// - Prefix and suffix: one command per (prefix, suffix) combination, after dropping values covered by a wider one
///   (`a/` covers `a/b/`). Above 16 combinations per bucket the suffix filter is dropped, then the prefix filter
///   (the filter widens; it never narrows). A prefix or suffix MinIO refuses (over 1024 bytes, a `\`, a `.` or
///   `..` path segment) is dropped too. A prefix and suffix that can overlap in a short key (prefix `ab`, suffix
///   `bc`, key `abc`) are not combined, because MinIO's pattern `ab*bc` would drop that key: the suffix is dropped.
/// - Lines for the same bucket and filter are merged (their event types united), and a line whose events and
///   filter are covered by another line of the same bucket is left out (MinIO sends an event once per target even
///   when several configurations match it).
///
/// Output: for each bucket in order of first appearance, a comment `# bucket "photos": rules a, b` and its
/// commands; comments for rules that need attention come first. Values are shell-quoted when needed.
public enum MinioConfigGenerator {
    /// The most (prefix, suffix) combinations emitted per rule and bucket before the filter is widened.
    public static let maximumCombinations = 16

    /// The mc alias of the MinIO server when none is given: `myminio`, as in the README's
    /// `mc admin config set myminio notify_webhook:relay …` (`bucket-relay mc-config --alias`).
    public static let defaultAlias = "myminio"

    /// The identifier of the relay's webhook target in MinIO when none is given: `relay`, the `ID` of the README's
    /// `notify_webhook:relay` (or of `MINIO_NOTIFY_WEBHOOK_ENABLE_relay`).
    public static let defaultTargetID = "relay"

    /// The ARN MinIO gives the webhook target `notify_webhook:<targetID>`: `arn:minio:sqs:<region>:<targetID>:webhook`
    /// (MinIO's `internal/event/target` ARN format; the region is empty unless the server sets one), as listed by
    /// `mc admin info --json` and taken by `mc event add`.
    public static func webhookARN(targetID: String, region: String = "") -> String {
        "arn:minio:sqs:\(region):\(targetID):webhook"
    }

    /// The ARN when none is given: `arn:minio:sqs::relay:webhook` (`bucket-relay mc-config --arn`).
    public static let defaultARN = webhookARN(targetID: defaultTargetID)

    /// The bucket key under which the filters of rules without a bucket condition are gathered (no real bucket name
    /// can hold a `*`).
    static let everyBucket = "*"

    /// The commands (and `#` comment lines) for `ruleSet`, for the MinIO alias `alias` (as in `mc alias set`) and
    /// the ARN of the relay's webhook target (e.g. `arn:minio:sqs::relay:webhook`); both default to the README's
    /// (`defaultAlias`, `defaultARN`). `buckets` are the buckets of rules without a bucket condition; empty: every
    /// bucket of the server, through a shell loop.
    public static func lines(
        for ruleSet: RuleSet,
        alias: String = defaultAlias,
        arn: String = defaultARN,
        buckets chosenBuckets: [String] = []
    ) -> [String] {
        var notes: [String] = []
        var filters: [Filter] = []
        var bucketOrder: [String] = []
        var bucketRules: [String: [String]] = [:]
        let allTypes = EventNameCatalog.mcEventTypes.map(\.name)

        for rule in ruleSet.rules {
            let spec = rule.match
            let label = "rule \(rule.name.quotedForMessage) (\(rule.file))"
            let wanted = EventNameCatalog.minioNames.filter { name in
                spec.events?.contains { EventNameCatalog.pattern($0, accepts: name) } ?? true
            }
            var types: Set<String> = []
            var unselectable: [String] = []
            // Bucket-level events reach ListenNotification only, never a webhook: not worth a note.
            for name in wanted where !name.hasPrefix("s3:BucketCreated:") && !name.hasPrefix("s3:BucketRemoved:") {
                let hit = EventNameCatalog.mcEventTypes.first { type in
                    type.families.contains { name.hasPrefix($0) }
                }
                if let hit { types.insert(hit.name) } else { unselectable.append(name) }
            }
            if types.isEmpty {
                let which =
                    unselectable.isEmpty ? "MinIO sends none of its events" : unselectable.joined(separator: ", ")
                notes.append("# \(label): mc event add cannot select its events (\(which)); nothing to add")
                continue
            }
            if !unselectable.isEmpty {
                notes.append(
                    "# \(label): mc event add cannot select \(unselectable.joined(separator: ", ")); "
                        + "MinIO will not send these to the relay"
                )
            }
            var unfiltered: [String] = []
            if spec.contentTypes != nil { unfiltered.append("contentType") }
            if spec.size != nil { unfiltered.append("size") }
            if spec.metadata != nil { unfiltered.append("metadata") }
            if spec.not != nil { unfiltered.append("not") }
            if !unfiltered.isEmpty {
                notes.append(
                    "# \(label): MinIO cannot pre-filter \(unfiltered.joined(separator: ", ")); the relay drops what "
                        + "they exclude"
                )
            }
            let buckets: [String]
            if let ruleBuckets = spec.buckets {
                buckets = ruleBuckets
            } else if !chosenBuckets.isEmpty {
                buckets = chosenBuckets
            } else {
                buckets = [everyBucket]
            }
            let combinations = keyFilters(prefixes: spec.prefixes, suffixes: spec.suffixes)
            for bucket in buckets {
                if bucketRules[bucket] == nil {
                    bucketOrder.append(bucket)
                    bucketRules[bucket] = []
                }
                if bucketRules[bucket]?.contains(rule.name) == false { bucketRules[bucket]?.append(rule.name) }
                for (prefix, suffix) in combinations {
                    if let index = filters.firstIndex(where: {
                        $0.bucket == bucket && $0.prefix == prefix && $0.suffix == suffix
                    }) {
                        filters[index].types.formUnion(types)
                    } else {
                        filters.append(Filter(bucket: bucket, prefix: prefix, suffix: suffix, types: types))
                    }
                }
            }
        }

        var out = notes
        // The loop over every bucket first: its lines also stand for the same lines of single buckets.
        let everyFilters = filters.filter { $0.bucket == everyBucket }
        let ordered = bucketOrder.filter { $0 == everyBucket } + bucketOrder.filter { $0 != everyBucket }
        for bucket in ordered {
            let ofBucket = filters.filter { $0.bucket == bucket }
            let kept = ofBucket.enumerated().filter { index, filter in
                let coveredHere = ofBucket.enumerated().contains { otherIndex, other in
                    otherIndex != index && other.covers(filter) && !(filter.covers(other) && otherIndex > index)
                }
                let coveredEverywhere =
                    bucket != everyBucket && everyFilters.contains { $0.covers(filter, ignoringBucket: true) }
                return !coveredHere && !coveredEverywhere
            }.map(\.element)
            let names = (bucketRules[bucket] ?? []).map(\.quotedForMessage).joined(separator: ", ")
            guard !kept.isEmpty else {
                out.append("# bucket \(bucket.quotedForMessage): rules \(names): covered by the lines for every bucket")
                continue
            }
            if bucket == everyBucket {
                out.append(
                    "# every bucket: rules \(names) (no bucket condition; pass --bucket B to name the buckets instead)"
                )
            } else {
                out.append("# bucket \(bucket.quotedForMessage): rules \(names)")
            }
            for filter in kept {
                let destination =
                    bucket == everyBucket ? shellQuoted(alias) + "/\"$bucket\"" : shellQuoted(alias + "/" + bucket)
                var line = "mc event add \(destination) \(shellQuoted(arn)) --event "
                line += allTypes.filter(filter.types.contains).joined(separator: ",")
                if let prefix = filter.prefix { line += " --prefix \(shellQuoted(prefix))" }
                if let suffix = filter.suffix { line += " --suffix \(shellQuoted(suffix))" }
                if bucket == everyBucket {
                    // `mc ls --json ALIAS` prints one object per bucket, its name in "key" with a trailing slash.
                    line =
                        "for bucket in $(mc ls --json \(shellQuoted(alias)) | sed -n 's/.*\"key\":\"\\([^\"]*\\)\\/\".*/\\1/p'); "
                        + "do \(line); done"
                }
                out.append(line)
            }
        }
        return out
    }

    private struct Filter {
        var bucket: String
        var prefix: String?
        var suffix: String?
        var types: Set<String>

        /// Whether every event this filter passes would also pass `self` (in any bucket with `ignoringBucket`).
        func covers(_ other: Filter, ignoringBucket: Bool = false) -> Bool {
            guard ignoringBucket || bucket == other.bucket, types.isSuperset(of: other.types) else { return false }
            if let prefix {
                guard let otherPrefix = other.prefix, otherPrefix.utf8.starts(with: prefix.utf8) else { return false }
            }
            if let suffix {
                guard let otherSuffix = other.suffix, MatchSpec.hasSuffix(otherSuffix, suffix) else { return false }
            }
            return true
        }
    }

    /// The (prefix, suffix) pairs for one rule and bucket; nil means no filter on that side.
    static func keyFilters(prefixes: [String]?, suffixes: [String]?) -> [(String?, String?)] {
        var prefixList: [String?] = minimal(prefixes, covers: { $1.utf8.starts(with: $0.utf8) })
        var suffixList: [String?] = minimal(suffixes, covers: { MatchSpec.hasSuffix($1, $0) })
        if prefixList.count * suffixList.count > maximumCombinations {
            if prefixList.count <= maximumCombinations {
                suffixList = [nil]
            } else if suffixList.count <= maximumCombinations {
                prefixList = [nil]
            } else {
                prefixList = [nil]
                suffixList = [nil]
            }
        }
        var out: [(String?, String?)] = []
        for prefix in prefixList {
            for suffix in suffixList {
                var pair = (prefix, suffix)
                if let prefix, let suffix, canOverlap(prefix: prefix, suffix: suffix) { pair.1 = nil }
                if !out.contains(where: { $0.0 == pair.0 && $0.1 == pair.1 }) { out.append(pair) }
            }
        }
        return out
    }

    /// The values MinIO accepts with the covered ones removed; `[nil]` (no filter) when there are none, or when
    /// any value is one MinIO refuses.
    private static func minimal(_ values: [String]?, covers: (String, String) -> Bool) -> [String?] {
        guard let values, values.allSatisfy(isValidFilterValue) else { return [nil] }
        var kept: [String] = []
        for (index, value) in values.enumerated() {
            let covered = values.enumerated().contains { otherIndex, other in
                otherIndex != index && covers(other, value) && !(other == value && otherIndex > index)
            }
            if !covered { kept.append(value) }
        }
        return kept
    }

    /// MinIO's `ValidateFilterRuleValue`: at most 1024 bytes, valid UTF-8, no `\`, no `.` or `..` segment.
    static func isValidFilterValue(_ value: String) -> Bool {
        guard value.utf8.count <= 1024, !value.contains("\\") else { return false }
        return !value.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
    }

    /// Whether a key shorter than `prefix + suffix` can start with `prefix` and end with `suffix` (MinIO's
    /// `prefix*suffix` pattern would not match it).
    static func canOverlap(prefix: String, suffix: String) -> Bool {
        let p = Array(prefix.utf8)
        let s = Array(suffix.utf8)
        let most = min(p.count, s.count)
        guard most > 0 else { return false }
        for length in 1...most where p[(p.count - length)...].elementsEqual(s[..<length]) {
            return true
        }
        return false
    }

    /// `value` as one shell word: unchanged when it only holds safe characters, else in single quotes.
    static func shellQuoted(_ value: String) -> String {
        let safe = value.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "_-./:,=@%+".utf8.contains(byte)
        }
        if safe, !value.isEmpty { return value }
        return "'" + value.replacing("'", with: "'\\''") + "'"
    }
}
