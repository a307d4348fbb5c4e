/// One rule: which event records (`match` and `pattern`) go to which targets (`to`) (docs/rules.md, "Rules").
public struct Rule: Sendable, Equatable {
    /// The rule's name, unique across all rule files.
    public var name: String
    /// The rule file that declares the rule, as in `RuleSource.path`.
    public var file: String
    /// Names of the targets matched records go to, in file order, without repeats; never empty.
    public var to: [String]
    /// The conditions a record must meet.
    public var match: MatchSpec
    /// An EventBridge event pattern the record's JSON must also match (ANDed with `match`); nil when absent.
    public var pattern: EventPattern?

    public init(
        name: String,
        file: String = "",
        to: [String],
        match: MatchSpec = MatchSpec(),
        pattern: EventPattern? = nil
    ) {
        self.name = name
        self.file = file
        self.to = to
        self.match = match
        self.pattern = pattern
    }
}
