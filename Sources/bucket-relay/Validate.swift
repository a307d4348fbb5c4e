import ArgumentParser
import RelayCore
import RelayServer

/// `bucket-relay validate`: checks a rule set and prints every problem compiler-style.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check rules; print every problem as FILE: error: SUBJECT: FIELD: REASON and exit 1 if any."
    )

    @OptionGroup var rules: RulesOptions

    func run() throws {
        let ruleSet = try rules.load()
        for warning in ruleSet.warnings {
            printError(warning.description)
        }
        print("\(rules.path): ok: \(ruleSet.targets.count) target(s), \(ruleSet.rules.count) rule(s)")
    }
}
