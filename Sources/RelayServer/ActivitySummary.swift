import Logging
import RelayDelivery
import ServiceLifecycle

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
        var last = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            let now = ContinuousClock.now
            log(activity.take(), over: now - last)
            last = now
        }
        // What happened since the last line, so that a stop does not hide it.
        log(activity.take(), over: ContinuousClock.now - last)
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
