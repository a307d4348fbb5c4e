import Logging
import RelayCore
import Synchronization

/// The rule set in force, swapped atomically on reload.
///
/// A rule set that fails to load is never half applied: the running set stays until a valid one replaces it
/// (docs/rules.md).
public final class RuleSetStore: Sendable {
    private let state: Mutex<RuleSet>
    private let reloadState: Mutex<ReloadState>
    /// Where the rules are read from (`--rules`).
    public let path: String
    /// The environment for `${NAME}` expansion, the same at every reload.
    private let environment: [String: String]

    /// Holds `initial`, read from `path` with `environment`.
    public init(path: String, environment: [String: String], initial: RuleSet) {
        self.path = path
        self.environment = environment
        self.state = Mutex(initial)
        self.reloadState = Mutex(ReloadState(loadedAt: Timestamp.now(), lastError: nil))
    }

    /// When the rule set in force was loaded, and the last reload that failed since (its time and diagnostics).
    public struct ReloadState: Sendable {
        /// When the rule set in force was loaded (at start or by the last successful reload).
        public var loadedAt: Timestamp
        /// The last failed reload after ``loadedAt``, nil when the last reload succeeded (or none failed).
        public var lastError: (time: Timestamp, diagnostics: RuleSetDiagnostics)?
    }

    /// When the rules in force were loaded and the last failed reload since.
    public var reloadStatus: ReloadState {
        reloadState.withLock { $0 }
    }

    /// Reads, validates and compiles the rules at `path` (one file, or every `*.json` of a directory in name order)
    /// with `environment` for `${NAME}` expansion: the one place rules are loaded, for `serve`, its reloads and every
    /// command.
    /// - Returns: the rule set, or every diagnostic (file, subject, field, reason).
    public static func load(path: String, environment: [String: String]) -> Result<RuleSet, RuleSetDiagnostics> {
        RuleFiles.load(path: path, environment: environment)
    }

    /// Loads the rules at `path` and holds them.
    /// - Throws: the diagnostics when the rules are invalid.
    public static func open(path: String, environment: [String: String]) throws(RuleSetDiagnostics) -> RuleSetStore {
        switch load(path: path, environment: environment) {
        case .success(let ruleSet):
            return RuleSetStore(path: path, environment: environment, initial: ruleSet)
        case .failure(let diagnostics):
            throw diagnostics
        }
    }

    /// The rule set in force.
    public var current: RuleSet {
        state.withLock { $0 }
    }

    /// Reads, validates and compiles the rules at `path`, and swaps them in only when valid.
    /// - Returns: the diagnostics when the new rule set is invalid (the running set stays), nil on success.
    @discardableResult
    public func reload(logger: Logger) -> RuleSetDiagnostics? {
        switch Self.load(path: path, environment: environment) {
        case .success(let ruleSet):
            state.withLock { $0 = ruleSet }
            reloadState.withLock { $0 = ReloadState(loadedAt: Timestamp.now(), lastError: nil) }
            logger.info(
                "Rules reloaded",
                metadata: ["rules.path": "\(path)", "rules.count": "\(ruleSet.rules.count)"]
            )
            return nil
        case .failure(let diagnostics):
            reloadState.withLock { $0.lastError = (Timestamp.now(), diagnostics) }
            logger.error(
                "Rules reload failed, keeping the running rules",
                // One line: a log line's newlines are escaped (no forged lines), so the diagnostics are joined by "; ".
                metadata: [
                    "rules.path": "\(path)",
                    "diagnostics": "\(diagnostics.diagnostics.map(\.description).joined(separator: "; "))",
                ]
            )
            return diagnostics
        }
    }
}
