import Logging
import Metrics
import ServiceLifecycle
import UnixSignals

/// Reloads the rules when their files change (inotify, debounced) and on SIGHUP: validate, then swap atomically; an
/// invalid set leaves the running one in force, and its diagnostics go to the log, the metric
/// `relay_rule_reloads_total{outcome="failed"}` and the status of the ``RuleSetStore`` (docs/operations.md,
/// "Reloading rules").
struct RulesReloader: Service, CustomStringConvertible {
    let rules: RuleSetStore
    let logger: Logger
    /// Watch the files; `false` reloads on SIGHUP only.
    var watchFiles = true

    /// ServiceLifecycle logs services by description: never print the environment (it holds secrets).
    var description: String { "RulesReloader(rules: \(rules.path))" }

    private static let succeeded = Counter(label: "relay_rule_reloads_total", dimensions: [("outcome", "ok")])
    private static let failed = Counter(label: "relay_rule_reloads_total", dimensions: [("outcome", "failed")])

    func run() async throws {
        let rules = self.rules
        let logger = self.logger
        var watcher: RuleFileWatcher?
        if watchFiles {
            do {
                let started = try RuleFileWatcher(path: rules.path)
                started.start {
                    logger.info("Rule files changed; reloading", metadata: ["rules.path": "\(rules.path)"])
                    Self.reload(rules, logger)
                }
                watcher = started
            } catch {
                logger.warning(
                    "Cannot watch the rule files; reload them with SIGHUP",
                    metadata: ["rules.path": "\(rules.path)", "error": "\(error)"]
                )
            }
        }
        defer { watcher?.stop() }
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            Self.reload(rules, logger)
        }
    }

    private static func reload(_ rules: RuleSetStore, _ logger: Logger) {
        if rules.reload(logger: logger) == nil {
            succeeded.increment()
        } else {
            failed.increment()
        }
    }
}
