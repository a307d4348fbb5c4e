import Logging
import RelayCore
import Synchronization

/// The rule set in force, swapped atomically on reload.
///
/// A rule set that fails to load is never half applied: the running set stays until a valid one replaces it
/// (DESIGN §3).
public final class RuleSetStore: Sendable {
    private let state: Mutex<RuleSet>
    /// Where the rules are read from (`--rules`).
    public let path: String

    public init(path: String, initial: RuleSet) {
        self.path = path
        self.state = Mutex(initial)
    }

    /// The rule set in force.
    public var current: RuleSet {
        state.withLock { $0 }
    }

    /// Reads, validates and compiles the rules at `path`, and swaps them in only when valid.
    /// - Returns: the diagnostics when the new rule set is invalid (the running set stays), nil on success.
    @discardableResult
    public func reload(environment: [String: String], logger: Logger) -> RuleSetDiagnostics? {
        switch RuleFiles.load(path: path, environment: environment) {
        case .success(let ruleSet):
            state.withLock { $0 = ruleSet }
            logger.info(
                "Rules reloaded",
                metadata: ["rules.path": "\(path)", "rules.count": "\(ruleSet.rules.count)"]
            )
            return nil
        case .failure(let diagnostics):
            logger.error(
                "Rules reload failed, keeping the running rules",
                metadata: ["rules.path": "\(path)", "diagnostics": "\(diagnostics)"]
            )
            return diagnostics
        }
    }
}
