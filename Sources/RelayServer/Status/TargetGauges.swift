import Metrics
import RelayCore
import RelayDelivery
import RelayLog
import Synchronization

/// Per-target gauges published before `/metrics` is rendered, from the same reads as the status page
/// (docs/operations.md, "Metrics"): a consumer-style view of each target's backlog and health.
///
/// - `relay_target_pending_deliveries{target}`: pending deliveries, claimed ones included.
/// - `relay_target_oldest_pending_age_seconds{target}`: the age of the oldest pending delivery (0 when none).
/// - `relay_target_circuit_state{target,state}`: 1 for the target's circuit state (`closed`, `half_open`, `open`),
///   0 for the other two.
///
/// Labels are bounded: targets come from the rules in force and the delivery log, states are three.
final class TargetGauges: Sendable {
    static let states = ["closed", "half_open", "open"]
    private let gauges = Mutex<[String: Gauge]>([:])

    /// Reads the log and the circuit breakers and records every gauge.
    func update(relay: Relay, now: Timestamp = .now()) async {
        let log: any DeliveryLog = relay.log
        let circuits = relay.delivery.circuitStates()
        var names = Set(relay.rules.current.targets.map(\.name))
        names.formUnion(circuits.keys)
        if let pending = try? await log.pendingTargets() { names.formUnion(pending) }
        for name in names.sorted() {
            guard let pending = try? await log.pendingCount(target: name) else { continue }
            gauge("relay_target_pending_deliveries", [("target", name)]).record(pending)
            var age: Int64 = 0
            if pending > 0, let oldest = try? await log.oldestPending(target: name) {
                age = max(0, (now.millisecondsSince1970 - oldest.millisecondsSince1970) / 1000)
            }
            gauge("relay_target_oldest_pending_age_seconds", [("target", name)]).record(age)
            let state = circuits[name] ?? "closed"
            for candidate in Self.states {
                gauge("relay_target_circuit_state", [("target", name), ("state", candidate)])
                    .record(candidate == state ? 1 : 0)
            }
        }
    }

    /// The gauge `label{dimensions}`, made once and kept.
    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
        let key = ([label] + dimensions.map { $0.0 + "=" + $0.1 }).joined(separator: "\u{0}")
        return gauges.withLock { gauges -> Gauge in
            if let gauge = gauges[key] { return gauge }
            let gauge = Gauge(label: label, dimensions: dimensions)
            gauges[key] = gauge
            return gauge
        }
    }
}
