/// A loaded, validated rule set: targets, rules and the compiled matcher. Immutable; a reload builds a new one and
/// swaps it in whole (docs/architecture.md, "Rules never half applied").
public struct RuleSet: Sendable {
    /// Targets in order of appearance (files in load order, then file order). `MatchedTarget.targetIndex` indexes it.
    public let targets: [Target]
    /// Rules in load order.
    public let rules: [Rule]
    /// Warnings found while loading (e.g. a target no rule names); they did not stop the load.
    public let warnings: [Diagnostic]
    /// The compiled matcher.
    public let matcher: RuleMatcher
    private let targetIndexByName: [String: Int]

    /// Builds a rule set from validated parts (`RuleSetCompiler` is the way from rule files). Target names should
    /// be unique and every rule's `to` should name one of them: the first target of a name wins, and unknown names
    /// are skipped.
    public init(targets: [Target], rules: [Rule], warnings: [Diagnostic] = []) {
        self.targets = targets
        self.rules = rules
        self.warnings = warnings
        var byName: [String: Int] = [:]
        for (index, target) in targets.enumerated() where byName[target.name] == nil {
            byName[target.name] = index
        }
        targetIndexByName = byName
        matcher = RuleMatcher(rules: rules, targets: targets)
    }

    /// A rule set with no targets and no rules: matches nothing.
    public static let empty = RuleSet(targets: [], rules: [])

    /// The target called `name`, if any.
    public func target(named name: String) -> Target? {
        targetIndex(named: name).map { targets[$0] }
    }

    /// The index in `targets` of the target called `name`, if any.
    public func targetIndex(named name: String) -> Int? {
        targetIndexByName[name]
    }

    /// See `RuleMatcher.match(_:)`.
    public func match(_ record: EventRecord) -> [MatchedTarget] {
        matcher.match(record)
    }

    /// See `RuleMatcher.explain(_:)`.
    public func explain(_ record: EventRecord) -> [RuleExplanation] {
        matcher.explain(record)
    }
}
