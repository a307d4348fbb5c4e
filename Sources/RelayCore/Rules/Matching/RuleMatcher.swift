/// A rule set compiled for matching: built once per rule set, shared by every request (it is a `Sendable` value).
///
/// Two indexes narrow the rules a record is checked against. The event index lists, per known event name, the
/// rules that accept it (rules without an event condition included). The bucket index groups rules by bucket (rules
/// without a bucket condition form one more group), within a group by key prefix in a byte trie (rules without
/// a prefix condition listed apart), and under each prefix by key suffix in a trie of reversed suffixes (rules
/// without a suffix condition listed apart). Per record the matcher looks up the event name and the bucket once,
/// walks the tries of the record's bucket group and of the any-bucket group along the key, takes whichever candidate
/// list is shorter (an event list of more than `eventListLimit` rules is not counted: the groups are taken), and
/// checks the remaining conditions of those candidates only. A record that no rule can match
/// because of its event, bucket, prefix or suffix costs a few lookups and walks over its key, however many rules
/// there are.
///
/// Semantics (docs/rules.md, "Semantics"): fields ANDed, values ORed, absent fields match all; `not` must not hold; prefix and
/// suffix compare bytes of the decoded key; contentType is case-insensitive without parameters, `type/*` allowed,
/// and falls back to MinIO's `content-type` user metadata; a created-object record without size is 0 bytes; other
/// records without size fail a size condition; metadata names are case-insensitive with optional `x-amz-meta-`.
public struct RuleMatcher: Sendable {
    private let conditions: [CompiledCondition]
    /// `conditions` without their reference counts (`conditions` keeps them alive): a candidate is checked without
    /// a retain and a release.
    private let unretainedConditions: [Unmanaged<CompiledCondition>]
    private let specs: [MatchSpec]
    private let ruleNames: [String]
    private let ruleFiles: [String]
    private let ruleTargetNames: [[String]]
    /// Target indices per rule, in the rule's `to` order.
    private let ruleTargets: [[Int]]
    /// `ruleTargets` in one array: rule `r`'s are `flatTargets[flatTargetStarts[r]..<flatTargetStarts[r + 1]]`.
    private let flatTargets: [Int32]
    private let flatTargetStarts: [Int32]
    private let eventIDs: [String: Int]
    /// Per known event id: rules that accept it (rules without an event condition included), ascending.
    private let eventCandidates: [[Int32]]
    /// For names outside the catalog: rules without an event condition or with a family.
    private let unknownEventCandidates: [Int32]
    private let bucketIDs: [String: Int32]
    /// Per bucket id: the rules naming that bucket.
    private let bucketGroups: [RuleGroup]
    /// The rules without a bucket condition.
    private let anyBucketGroup: RuleGroup
    /// Pattern rules with no event, bucket or key-prefix condition but a field of exact strings, by that field's
    /// path (in the order first seen) and value; they are in no other index.
    private let valueIndexes: [ValueIndex]

    private struct ValueIndex: Sendable {
        var path: [String]
        var rules: [String: [Int32]] = [:]
    }

    /// Rules indexed by key prefix, and under each prefix by key suffix.
    private struct RuleGroup: Sendable {
        var prefixes = PrefixTrie()
        /// Per node of `prefixes`: the rules with a prefix ending there.
        var byPrefix: [SuffixedRules] = []
        /// Rules without a prefix condition.
        var noPrefix = SuffixedRules()

        mutating func insert(_ rule: Int32, prefixes rulePrefixes: [[UInt8]]?, suffixes: [[UInt8]]?) {
            guard let rulePrefixes else {
                noPrefix.insert(rule, suffixes: suffixes)
                return
            }
            for prefix in rulePrefixes {
                let node = prefixes.node(for: prefix)
                while byPrefix.count < prefixes.nodeCount { byPrefix.append(SuffixedRules()) }
                byPrefix[node].insert(rule, suffixes: suffixes)
            }
        }

        func candidateCount(along key: UnsafeBufferPointer<UInt8>) -> Int {
            var count = noPrefix.candidateCount(along: key)
            if byPrefix.isEmpty { return count }
            prefixes.forEachNode(along: key) { node in
                if node < byPrefix.count { count += byPrefix[node].candidateCount(along: key) }
            }
            return count
        }

        func forEachCandidate(along key: UnsafeBufferPointer<UInt8>, _ body: (Int32) -> Void) {
            noPrefix.forEachCandidate(along: key, body)
            if byPrefix.isEmpty { return }
            prefixes.forEachNode(along: key) { node in
                if node < byPrefix.count { byPrefix[node].forEachCandidate(along: key, body) }
            }
        }
    }

    /// Rules of one key prefix (or of none), by key suffix: a record's candidates are the rules without a suffix
    /// condition and those with a suffix its key ends with, found in one walk back from the key's last byte.
    private struct SuffixedRules: Sendable {
        /// Rules without a suffix condition, ascending.
        var noSuffix: [Int32] = []
        /// The rules' suffixes, reversed; nil when no rule has one.
        var suffixes: PrefixTrie?

        mutating func insert(_ rule: Int32, suffixes ruleSuffixes: [[UInt8]]?) {
            guard let ruleSuffixes else {
                if noSuffix.last != rule { noSuffix.append(rule) }
                return
            }
            var trie = suffixes ?? PrefixTrie()
            for suffix in ruleSuffixes { trie.insert(suffix.reversed(), rule: rule) }
            suffixes = trie
        }

        func candidateCount(along key: UnsafeBufferPointer<UInt8>) -> Int {
            noSuffix.count + (suffixes?.candidateCount(alongReversed: key) ?? 0)
        }

        func forEachCandidate(along key: UnsafeBufferPointer<UInt8>, _ body: (Int32) -> Void) {
            for rule in noSuffix { body(rule) }
            suffixes?.forEachRuleList(alongReversed: key) { list in
                for rule in list { body(rule) }
            }
        }
    }

    /// Compiles `rules`; `targets` gives the indices `MatchedTarget.targetIndex` refers to. A name in a rule's `to`
    /// that is not among `targets` is skipped (`RuleSetCompiler` never lets one through).
    public init(rules: [Rule], targets: [Target]) {
        var targetIndex: [String: Int] = [:]
        for (index, target) in targets.enumerated() where targetIndex[target.name] == nil {
            targetIndex[target.name] = index
        }
        var bucketIDs: [String: Int32] = [:]
        func bucketID(_ name: String) -> Int32 {
            if let id = bucketIDs[name] { return id }
            let id = Int32(bucketIDs.count)
            bucketIDs[name] = id
            return id
        }
        var conditions: [CompiledCondition] = []
        for rule in rules {
            conditions.append(CompiledCondition(rule.match, pattern: rule.pattern, bucketID: bucketID))
        }
        self.conditions = conditions
        unretainedConditions = conditions.map { Unmanaged.passUnretained($0) }
        specs = rules.map(\.match)
        ruleNames = rules.map(\.name)
        ruleFiles = rules.map(\.file)
        ruleTargetNames = rules.map(\.to)
        let ruleTargets = rules.map { $0.to.compactMap { targetIndex[$0] } }
        self.ruleTargets = ruleTargets
        var flatTargetStarts: [Int32] = [0]
        for targets in ruleTargets {
            flatTargetStarts.append(flatTargetStarts[flatTargetStarts.count - 1] + Int32(targets.count))
        }
        flatTargets = ruleTargets.flatMap { $0.map { Int32($0) } }
        self.flatTargetStarts = flatTargetStarts
        eventIDs = EventNameCatalog.ids
        self.bucketIDs = bucketIDs

        var eventCandidates = [[Int32]](repeating: [], count: EventNameCatalog.allNames.count)
        var unknownEventCandidates: [Int32] = []
        var bucketGroups = [RuleGroup](repeating: RuleGroup(), count: bucketIDs.count)
        var anyBucketGroup = RuleGroup()
        var valueIndexes: [ValueIndex] = []
        for (index, condition) in conditions.enumerated() {
            let rule = Int32(index)
            if let field = condition.indexField {
                var position = valueIndexes.firstIndex { $0.path == field.path }
                if position == nil {
                    valueIndexes.append(ValueIndex(path: field.path))
                    position = valueIndexes.count - 1
                }
                for value in Set(field.values) { valueIndexes[position ?? 0].rules[value, default: []].append(rule) }
                continue
            }
            for id in eventCandidates.indices where condition.indexEvents?.contains(id) ?? true {
                eventCandidates[id].append(rule)
            }
            if condition.indexAcceptsUnknownEvents {
                unknownEventCandidates.append(rule)
            }
            if let buckets = condition.indexBuckets {
                for id in Set(buckets) {
                    bucketGroups[Int(id)].insert(
                        rule,
                        prefixes: condition.indexPrefixes,
                        suffixes: condition.suffixes
                    )
                }
            } else {
                anyBucketGroup.insert(rule, prefixes: condition.indexPrefixes, suffixes: condition.suffixes)
            }
        }
        self.eventCandidates = eventCandidates
        self.unknownEventCandidates = unknownEventCandidates
        self.bucketGroups = bucketGroups
        self.anyBucketGroup = anyBucketGroup
        self.valueIndexes = valueIndexes
    }

    /// The targets `record` goes to: each target once, with the first matching rule (in load order) that names it,
    /// ordered by target index (the order targets appear in the rule files). Empty when no rule matches.
    public func match(_ record: EventRecord) -> [MatchedTarget] {
        let rules = matchingRules(record)
        if rules.isEmpty { return [] }
        // Read in place: no retain of a rule's target list per matched rule.
        var out: [MatchedTarget] = []
        flatTargets.withUnsafeBufferPointer { flatTargets in
            flatTargetStarts.withUnsafeBufferPointer { starts in
                for rule in rules {
                    for position in Int(starts[rule])..<Int(starts[rule + 1]) {
                        let target = Int(flatTargets[position])
                        if out.contains(where: { $0.targetIndex == target }) { continue }
                        out.append(MatchedTarget(targetIndex: target, rule: ruleNames[rule]))
                    }
                }
            }
        }
        if out.count > 1 { out.sort { $0.targetIndex < $1.targetIndex } }
        return out
    }

    /// Indices of the rules `record` matches, ascending (load order).
    public func matchingRules(_ record: EventRecord) -> [Int] {
        let eventID = record.catalogID ?? eventIDs[record.eventName] ?? -1
        let bucketID = bucketIDs[record.bucket] ?? -1
        let byEvent = eventID >= 0 ? eventCandidates[eventID] : unknownEventCandidates
        if byEvent.isEmpty, valueIndexes.isEmpty { return [] }
        var key = record.key
        return key.withUTF8 { keyBytes in
            // The conditions are read in place (not copied out of the array), and the common case, the event list,
            // checks them in a plain loop.
            unretainedConditions.withUnsafeBufferPointer { conditions in
                let view = RecordView(eventID: eventID, bucketID: bucketID, key: keyBytes)
                var matched: [Int] = []
                var sorted = true
                var tree = RecordTree()
                if byEvent.isEmpty {
                    // Only the value indexes can hold candidates.
                } else if useEventList(byEvent, bucketID: bucketID, keyBytes) {
                    for rule in byEvent where Self.holds(conditions[Int(rule)], record, view, &tree) {
                        matched.append(Int(rule))
                    }
                } else {
                    // Collected first, checked after: a closure that checked them would hold a copy of the record.
                    var candidates: [Int32] = []
                    candidates.reserveCapacity(64)
                    if bucketID >= 0 {
                        bucketGroups[Int(bucketID)].forEachCandidate(along: keyBytes) { candidates.append($0) }
                    }
                    anyBucketGroup.forEachCandidate(along: keyBytes) { candidates.append($0) }
                    for rule in candidates where Self.holds(conditions[Int(rule)], record, view, &tree) {
                        // Room for every candidate at the first match: the array is not grown again.
                        if matched.isEmpty { matched.reserveCapacity(candidates.count) }
                        matched.append(Int(rule))
                    }
                    sorted = false
                }
                if !valueIndexes.isEmpty {
                    let json = tree.json(of: record)
                    var candidates: [Int32] = []
                    forEachValueCandidate(record, json: json) { candidates.append($0) }
                    if !candidates.isEmpty { sorted = false }
                    for rule in candidates where Self.holds(conditions[Int(rule)], record, view, &tree) {
                        matched.append(Int(rule))
                    }
                }
                if !sorted, matched.count > 1 {
                    // Sorted (when not already ascending) and deduplicated in place.
                    if zip(matched, matched.dropFirst()).contains(where: { $0 > $1 }) { matched.sort() }
                    var kept = 1
                    for position in 1..<matched.count where matched[position] != matched[kept - 1] {
                        matched[kept] = matched[position]
                        kept += 1
                    }
                    matched.removeLast(matched.count - kept)
                }
                return matched
            }
        }
    }

    /// `condition.holds(record, view, &tree)` without retaining `condition`.
    @inline(__always)
    private static func holds(
        _ condition: Unmanaged<CompiledCondition>,
        _ record: EventRecord,
        _ view: RecordView,
        _ tree: inout RecordTree
    ) -> Bool {
        condition._withUnsafeGuaranteedRef { $0.holds(record, view, &tree) }
    }

    /// Calls `body` with every rule of the value indexes that names one of `record`'s values at the index's path
    /// (a rule more than once when the record holds several of its values).
    private func forEachValueCandidate(_ record: EventRecord, json: JSONValue?, _ body: (Int32) -> Void) {
        for index in valueIndexes {
            for value in CompiledPattern.strings(at: index.path, of: record, json: json) {
                guard let rules = index.rules[value] else { continue }
                for rule in rules { body(rule) }
            }
        }
    }

    /// How many rules `matchingRules` checks in full for `record` (for tests of the indexes).
    func candidateCount(_ record: EventRecord) -> Int {
        let eventID = eventIDs[record.eventName] ?? -1
        let bucketID = bucketIDs[record.bucket] ?? -1
        let byEvent = eventID >= 0 ? eventCandidates[eventID] : unknownEventCandidates
        var count = 0
        let json = valueIndexes.isEmpty ? nil : record.json
        forEachValueCandidate(record, json: json) { _ in count += 1 }
        if byEvent.isEmpty { return count }
        var key = record.key
        return count
            + key.withUTF8 { keyBytes in
                if useEventList(byEvent, bucketID: bucketID, keyBytes) { return byEvent.count }
                return groupCandidateCount(bucketID: bucketID, keyBytes)
            }
    }

    /// Whether the event candidate list is no longer than the bucket-and-prefix candidates. A list of more than
    /// `eventListLimit` rules is not counted against the groups (a walk of the tries): the groups are taken.
    private func useEventList(_ byEvent: [Int32], bucketID: Int32, _ keyBytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if byEvent.count <= 4 { return true }
        if byEvent.count > Self.eventListLimit { return false }
        return byEvent.count <= groupCandidateCount(bucketID: bucketID, keyBytes)
    }

    /// See `useEventList`.
    static let eventListLimit = 256

    private func groupCandidateCount(bucketID: Int32, _ keyBytes: UnsafeBufferPointer<UInt8>) -> Int {
        let byBucket = bucketID >= 0 ? bucketGroups[Int(bucketID)].candidateCount(along: keyBytes) : 0
        return byBucket + anyBucketGroup.candidateCount(along: keyBytes)
    }

    /// For every rule in load order: whether `record` matches it and, if not, the first failing condition.
    public func explain(_ record: EventRecord) -> [RuleExplanation] {
        specs.indices.map { index in
            let failure = specs[index].firstFailure(for: record) ?? conditions[index].pattern?.firstFailure(record)
            return RuleExplanation(
                rule: ruleNames[index],
                file: ruleFiles[index],
                matched: failure == nil,
                targets: ruleTargetNames[index],
                reason: failure
            )
        }
    }
}
