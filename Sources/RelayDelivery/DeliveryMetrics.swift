import Metrics
import RelayLog
import Synchronization

/// Delivery metrics through swift-metrics; labels are bounded (target names come from the rules, outcomes and reasons
/// are enums). Names and labels: docs/operations.md, "Metrics".
final class DeliveryMetrics: Sendable {
    /// What one attempt led to: the `outcome` label of `relay_delivery_attempts_total`.
    enum AttemptResult: String, Sendable {
        case delivered
        case retry
        case deadLetter = "dead_letter"
    }

    /// A circuit breaker transition: the `transition` label of `relay_circuit_transitions_total`.
    enum BreakerTransition: String, Sendable {
        case opened
        case closed
    }

    let pending = Gauge(label: "relay_spool_pending_deliveries")
    let pendingBytes = Gauge(label: "relay_spool_pending_bytes")
    let resendIdentities = Gauge(label: "relay_resend_identities")
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    /// Counts one attempt outcome (`count` of them: a batch's attempt counts once per record).
    func outcome(target: String, _ outcome: AttemptResult, count: Int = 1) {
        counter("relay_delivery_attempts_total", target: target, "outcome", outcome.rawValue).increment(by: count)
    }

    /// Counts one dead letter of a delivery, by reason (`count` of them: a batch's records).
    func deadLetter(target: String, _ reason: DeadLetterReason, count: Int = 1) {
        counter("relay_dead_letters_total", target: target, "reason", reason.rawValue).increment(by: count)
    }

    private let recorders = Mutex<[String: Recorder]>([:])

    /// Records the records of one batch attempt in `relay_batch_records{target}`.
    func batchRecords(target: String, _ count: Int) {
        let recorder = recorders.withLock { recorders -> Recorder in
            if let recorder = recorders[target] { return recorder }
            let recorder = Recorder(label: BatchRecordsHistogram.name, dimensions: [("target", target)])
            recorders[target] = recorder
            return recorder
        }
        recorder.record(count)
    }

    /// Counts circuit breaker transitions.
    func breaker(target: String, _ transition: BreakerTransition) {
        counter("relay_circuit_transitions_total", target: target, "transition", transition.rawValue).increment()
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
            let timer = Timer(label: AttemptDurationHistogram.name, dimensions: [("target", target)])
            timers[target] = timer
            return timer
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The attempt latency histogram `relay_delivery_attempt_duration_seconds{target}`: its name and buckets, for the
/// metrics factory (`serve` gives them to swift-prometheus; docs/operations.md, "Metrics").
public enum AttemptDurationHistogram {
    /// The metric's name (a swift-metrics `Timer`, exported in seconds).
    public static let name = "relay_delivery_attempt_duration_seconds"
    /// Bucket upper bounds, 1 ms to 60 s: loopback answers land in the first buckets, attempts cut by a target's
    /// timeout (10 s by default) in the last ones.
    public static let buckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
}

/// The batch size histogram `relay_batch_records{target}`: the records of each batch attempt of a target with `batch`
/// (docs/operations.md, "Metrics"). Its name and buckets, for the metrics factory (`serve` gives them to
/// swift-prometheus as value histogram buckets).
public enum BatchRecordsHistogram {
    /// The metric's name (a swift-metrics `Recorder`).
    public static let name = "relay_batch_records"
    /// Bucket upper bounds, in records: 1 to 10,000 (`batch.maxRecords`' range).
    public static let buckets: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
}
