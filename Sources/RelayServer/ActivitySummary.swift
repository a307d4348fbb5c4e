import Logging
import RelayDelivery
import ServiceLifecycle
import Synchronization

/// Logs, every `interval`, one info line of what the relay did since the last one (docs/operations.md, "Logs"):
/// records received, spooled, matched no rule, resent, undecodable; deliveries delivered, retried, dead-lettered.
///
/// It stands in for the per-event lines, which are at `debug`: at thousands of events a second those cost more than
/// the events. A period in which nothing happened logs nothing; the last period is logged on a graceful stop.
struct ActivitySummary: Service {
    let activity: ActivityCounts
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let periodStart = Mutex(ContinuousClock.now)
        // Cancelled at a graceful stop, so that a long interval does not hold the stop up.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                let now = ContinuousClock.now
                log(activity.take(), over: now - periodStart.withLock { $0 })
                periodStart.withLock { $0 = now }
            }
        }
        // What happened since the last line, so that a stop does not hide it.
        log(activity.take(), over: ContinuousClock.now - periodStart.withLock { $0 })
    }

    /// The summary line of `counts`; nothing for an empty period.
    func log(_ counts: ActivityCounts.Snapshot, over elapsed: Duration) {
        guard !counts.isEmpty else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        logger.info(
            "Activity",
            metadata: [
                "period_s": "\(Int(seconds.rounded()))",
                "records": "\(counts.records)",
                "spooled": "\(counts.spooled)",
                "unmatched": "\(counts.unmatched)",
                "duplicates": "\(counts.duplicates)",
                "undecodable": "\(counts.undecodable)",
                "delivered": "\(counts.delivered)",
                "retried": "\(counts.retried)",
                "dead_lettered": "\(counts.deadLettered)",
            ]
        )
    }
}
