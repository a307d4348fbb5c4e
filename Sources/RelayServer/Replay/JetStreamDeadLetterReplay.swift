import Foundation
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog

/// Replays the dead letters of the JetStream dead-letters stream (`RELAY_DEADLETTERS`): each selected one is appended
/// again to its target's pending deliveries through the JetStream delivery log, then removed from the stream; the
/// relays serving on the same NATS deliver it, with retries and the circuit breaker like any delivery
/// (docs/delivery.md, "Replay").
///
/// Guarantees:
/// - A dead letter leaves the stream only after its delivery is stored (PubAck); a replay that dies in between and
///   runs again stores that delivery once (its message id is derived from the dead letter's sequence).
/// - The delivery keeps its id, so its `webhook-id` is the one the target saw before.
/// - A line is re-queued only for a target of the loaded rules; the others stay, counted as unsendable.
/// - Dead letters written meanwhile (by running relays) are kept unless the filter selects them when they are read.
public struct JetStreamDeadLetterReplay: Sendable {
    /// The delivery log on JetStream, opened without creating or updating streams.
    public let log: JetStreamDeliveryLog
    /// The rules in force: which targets exist.
    public let rules: RuleSet
    /// Dead letters read per request round.
    public var pageSize = 256

    public init(log: JetStreamDeliveryLog, rules: RuleSet) {
        self.log = log
        self.rules = rules
    }

    /// The dead letters a replay with `filter` would consider, without changing anything: (selected, total).
    /// - Throws: ``DeliveryLogError`` when the stream cannot be read.
    public func count(_ filter: DeadLetterReplay.Filter) async throws -> (selected: Int, total: Int) {
        var selected = 0
        var total = 0
        try await forEach { entry in
            total += 1
            if DeadLetterReplay.selected(entry.letter, filter) { selected += 1 }
        }
        return (selected, total)
    }

    /// Runs one replay.
    /// - Parameters:
    ///   - filter: which dead letters (`--target`, `--rule`, `--since`).
    ///   - dryRun: report what would be re-queued, change nothing.
    ///   - report: called for each selected dead letter, in stream order.
    /// - Returns: the counts (`sent`: re-queued and removed).
    /// - Throws: ``DeliveryLogError`` when the stream cannot be read or the deliveries stream refuses (full, NATS
    ///   away): dead letters re-queued so far stay re-queued, the rest stay.
    public func run(
        _ filter: DeadLetterReplay.Filter,
        dryRun: Bool,
        report: (DeadLetterReplay.Event) -> Void
    ) async throws -> DeadLetterReplay.Summary {
        var summary = DeadLetterReplay.Summary()
        var selected: [(JetStreamDeadLetter, DeadLetter, Target)] = []
        // Read first, then re-queue: what is appended meanwhile is not seen twice.
        try await forEach { entry in
            if let (letter, target) = DeadLetterReplay.toSend(entry.letter, filter, rules, dryRun, &summary, report) {
                selected.append((entry, letter, target))
            }
        }
        for (entry, letter, target) in selected {
            let now = Timestamp.now()
            var delivery = NewDelivery(
                deliveryID: letter.deliveryID ?? DeliveryID.make(),
                target: target.name,
                rule: letter.rule ?? "",
                payload: Array(letter.payload.utf8),
                createdAt: now
            )
            // The replayed delivery continues the event's trace.
            delivery.traceparent = letter.traceparent
            try await log.requeue(entry, as: delivery)
            summary.sent += 1
            report(.requeued(deliveryID: delivery.deliveryID, target: target.name))
        }
        return summary
    }

    private func forEach(_ body: (JetStreamDeadLetter) throws -> Void) async throws {
        var next: UInt64? = 0
        while let from = next {
            let page = try await log.deadLetters(from: from, limit: pageSize)
            for entry in page.letters { try body(entry) }
            next = page.next
        }
    }
}
