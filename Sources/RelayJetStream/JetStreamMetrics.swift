import Metrics
import Synchronization

/// The delivery log's own metrics (docs/operations.md, "Metrics").
enum JetStreamMetrics {
    private static let redelivered = Mutex<[String: Counter]>([:])

    /// Counts, in `relay_redelivered_total{target}`, the fetched deliveries that JetStream had handed out before
    /// (delivery count above 1: a relay died or stopped holding them, or their due time was deferred).
    static func countRedelivered(_ messages: [NatsMessage], target: String) {
        let count = messages.count(where: { ($0.metadata()?.deliveries ?? 1) > 1 })
        guard count > 0 else { return }
        let counter = redelivered.withLock { counters in
            if let counter = counters[target] { return counter }
            let counter = Counter(label: "relay_redelivered_total", dimensions: [("target", target)])
            counters[target] = counter
            return counter
        }
        counter.increment(by: count)
    }
}
