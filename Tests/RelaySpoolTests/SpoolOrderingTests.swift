import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

/// The spool's side of per-key ordering (docs/delivery.md, "Ordering"): claims read each key's head through an
/// index, however many deliveries wait behind it.
@Suite(.timeLimit(.minutes(2)))
struct SpoolOrderingTests {
    static func ordered(_ id: String, key: String, sequencer: Int, at time: Timestamp = 1_000) -> NewDelivery {
        var delivery = NewDelivery.sample(id, at: time)
        let hex = String(sequencer, radix: 16, uppercase: true)
        delivery.ordering = DeliveryOrdering(
            key: DeliveryOrdering.objectKey(bucket: "photos", key: key),
            position: "s" + String(format: "%03d", hex.count) + hex
        )
        return delivery
    }

    /// Claims read the partial index `deliveries_ready` (see `SpoolTests.dueAndNextAttemptTimeUseTheTargetIndex`);
    /// appends and removals find a key's head with one seek.
    @Test func aKeysHeadIsFoundThroughTheOrderingIndex() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let headPlan = try await spool.queryPlan(Spool.orderedHeadSQL, arguments: ["a", "k"])
                .joined(separator: "; ")
            #expect(headPlan.contains("USING COVERING INDEX deliveries_ordering"), "\(headPlan)")
            #expect(!headPlan.contains("TEMP B-TREE"), "\(headPlan)")
            await spool.close()
        }
    }

    /// 20,000 deliveries of one key, appended in reverse order, and 100 of other keys: a claim hands out the 101
    /// heads only, and the backlog queued behind the first key's head is never read by a claim.
    @Test func aLongBacklogOfOneKeyIsNotReadByClaims() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try SQLiteDeliveryLog(directory: directory, logger: .quiet)
            let backlog = (0..<20_000).reversed().map { Self.ordered("k-\($0)", key: "busy", sequencer: $0) }
            let others = (0..<100).map { Self.ordered("o-\($0)", key: "other-\($0)", sequencer: 1) }
            _ = try await log.append([RecordDeliveries(identity: nil, deliveries: backlog + others)], at: 1_000)
            #expect(log.totals.pendingCount == 20_100)
            let started = ContinuousClock.now
            let claimed = try await log.claim(target: "thumbnailer", now: 2_000, limit: 1_000)
            let elapsed = ContinuousClock.now - started
            #expect(claimed.count == 101)
            #expect(claimed.filter { $0.deliveryID.hasPrefix("k-") }.map(\.deliveryID) == ["k-0"])
            #expect(try await log.claim(target: "thumbnailer", now: 2_000, limit: 1_000).isEmpty)
            #expect(try await log.nextDue(target: "thumbnailer") == nil)
            // Generous for a shared machine; reading the 20,000 rows would not be slower by much, so the plans above
            // are the real check, this one only catches a pathological regression.
            #expect(elapsed < .seconds(5), "\(elapsed)")
            for delivery in claimed { try await log.delivered(delivery) }
            let next = try await log.claim(target: "thumbnailer", now: 2_000, limit: 1_000)
            #expect(next.map(\.deliveryID) == ["k-1"])
            await log.close()
        }
    }

    @Test func unorderedDeliveriesOfTheSameTargetAreNotHeldBack() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try SQLiteDeliveryLog(directory: directory, logger: .quiet)
            _ = try await log.append(
                [
                    RecordDeliveries(
                        identity: nil,
                        deliveries: [
                            Self.ordered("k-1", key: "k", sequencer: 1), Self.ordered("k-2", key: "k", sequencer: 2),
                            .sample("p-1"), .sample("p-2"),
                        ]
                    )
                ],
                at: 1_000
            )
            let claimed = try await log.claim(target: "thumbnailer", now: 2_000, limit: 10)
            #expect(claimed.map(\.deliveryID) == ["k-1", "p-1", "p-2"])
            await log.close()
        }
    }
}
