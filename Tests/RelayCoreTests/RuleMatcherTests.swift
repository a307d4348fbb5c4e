import Testing

@testable import RelayCore

/// Helpers shared by the Rule*Tests files.
enum RuleTesting {
    /// Compiles one rule file.
    static func compile(
        _ json: String,
        path: String = "rules/a.json",
        environment: [String: String] = [:]
    ) -> Result<RuleSet, RuleSetDiagnostics> {
        RuleSetCompiler.compile([RuleSource(path: path, text: json)], environment: environment)
    }

    /// The rule set of a valid file; records an issue and returns an empty set when it does not load.
    static func ruleSet(_ json: String, environment: [String: String] = [:]) -> RuleSet {
        switch compile(json, environment: environment) {
        case .success(let ruleSet):
            return ruleSet
        case .failure(let diagnostics):
            Issue.record("rule file did not load:\n\(diagnostics)")
            return .empty
        }
    }

    /// The diagnostics of a file that must not load, one line each.
    static func diagnostics(_ json: String, environment: [String: String] = [:]) -> [String] {
        switch compile(json, environment: environment) {
        case .success:
            Issue.record("rule file loaded but should not")
            return []
        case .failure(let diagnostics):
            return diagnostics.diagnostics.map(\.description)
        }
    }

    /// A file with one target `t` and one rule `r` whose `match` is `match`.
    static func singleRule(match: String) -> String {
        """
        {"targets": {"t": {"url": "http://127.0.0.1:9/"}},
         "rules": [{"name": "r", "match": \(match), "to": ["t"]}]}
        """
    }

    static func record(
        _ eventName: String = "s3:ObjectCreated:Put",
        bucket: String = "photos",
        key: String = "uploads/cat.jpg",
        size: Int64? = 100,
        contentType: String? = nil,
        metadata: [String: String] = [:]
    ) -> EventRecord {
        EventRecord(
            eventName: eventName,
            bucket: bucket,
            key: key,
            size: size,
            contentType: contentType,
            metadata: metadata
        )
    }
}

struct RuleMatchCase: Sendable, CustomTestStringConvertible {
    var match: String
    var record: EventRecord
    var matches: Bool
    var testDescription: String { "\(match) vs \(record.eventName) \(record.bucket)/\(record.key) -> \(matches)" }

    init(_ match: String, _ record: EventRecord, _ matches: Bool) {
        self.match = match
        self.record = record
        self.matches = matches
    }
}

@Suite struct RuleMatcherTests {
    typealias R = RuleTesting

    static let fieldCases: [RuleMatchCase] = [
        // event: exact names and families, with and without "s3:"
        RuleMatchCase(#"{"event": "s3:ObjectCreated:Put"}"#, R.record("s3:ObjectCreated:Put"), true),
        RuleMatchCase(#"{"event": "s3:ObjectCreated:Put"}"#, R.record("s3:ObjectCreated:Copy"), false),
        RuleMatchCase(
            #"{"event": ["s3:ObjectCreated:*"]}"#,
            R.record("s3:ObjectCreated:CompleteMultipartUpload"),
            true
        ),
        RuleMatchCase(#"{"event": ["s3:ObjectCreated:*"]}"#, R.record("s3:ObjectRemoved:Delete", size: nil), false),
        RuleMatchCase(#"{"event": "ObjectCreated:*"}"#, R.record("s3:ObjectCreated:Post"), true),
        RuleMatchCase(#"{"event": "ObjectRemoved:Delete"}"#, R.record("s3:ObjectRemoved:Delete", size: nil), true),
        RuleMatchCase(#"{"event": "ObjectRemoved:Delete"}"#, R.record("s3:ObjectRemoved:DeleteMarkerCreated"), false),
        RuleMatchCase(
            #"{"event": ["s3:ObjectAccessed:Get", "s3:ObjectRemoved:*"]}"#,
            R.record("s3:ObjectAccessed:Get"),
            true
        ),
        // a family also accepts names outside the catalog; an exact name does not
        RuleMatchCase(#"{"event": "s3:ObjectTagging:*"}"#, R.record("s3:ObjectTagging:Put"), true),
        RuleMatchCase(#"{"event": "s3:ObjectCreated:*"}"#, R.record("s3:ObjectCreated:FutureName"), true),
        RuleMatchCase(#"{"event": "s3:ObjectCreated:Put"}"#, R.record("s3:Unheard:Of"), false),
        RuleMatchCase(#"{"bucket": "photos"}"#, R.record("s3:Unheard:Of"), true),
        // bucket
        RuleMatchCase(#"{"bucket": ["photos", "docs"]}"#, R.record(bucket: "docs"), true),
        RuleMatchCase(#"{"bucket": ["photos", "docs"]}"#, R.record(bucket: "music"), false),
        RuleMatchCase(#"{"bucket": "photos"}"#, R.record(bucket: "Photos"), false),
        // prefix: case-sensitive, bytes of the decoded key
        RuleMatchCase(#"{"prefix": "uploads/"}"#, R.record(key: "uploads/a.txt"), true),
        RuleMatchCase(#"{"prefix": "uploads/"}"#, R.record(key: "Uploads/a.txt"), false),
        RuleMatchCase(#"{"prefix": "uploads/"}"#, R.record(key: "uploads"), false),
        RuleMatchCase(#"{"prefix": ["raw/", "uploads/"]}"#, R.record(key: "raw/clip.mp4"), true),
        RuleMatchCase(#"{"prefix": "uploads/summer trip/"}"#, R.record(key: "uploads/summer trip/a+b ü.JPG"), true),
        RuleMatchCase(#"{"prefix": "\u00e9"}"#, R.record(key: "e\u{301}t\u{e9}"), false),
        RuleMatchCase(#"{"prefix": "\u00e9"}"#, R.record(key: "\u{e9}t\u{e9}"), true),
        // suffix
        RuleMatchCase(#"{"suffix": [".jpg", ".png"]}"#, R.record(key: "a/b.png"), true),
        RuleMatchCase(#"{"suffix": [".jpg", ".png"]}"#, R.record(key: "a/b.JPG"), false),
        RuleMatchCase(#"{"suffix": ".jpg"}"#, R.record(key: "jpg"), false),
        RuleMatchCase(#"{"suffix": ".jpg"}"#, R.record(key: ".jpg"), true),
        // contentType: case-insensitive, parameters ignored, type/*, MinIO's metadata fallback
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: "image/jpeg"), true),
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: "IMAGE/PNG"), true),
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: "text/plain"), false),
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: "imagex/png"), false),
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: nil), false),
        RuleMatchCase(#"{"contentType": "image/*"}"#, R.record(contentType: ""), false),
        RuleMatchCase(#"{"contentType": "text/plain"}"#, R.record(contentType: "text/plain; charset=utf-8"), true),
        RuleMatchCase(#"{"contentType": "text/plain"}"#, R.record(contentType: " Text/Plain ;q=1"), true),
        RuleMatchCase(#"{"contentType": "text/plain"}"#, R.record(contentType: "text/plainer"), false),
        RuleMatchCase(#"{"contentType": "TEXT/Plain"}"#, R.record(contentType: "text/plain"), true),
        RuleMatchCase(#"{"contentType": "*/*"}"#, R.record(contentType: "application/x-tar"), true),
        RuleMatchCase(#"{"contentType": "*/*"}"#, R.record(contentType: nil), false),
        RuleMatchCase(
            #"{"contentType": "image/png"}"#,
            R.record(contentType: nil, metadata: ["content-type": "image/png"]),
            true
        ),
        RuleMatchCase(
            #"{"contentType": "image/png"}"#,
            R.record(contentType: "image/jpeg", metadata: ["content-type": "image/png"]),
            false
        ),
        // size: inclusive; a created record without size is 0 bytes; others without size fail
        RuleMatchCase(#"{"size": {"min": 1, "max": 100}}"#, R.record(size: 1), true),
        RuleMatchCase(#"{"size": {"min": 1, "max": 100}}"#, R.record(size: 100), true),
        RuleMatchCase(#"{"size": {"min": 1, "max": 100}}"#, R.record(size: 0), false),
        RuleMatchCase(#"{"size": {"min": 1, "max": 100}}"#, R.record(size: 101), false),
        RuleMatchCase(#"{"size": {"min": 0}}"#, R.record("s3:ObjectCreated:Put", size: nil), true),
        RuleMatchCase(#"{"size": {"max": 0}}"#, R.record("s3:ObjectCreated:Put", size: nil), true),
        RuleMatchCase(#"{"size": {"min": 1}}"#, R.record("s3:ObjectCreated:Put", size: nil), false),
        RuleMatchCase(#"{"size": {"min": 0}}"#, R.record("s3:ObjectRemoved:Delete", size: nil), false),
        RuleMatchCase(#"{"size": {"max": 10}}"#, R.record("s3:ObjectAccessed:Get", size: 5), true),
        RuleMatchCase(#"{"size": {"max": "1KiB"}}"#, R.record(size: 1024), true),
        RuleMatchCase(#"{"size": {"max": "1KiB"}}"#, R.record(size: 1025), false),
        RuleMatchCase(#"{"size": {"min": "50MB"}}"#, R.record(size: 50_000_000), true),
        // metadata: names case-insensitive, x-amz-meta- optional on both sides, values exact
        RuleMatchCase(
            #"{"metadata": {"x-amz-meta-kind": ["avatar"]}}"#,
            R.record(metadata: ["x-amz-meta-kind": "avatar"]),
            true
        ),
        RuleMatchCase(#"{"metadata": {"Kind": "avatar"}}"#, R.record(metadata: ["x-amz-meta-kind": "avatar"]), true),
        RuleMatchCase(#"{"metadata": {"X-Amz-Meta-Kind": "avatar"}}"#, R.record(metadata: ["kind": "avatar"]), true),
        RuleMatchCase(#"{"metadata": {"kind": "avatar"}}"#, R.record(metadata: ["X-Amz-Meta-Kind": "avatar"]), true),
        RuleMatchCase(#"{"metadata": {"kind": "avatar"}}"#, R.record(metadata: ["x-amz-meta-kind": "Avatar"]), false),
        RuleMatchCase(
            #"{"metadata": {"kind": ["a", "avatar"]}}"#,
            R.record(metadata: ["x-amz-meta-kind": "avatar"]),
            true
        ),
        RuleMatchCase(#"{"metadata": {"kind": "avatar"}}"#, R.record(metadata: [:]), false),
        RuleMatchCase(
            #"{"metadata": {"kind": "avatar", "size-class": "s"}}"#,
            R.record(metadata: ["x-amz-meta-kind": "avatar"]),
            false
        ),
        // fields ANDed, values ORed
        RuleMatchCase(#"{"bucket": "photos", "suffix": [".jpg", ".png"]}"#, R.record(key: "a.png"), true),
        RuleMatchCase(
            #"{"bucket": "photos", "suffix": [".jpg", ".png"]}"#,
            R.record(bucket: "docs", key: "a.png"),
            false
        ),
        RuleMatchCase(#"{"bucket": "photos", "suffix": [".jpg", ".png"]}"#, R.record(key: "a.gif"), false),
        RuleMatchCase(#"{}"#, R.record("s3:Scanner:BigPrefix", bucket: "any", key: "k", size: nil), true),
        // not, nested not
        RuleMatchCase(#"{"prefix": "uploads/", "not": {"prefix": "uploads/tmp/"}}"#, R.record(key: "uploads/a"), true),
        RuleMatchCase(
            #"{"prefix": "uploads/", "not": {"prefix": "uploads/tmp/"}}"#,
            R.record(key: "uploads/tmp/a"),
            false
        ),
        RuleMatchCase(#"{"not": {"bucket": "photos", "suffix": ".tmp"}}"#, R.record(key: "a.tmp"), false),
        RuleMatchCase(
            #"{"not": {"bucket": "photos", "suffix": ".tmp"}}"#,
            R.record(bucket: "docs", key: "a.tmp"),
            true
        ),
        RuleMatchCase(#"{"not": {"prefix": "a/", "not": {"suffix": ".keep"}}}"#, R.record(key: "a/x.keep"), true),
        RuleMatchCase(#"{"not": {"prefix": "a/", "not": {"suffix": ".keep"}}}"#, R.record(key: "a/x.tmp"), false),
        RuleMatchCase(#"{"not": {"prefix": "a/", "not": {"suffix": ".keep"}}}"#, R.record(key: "b/x.tmp"), true),
    ]

    @Test(arguments: fieldCases)
    func matchesEachFieldAsDesigned(_ testCase: RuleMatchCase) {
        let ruleSet = R.ruleSet(R.singleRule(match: testCase.match))
        let matched = ruleSet.match(testCase.record)
        #expect(matched == (testCase.matches ? [MatchedTarget(targetIndex: 0, rule: "r")] : []))
        // The explanation agrees with the matcher.
        let explanation = ruleSet.explain(testCase.record)
        #expect(explanation.map(\.matched) == [testCase.matches])
        #expect(ruleSet.rules.first?.match.matches(testCase.record) == testCase.matches)
    }

    @Test func deliversEachTargetOnceWithTheFirstMatchingRule() {
        let ruleSet = R.ruleSet(
            """
            {"targets": {"audit": {"url": "http://a/"}, "thumbs": {"url": "http://t/"}, "other": {"url": "http://o/"}},
             "rules": [
               {"name": "images", "match": {"suffix": ".jpg"}, "to": ["thumbs", "audit"]},
               {"name": "everything", "to": ["audit"]},
               {"name": "photos", "match": {"bucket": "photos"}, "to": ["thumbs", "other"]},
               {"name": "never", "match": {"bucket": "none"}, "to": ["other"]}
             ]}
            """
        )
        #expect(
            ruleSet.match(R.record(key: "a.jpg")) == [
                MatchedTarget(targetIndex: 0, rule: "images"),
                MatchedTarget(targetIndex: 1, rule: "images"),
                MatchedTarget(targetIndex: 2, rule: "photos"),
            ]
        )
        #expect(
            ruleSet.match(R.record(bucket: "docs", key: "a.txt")) == [MatchedTarget(targetIndex: 0, rule: "everything")]
        )
        #expect(ruleSet.matcher.matchingRules(R.record(key: "a.jpg")) == [0, 1, 2])
    }

    @Test func ordersTargetsByAppearanceAcrossFiles() throws {
        let first = RuleSource(
            path: "rules/a.json",
            text: #"{"rules": [{"name": "r1", "to": ["z-last", "a-first"]}]}"#
        )
        let second = RuleSource(
            path: "rules/b.json",
            text: #"{"targets": {"z-last": {"url": "http://z/"}, "a-first": {"url": "http://a/"}}}"#
        )
        let ruleSet = try RuleSetCompiler.compile([first, second], environment: [:]).get()
        #expect(ruleSet.targets.map(\.name) == ["z-last", "a-first"])
        #expect(ruleSet.targets.map(\.file) == ["rules/b.json", "rules/b.json"])
        #expect(ruleSet.rules.map(\.file) == ["rules/a.json"])
        #expect(
            ruleSet.match(R.record()) == [
                MatchedTarget(targetIndex: 0, rule: "r1"), MatchedTarget(targetIndex: 1, rule: "r1"),
            ]
        )
        #expect(ruleSet.target(named: "a-first")?.url == "http://a/")
        #expect(ruleSet.target(named: "missing") == nil)
    }

    @Test func checksOnlyCandidateRulesForRecordsThatCannotMatch() {
        // 3000 rules, each on its own bucket, plus 3000 on one bucket with distinct prefixes.
        var rules: [Rule] = []
        for index in 0..<3000 {
            rules.append(Rule(name: "b\(index)", to: ["t"], match: MatchSpec(buckets: ["bucket-\(index)"])))
        }
        for index in 0..<3000 {
            rules.append(
                Rule(name: "p\(index)", to: ["t"], match: MatchSpec(buckets: ["shared"], prefixes: ["dir-\(index)/"]))
            )
        }
        rules.append(
            Rule(name: "deletes", to: ["t"], match: MatchSpec(events: ["s3:ObjectRemoved:*"], buckets: ["shared"]))
        )
        let ruleSet = RuleSet(targets: [Target(name: "t", url: "http://t/")], rules: rules)
        let matcher = ruleSet.matcher
        #expect(matcher.candidateCount(R.record(bucket: "unknown")) == 0)
        #expect(matcher.candidateCount(R.record(bucket: "bucket-17")) == 1)
        #expect(matcher.match(R.record(bucket: "bucket-17")) == [MatchedTarget(targetIndex: 0, rule: "b17")])
        // In the shared bucket the prefix trie narrows 3001 rules to the one prefix plus the rule without one.
        #expect(matcher.candidateCount(R.record(bucket: "shared", key: "dir-2500/x")) == 2)
        #expect(
            matcher.match(R.record(bucket: "shared", key: "dir-2500/x")) == [
                MatchedTarget(targetIndex: 0, rule: "p2500")
            ]
        )
        #expect(matcher.candidateCount(R.record(bucket: "shared", key: "elsewhere")) == 1)
        #expect(matcher.match(R.record(bucket: "shared", key: "elsewhere")).isEmpty)
        // A delete in the shared bucket: the event index leaves one candidate.
        #expect(matcher.candidateCount(R.record("s3:ObjectRemoved:Delete", bucket: "shared", size: nil)) == 1)
    }

    @Test func catalogFitsTheEventMask() {
        #expect(EventNameCatalog.allNames.count <= 128)
        #expect(Set(EventNameCatalog.allNames).count == EventNameCatalog.allNames.count)
    }

    // MARK: - Randomized comparison with a plain reference implementation

    @Test(arguments: [UInt64(1), 2])
    func agreesWithAReferenceImplementationOnRandomRecords(seed: UInt64) {
        var random = RuleTestRandom(seed: seed)
        let targets = (0..<12).map { Target(name: "t\($0)", url: "http://127.0.0.1:9/\($0)") }
        var rules: [Rule] = []
        for index in 0..<200 {
            let to = (0..<random.int(1...3)).map { _ in "t\(random.int(0...11))" }
            rules.append(Rule(name: "rule\(index)", to: Array(Set(to)).sorted(), match: randomSpec(&random, depth: 0)))
        }
        let ruleSet = RuleSet(targets: targets, rules: rules)
        var matchedSomething = 0
        for index in 0..<2500 {
            let record = randomRecord(&random)
            let expected = RuleReference.match(rules: rules, targets: targets, record)
            if !expected.isEmpty { matchedSomething += 1 }
            #expect(ruleSet.match(record) == expected, "record \(record)")
            if index % 5 == 0 {
                let explained = ruleSet.explain(record).enumerated().filter(\.element.matched).map(\.offset)
                let reference = RuleReference.Record(record)
                #expect(explained == rules.indices.filter { RuleReference.holds(rules[$0].match, reference) })
            }
        }
        // The vocabulary is small enough that many records match something.
        #expect(matchedSomething > 500)
    }

    static let vocabulary = (
        events: [
            "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Copy", "s3:ObjectRemoved:*",
            "s3:ObjectRemoved:Delete", "s3:ObjectAccessed:Get", "s3:Replication:*", "s3:ObjectTagging:*",
        ],
        recordEvents: [
            "s3:ObjectCreated:Put", "s3:ObjectCreated:Copy", "s3:ObjectCreated:Post", "s3:ObjectRemoved:Delete",
            "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectAccessed:Get", "s3:Replication:OperationNotTracked",
            "s3:ObjectTagging:Put", "s3:ObjectTagging:Future", "s3:Made:Up",
        ],
        buckets: ["photos", "docs", "logs", "b"],
        prefixes: ["u/", "u/x/", "u/xy", "v/", "ü/", "w"],
        suffixes: [".jpg", ".png", "x.jpg", ".txt", "y", "ü"],
        contentTypes: ["image/*", "image/png", "text/plain", "*/*"],
        recordContentTypes: ["image/png", "IMAGE/JPEG", "text/plain; charset=utf-8", "text/html", "", "weird"],
        metadataNames: ["kind", "x-amz-meta-kind", "x-amz-meta-tier", "Tier"],
        metadataValues: ["avatar", "banner", "hot"],
        keys: [
            "u/", "u/x", "u/x/a.jpg", "u/xy.png", "u/xy", "v/a.txt", "ü/ü", "w", "wx.jpg", "a.jpg", "u/x/y", "", "v/y",
        ]
    )

    func randomSpec(_ random: inout RuleTestRandom, depth: Int) -> MatchSpec {
        let v = Self.vocabulary
        var spec = MatchSpec()
        if random.chance(0.4) { spec.events = random.subset(of: v.events) }
        if random.chance(0.6) { spec.buckets = random.subset(of: v.buckets) }
        if random.chance(0.5) { spec.prefixes = random.subset(of: v.prefixes) }
        if random.chance(0.4) { spec.suffixes = random.subset(of: v.suffixes) }
        if random.chance(0.2) { spec.contentTypes = random.subset(of: v.contentTypes) }
        if random.chance(0.25) {
            let low = random.chance(0.5) ? Int64(random.int(0...50)) : nil
            let high = random.chance(0.5) || low == nil ? Int64(random.int(50...120)) : nil
            spec.size = MatchSpec.SizeRange(min: low, max: high)
        }
        if random.chance(0.2) {
            let names = random.subset(of: ["x-amz-meta-kind", "x-amz-meta-tier"])
            spec.metadata = names.map {
                MatchSpec.MetadataCondition(name: $0, values: random.subset(of: v.metadataValues))
            }
        }
        if depth < 2, random.chance(0.2) {
            let not = randomSpec(&random, depth: depth + 1)
            if !not.isEmpty { spec.not = not }
        }
        return spec
    }

    func randomRecord(_ random: inout RuleTestRandom) -> EventRecord {
        let v = Self.vocabulary
        var metadata: [String: String] = [:]
        for name in v.metadataNames where random.chance(0.3) {
            metadata[name.lowercased()] = random.element(of: v.metadataValues)
        }
        if random.chance(0.2) { metadata["content-type"] = random.element(of: v.recordContentTypes) }
        return EventRecord(
            eventName: random.element(of: v.recordEvents),
            bucket: random.chance(0.9) ? random.element(of: v.buckets) : "elsewhere",
            key: random.element(of: v.keys),
            size: random.chance(0.7) ? Int64(random.int(0...130)) : nil,
            contentType: random.chance(0.6) ? random.element(of: v.recordContentTypes) : nil,
            metadata: metadata
        )
    }
}

/// A deliberately plain implementation of docs/rules.md ("Match fields", "Semantics"), written from the text and not from the matcher.
enum RuleReference {
    /// The record with its byte strings taken once.
    struct Record {
        var record: EventRecord
        var name: [UInt8]
        var bucket: [UInt8]
        var key: [UInt8]
        var mediaType: [Substring]?

        init(_ record: EventRecord) {
            self.record = record
            name = Array(record.eventName.utf8)
            bucket = Array(record.bucket.utf8)
            key = Array(record.key.utf8)
            var contentType = record.contentType ?? ""
            if contentType.isEmpty { contentType = record.metadata["content-type"] ?? "" }
            let media = String(contentType.split(separator: ";", omittingEmptySubsequences: false)[0])
                .trimmingCharacters(in: [" ", "\t"]).lowercased()
            let parts = media.split(separator: "/", omittingEmptySubsequences: false)
            mediaType = parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty ? parts : nil
        }
    }

    static func match(rules: [Rule], targets: [Target], _ record: EventRecord) -> [MatchedTarget] {
        let reference = Record(record)
        let matching = rules.filter { holds($0.match, reference) }
        var out: [MatchedTarget] = []
        for (targetIndex, target) in targets.enumerated() {
            if let rule = matching.first(where: { $0.to.contains(target.name) }) {
                out.append(MatchedTarget(targetIndex: targetIndex, rule: rule.name))
            }
        }
        return out
    }

    static func holds(_ spec: MatchSpec, _ r: Record) -> Bool {
        if let events = spec.events,
            !events.contains(where: { event in
                let bytes = Array(event.utf8)
                return bytes.last == UInt8(ascii: "*") ? r.name.starts(with: bytes.dropLast()) : r.name == bytes
            })
        {
            return false
        }
        if let buckets = spec.buckets, !buckets.contains(where: { Array($0.utf8) == r.bucket }) {
            return false
        }
        if let prefixes = spec.prefixes, !prefixes.contains(where: { r.key.starts(with: Array($0.utf8)) }) {
            return false
        }
        if let suffixes = spec.suffixes,
            !suffixes.contains(where: { r.key.reversed().starts(with: Array($0.utf8).reversed()) })
        {
            return false
        }
        if let types = spec.contentTypes {
            guard let parts = r.mediaType else { return false }
            let ok = types.contains { type in
                let pattern = type.split(separator: "/")
                return (pattern[0] == "*" || pattern[0] == parts[0]) && (pattern[1] == "*" || pattern[1] == parts[1])
            }
            if !ok { return false }
        }
        if let size = spec.size {
            guard let value = r.record.size ?? (r.record.eventName.hasPrefix("s3:ObjectCreated:") ? 0 : nil) else {
                return false
            }
            if let min = size.min, value < min { return false }
            if let max = size.max, value > max { return false }
        }
        for condition in spec.metadata ?? [] {
            let short = String(condition.name.dropFirst("x-amz-meta-".count))
            guard let value = r.record.metadata[condition.name] ?? r.record.metadata[short] else { return false }
            if !condition.values.contains(where: { Array($0.utf8) == Array(value.utf8) }) { return false }
        }
        if let not = spec.not, holds(not, r) { return false }
        return true
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}

/// A small seeded generator, so that a failing case can be replayed.
struct RuleTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    mutating func element<T>(of values: [T]) -> T {
        values[int(0...(values.count - 1))]
    }

    /// A non-empty subset, in the original order.
    mutating func subset<T>(of values: [T]) -> [T] {
        var picked = values.filter { _ in chance(0.35) }
        if picked.isEmpty { picked = [element(of: values)] }
        return picked
    }
}
