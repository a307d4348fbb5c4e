/// One rule: which event records (`match`) go to which targets (`to`) (docs/rules.md, "Rules").
public struct Rule: Sendable, Equatable {
    /// The rule's name, unique across all rule files.
    public var name: String
    /// The rule file that declares the rule, as in `RuleSource.path`.
    public var file: String
    /// Names of the targets matched records go to, in file order, without repeats; never empty.
    public var to: [String]
    /// The conditions a record must meet.
    public var match: MatchSpec

    public init(name: String, file: String = "", to: [String], match: MatchSpec = MatchSpec()) {
        self.name = name
        self.file = file
        self.to = to
        self.match = match
    }
}
