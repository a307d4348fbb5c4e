/// One target a record goes to, and the rule that sends it there.
public struct MatchedTarget: Sendable, Equatable, Hashable {
    /// Index into `RuleSet.targets`.
    public var targetIndex: Int
    /// The first matching rule, in load order, that names this target.
    public var rule: String

    public init(targetIndex: Int, rule: String) {
        self.targetIndex = targetIndex
        self.rule = rule
    }
}
