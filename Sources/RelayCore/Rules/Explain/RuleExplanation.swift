/// Whether one rule matches one record and, if not, why not. Produced by `RuleMatcher.explain(_:)` for
/// `bucket-relay match --explain`.
public struct RuleExplanation: Sendable, Equatable, CustomStringConvertible {
    /// The rule's name.
    public var rule: String
    /// The rule's file.
    public var file: String
    /// Whether the record meets every condition of the rule.
    public var matched: Bool
    /// The rule's targets (`to`).
    public var targets: [String]
    /// When not matched: the first failing condition in plain words, field first, e.g.
    /// `suffix: key "a.txt" ends with none of ".jpg", ".png"` or `not: excluded by prefix "uploads/tmp/"`.
    /// Nil when matched.
    public var reason: String?

    public init(rule: String, file: String, matched: Bool, targets: [String], reason: String?) {
        self.rule = rule
        self.file = file
        self.matched = matched
        self.targets = targets
        self.reason = reason
    }

    /// `rule "x": matched -> a, b` or `rule "x": no match: <reason>`.
    public var description: String {
        if matched {
            return "rule \(rule.quotedForMessage): matched -> \(targets.joined(separator: ", "))"
        }
        return "rule \(rule.quotedForMessage): no match: \(reason ?? "")"
    }
}
