import ArgumentParser
import RelayCore
import RelayServer

/// `bucket-relay validate`: checks a rule set and prints every problem compiler-style.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check rules; print every problem as FILE: error: SUBJECT: FIELD: REASON and exit 1 if any."
    )

    @Option(help: "Rule file or directory of *.json rule files (RELAY_RULES). Default rules.")
    var rules: String?

    func run() throws {
        let path = ProcessEnvironment.twin(rules, "RULES") ?? "rules"
        switch RuleFiles.load(path: path, environment: ProcessEnvironment.values) {
        case .success(let ruleSet):
            for warning in ruleSet.warnings {
                printError(warning.description)
            }
            print("\(path): ok: \(ruleSet.targets.count) target(s), \(ruleSet.rules.count) rule(s)")
        case .failure(let diagnostics):
            for diagnostic in diagnostics.diagnostics {
                printError(diagnostic.description)
            }
            let warnings = diagnostics.diagnostics.count - diagnostics.errors.count
            printError(
                "\(diagnostics.errors.count) error(s)" + (warnings > 0 ? ", \(warnings) warning(s)" : "")
            )
            throw ExitCode(1)
        }
    }
}
