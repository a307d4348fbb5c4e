import RelayCore

/// A generated rule file of `count` rules with varied buckets, prefixes, suffixes, events and sizes, four targets, and
/// exactly one rule (`hit`, at index `count / 2`) that `MatchBenchmarks.hitRecord` matches.
///
/// Rule `i` (other than the hit) is, by `i % 10`:
/// - 0: bucket `photos`, prefix `uploads/<i>/` (shares the hit record's bucket and the trie path `uploads/`);
/// - 5: bucket `photos`, prefix `uploads/`, suffix `.png`: a candidate for the hit record that fails on its suffix;
/// - 9: no bucket, prefix `logs/<i>/`, no event;
/// - otherwise: one of `max(2, count / 10)` other buckets, prefix `dir<i % 37>/`, a suffix and an event condition,
///   and for every seventh rule a size bound.
///
/// With `patterns`, a fifth of the rules (every rule `i` with `(i / 10) % 5 == 1`, so a fifth of each kind above,
/// never the hit) say the same conditions as a `pattern` instead of a `match` (event families as `eventName`
/// prefixes, prefix and suffix as one key wildcard, size as a numeric range): the records match the same rules.
public enum GeneratedRules {
    static let events = [
        #"["s3:ObjectCreated:*"]"#,
        #"["s3:ObjectRemoved:*"]"#,
        #"["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"]"#,
        #"["s3:ObjectAccessed:Get"]"#,
        #"["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]"#,
    ]
    static let suffixes = [".png", ".gif", ".mp4", ".csv", ".jpg", ".txt"]

    /// The index of the one rule the hit record matches.
    public static func hitIndex(count: Int) -> Int { count / 2 }

    /// Event conditions as `eventName` pattern lists, in the order of `events`.
    static let eventPatterns = [
        #"[{"prefix": "s3:ObjectCreated:"}]"#,
        #"[{"prefix": "s3:ObjectRemoved:"}]"#,
        #"["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"]"#,
        #"["s3:ObjectAccessed:Get"]"#,
        #"[{"prefix": "s3:ObjectCreated:"}, "s3:ObjectRemoved:Delete"]"#,
    ]

    /// Whether rule `index` is written as a pattern when `patterns` is set.
    public static func isPattern(_ index: Int, count: Int) -> Bool {
        index != hitIndex(count: count) && (index / 10) % 5 == 1
    }

    /// Rules that match the hit record in different ways, for `source(count:patterns:hits:)`.
    static let hitVariants = [
        #""bucket": ["photos"], "prefix": ["uploads/"]"#,
        #""event": ["s3:ObjectCreated:*"], "suffix": [".jpg"]"#,
        #""bucket": ["photos"], "prefix": ["uploads/2026/"], "size": {"min": 1}"#,
        #""contentType": ["image/*"], "prefix": ["uploads/20"]"#,
        #""bucket": ["photos", "b1"], "suffix": [".jpg", ".png"], "event": ["s3:ObjectCreated:Put"]"#,
    ]

    /// The indices of the rules the hit record matches in `source(count:hits:)`: the hit rule and `hits - 1`
    /// others, spread evenly.
    public static func hitIndices(count: Int, hits: Int) -> [Int] {
        guard hits > 1 else { return [hitIndex(count: count)] }
        let stride = max(1, count / hits)
        let others = (0..<count).filter { $0 % stride == 1 && $0 != hitIndex(count: count) }.prefix(hits - 1)
        return (others + [hitIndex(count: count)]).sorted()
    }

    /// With `hits` above 1, `hits - 1` rules besides the hit rule (`hitIndices`) are replaced by rules that also
    /// match the hit record (varied conditions from `hitVariants`).
    public static func source(count: Int, patterns: Bool = false, hits: Int = 1) -> RuleSource {
        let hitSet = Set(hitIndices(count: count, hits: hits))
        let otherBuckets = max(2, count / 10)
        var rules: [String] = []
        rules.reserveCapacity(count)
        for index in 0..<count {
            let target = "\"t\(index % 4)\""
            var match: String
            if index != hitIndex(count: count), hitSet.contains(index) {
                match = hitVariants[index % hitVariants.count]
            } else if index == hitIndex(count: count) {
                match =
                    #""event": ["s3:ObjectCreated:*"], "bucket": ["photos"], "prefix": ["uploads/2026/"], "#
                    + #""suffix": [".jpg"], "contentType": ["image/*"]"#
            } else {
                switch index % 10 {
                case 0:
                    match = #""bucket": ["photos"], "prefix": ["uploads/\#(index)/"]"#
                case 5:
                    match = #""bucket": ["photos"], "prefix": ["uploads/"], "suffix": [".png"]"#
                case 9:
                    match = #""prefix": ["logs/\#(index)/"]"#
                default:
                    match =
                        #""event": \#(events[index % events.count]), "bucket": ["b\#(index % otherBuckets)"], "#
                        + #""prefix": ["dir\#(index % 37)/"], "suffix": ["\#(suffixes[index % suffixes.count])"]"#
                    if index % 7 == 3 { match += #", "size": {"min": 1, "max": "50MiB"}"# }
                }
            }
            if patterns, isPattern(index, count: count), !hitSet.contains(index) {
                rules.append(
                    #"{"name": "r\#(index)", "pattern": \#(pattern(index, count: count)), "to": [\#(target)]}"#
                )
            } else {
                rules.append(#"{"name": "r\#(index)", "match": {\#(match)}, "to": [\#(target)]}"#)
            }
        }
        let targets = (0..<4).map { #""t\#($0)": {"url": "http://127.0.0.1:9/t\#($0)"}"# }
        let text = """
            {"targets": {\(targets.joined(separator: ", "))},
             "rules": [
            \(rules.joined(separator: ",\n"))
            ]}
            """
        return RuleSource(path: "generated-\(count)\(patterns ? "-patterns" : "")-\(hits).json", text: text)
    }

    /// Rule `index`'s conditions as a pattern.
    public static func pattern(_ index: Int, count: Int) -> String {
        let otherBuckets = max(2, count / 10)
        switch index % 10 {
        case 0:
            return #"{"s3": {"bucket": {"name": ["photos"]}, "object": {"key": [{"prefix": "uploads/\#(index)/"}]}}}"#
        case 5:
            return #"{"s3": {"bucket": {"name": ["photos"]}, "object": {"key": [{"wildcard": "uploads/*.png"}]}}}"#
        case 9:
            return #"{"s3": {"object": {"key": [{"prefix": "logs/\#(index)/"}]}}}"#
        default:
            var object = #""key": [{"wildcard": "dir\#(index % 37)/*\#(suffixes[index % suffixes.count])"}]"#
            if index % 7 == 3 { object += #", "size": [{"numeric": [">=", 1, "<=", 52428800]}]"# }
            return #"{"eventName": \#(eventPatterns[index % events.count]), "#
                + #""s3": {"bucket": {"name": ["b\#(index % otherBuckets)"]}, "object": {\#(object)}}}"#
        }
    }
}
