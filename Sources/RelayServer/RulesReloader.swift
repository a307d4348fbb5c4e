import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the rules on SIGHUP: validate, then swap atomically; an invalid set leaves the running one in force.
struct RulesReloader: Service, CustomStringConvertible {
    let rules: RuleSetStore
    let logger: Logger

    /// ServiceLifecycle logs services by description: never print the environment (it holds secrets).
    var description: String { "RulesReloader(rules: \(rules.path))" }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            rules.reload(logger: logger)
        }
    }
}
