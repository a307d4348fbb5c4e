import ArgumentParser
import RelayCore
import RelayServer

/// `--rules`, shared by every command that reads the rules (`@OptionGroup`).
struct RulesOptions: ParsableArguments {
    @Option(help: "Rule file or directory of *.json rule files (RELAY_RULES). Default rules.")
    var rules: String?

    /// The path: the flag, else `RELAY_RULES`, else `rules`.
    var path: String { ProcessEnvironment.twin(rules, "RULES") ?? "rules" }

    /// Loads the rule set with the process environment for `${NAME}`.
    /// - Throws: `ExitCode(1)` after printing every diagnostic to standard error when the rules are invalid.
    func load() throws -> RuleSet {
        switch RuleSetStore.load(path: path, environment: ProcessEnvironment.values) {
        case .success(let ruleSet):
            return ruleSet
        case .failure(let diagnostics):
            for diagnostic in diagnostics.diagnostics {
                printError(diagnostic.description)
            }
            let warnings = diagnostics.diagnostics.count - diagnostics.errors.count
            printError("\(diagnostics.errors.count) error(s)" + (warnings > 0 ? ", \(warnings) warning(s)" : ""))
            throw ExitCode(1)
        }
    }
}

/// `--data-dir`, shared by `serve` and `replay`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(help: "Directory for spool.sqlite and dead-letter.jsonl (RELAY_DATA_DIR). Default data.")
    var dataDir: String?

    /// The path: the flag, else `RELAY_DATA_DIR`, else `data`.
    var path: String { ProcessEnvironment.twin(dataDir, "DATA_DIR") ?? "data" }
}
