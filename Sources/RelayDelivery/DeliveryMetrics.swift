import Metrics
import Synchronization

/// Delivery metrics through swift-metrics; labels are bounded (target names come from the rules, outcomes are fixed).
final class DeliveryMetrics: Sendable {
    let pending = Gauge(label: "relay_spool_pending_deliveries")
    let pendingBytes = Gauge(label: "relay_spool_pending_bytes")
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    /// Counts one attempt outcome: `delivered`, `retry` or `dead_letter`.
    func outcome(target: String, _ outcome: String) {
        counter("relay_delivery_attempts_total", target: target, "outcome", outcome).increment()
    }

    /// Counts circuit breaker transitions: `opened`, `closed`.
    func breaker(target: String, _ transition: String) {
        counter("relay_circuit_transitions_total", target: target, "transition", transition).increment()
    }

    /// The counter `label{target, name=value}`, made once and kept.
    private func counter(_ label: String, target: String, _ name: String, _ value: String) -> Counter {
        let key = label + "\u{0}" + target + "\u{0}" + value
        return counters.withLock { counters -> Counter in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: [("target", target), (name, value)])
            counters[key] = counter
            return counter
        }
    }

    /// Records how long one attempt took.
    func latency(target: String, _ duration: Duration) {
        let timer = timers.withLock { timers -> Timer in
            if let timer = timers[target] { return timer }
            let timer = Timer(label: "relay_delivery_attempt_duration", dimensions: [("target", target)])
            timers[target] = timer
            return timer
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
