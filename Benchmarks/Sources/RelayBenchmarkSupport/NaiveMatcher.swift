import RelayCore

/// What a relay without a compiled matcher does: check every rule's conditions in turn with plain `String`
/// operations. Same semantics as `RuleMatcher` for the generated rules (ASCII keys), no indexes, no precomputation.
public struct NaiveMatcher {
    public var rules: [Rule]

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// Indices of the rules `record` matches, ascending.
    public func matchingRules(_ record: EventRecord) -> [Int] {
        var matched: [Int] = []
        for (index, rule) in rules.enumerated() where Self.holds(rule.match, for: record) {
            matched.append(index)
        }
        return matched
    }

    public static func holds(_ spec: MatchSpec, for record: EventRecord) -> Bool {
        if let events = spec.events, !events.contains(where: { eventMatches($0, record.eventName) }) { return false }
        if let buckets = spec.buckets, !buckets.contains(record.bucket) { return false }
        if let prefixes = spec.prefixes, !prefixes.contains(where: { record.key.hasPrefix($0) }) { return false }
        if let suffixes = spec.suffixes, !suffixes.contains(where: { record.key.hasSuffix($0) }) { return false }
        if let contentTypes = spec.contentTypes {
            guard let contentType = record.contentType ?? record.metadata["content-type"] else { return false }
            let media = contentType.split(separator: ";").first.map { String($0).lowercased() } ?? ""
            let type = media.split(separator: "/").first.map(String.init) ?? ""
            let accepted = contentTypes.contains { pattern in
                pattern == "*/*" || pattern == media || (pattern.hasSuffix("/*") && pattern.dropLast(2) == type)
            }
            if !accepted { return false }
        }
        if let size = spec.size {
            guard let recordSize = record.size ?? (record.isCreated ? 0 : nil) else { return false }
            if let min = size.min, recordSize < min { return false }
            if let max = size.max, recordSize > max { return false }
        }
        for condition in spec.metadata ?? [] {
            let shortName = String(condition.name.dropFirst("x-amz-meta-".count))
            guard let value = record.metadata[condition.name] ?? record.metadata[shortName],
                condition.values.contains(value)
            else { return false }
        }
        if let not = spec.not, holds(not, for: record) { return false }
        return true
    }

    private static func eventMatches(_ pattern: String, _ name: String) -> Bool {
        pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : pattern == name
    }
}
