import Logging
import ServiceLifecycle

/// Logs `Relay stopping` at info as soon as a graceful stop begins (SIGTERM, SIGINT or
/// `Relay.triggerGracefulShutdown()`), so that even an idle relay says it is stopping (docs/operations.md, "Logs").
///
/// The last service of the relay's group: services are told to stop in reverse order, so it is told first, before the
/// server drains its connections and the delivery service gives its in-flight attempts the grace period.
struct ShutdownNotice: Service {
    let logger: Logger
    /// The pending deliveries now, for the line's `pending`.
    let pending: @Sendable () -> Int

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled, not a graceful stop: the group is being torn down after an error, which is logged there.
            return
        }
        logger.info("Relay stopping", metadata: ["pending": "\(pending())"])
    }
}
