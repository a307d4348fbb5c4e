import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the rules on SIGHUP: validate, then swap atomically; an invalid set leaves the running one in force.
struct RulesReloader: Service {
    let rules: RuleSetStore
    let environment: [String: String]
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            rules.reload(environment: environment, logger: logger)
        }
    }
}
