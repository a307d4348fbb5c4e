import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

/// The spool's batch operations (docs/delivery.md, "Batches"), on a real SQLite file.
@Suite(.timeLimit(.minutes(1)))
struct SpoolBatchTests {
    @Test func theBatchReadsUseTheirIndexes() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let scan = try await spool.queryPlan(Spool.batchScanSQL, arguments: ["a", "0"]).joined(separator: "; ")
            #expect(scan.contains("USING INDEX deliveries_target_next_attempt_at"), "\(scan)")
            #expect(!scan.contains("TEMP B-TREE"), "\(scan)")
            let members = try await spool.queryPlan(Spool.batchRowsSQL, arguments: ["msg_x"]).joined(separator: "; ")
            #expect(members.contains("deliveries_batch_id"), "\(members)")
            await spool.close()
        }
    }

    @Test func aFormedBatchIsFoundAgainAfterReopeningAndItsRemovalKeepsTheCounters() async throws {
        try await TemporaryDirectory.with { directory in
            var spool = try Spool(directory: directory, logger: .quiet)
            let rows = try await spool.enqueue((0..<5).map { .sample("d\($0)", target: "a", payloadSize: 40) })
            let candidate = try await spool.batchCandidate(
                target: "a",
                now: 2_000,
                maxRecords: 3,
                maxBytes: 1 << 20,
                formBefore: 0,
                excluding: []
            )
            guard case .new(let gathered) = candidate else {
                Issue.record("expected a new batch of three (full), found \(String(describing: candidate))")
                return
            }
            #expect(gathered.map(\.deliveryID) == ["d0", "d1", "d2"], "full at maxRecords, so formed at once")
            let commits = spool.commitCount
            try await spool.formBatch("msg_batch", rowIDs: gathered.map(\.sequence))
            #expect(spool.commitCount == commits + 1)
            await spool.close()

            spool = try Spool(directory: directory, logger: .quiet)
            let again = try await spool.batchCandidate(
                target: "a",
                now: 2_000,
                maxRecords: 10,
                maxBytes: 1 << 20,
                formBefore: 0,
                excluding: []
            )
            #expect(again == .formed(batchID: "msg_batch", rows: Array(rows.prefix(3))), "the same rows, stored")
            #expect(spool.pendingCount == 5)
            #expect(spool.pendingBytes == 200)
            try await spool.complete(rowIDs: gathered.map(\.sequence))
            #expect(spool.pendingCount == 2)
            #expect(spool.pendingBytes == 80)
            let rest = try await spool.batchCandidate(
                target: "a",
                now: 2_000,
                maxRecords: 10,
                maxBytes: 1 << 20,
                formBefore: 0,
                excluding: []
            )
            #expect(rest == nil, "two rows, not full, not waited long enough")
            await spool.close()
        }
    }

    @Test func severalBatchesComeFromOneScanAndFormInOneCommit() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let rows = try await spool.enqueue((0..<11).map { .sample("d\($0)", target: "a", payloadSize: 40) })
            // d0 and d1 were formed into a batch earlier (a retry due again); d2 is held by a batch in flight.
            try await spool.formBatch("msg_earlier", rowIDs: rows[0..<2].map(\.sequence))
            let candidates = try await spool.batchCandidates(
                target: "a",
                now: 2_000,
                maxRecords: 3,
                maxBytes: 1 << 20,
                formBefore: 0,
                excluding: [rows[2].sequence],
                limit: 10
            )
            #expect(
                candidates == [
                    .formed(batchID: "msg_earlier", rows: Array(rows[0..<2])),
                    .new(rows: Array(rows[3..<6])), .new(rows: Array(rows[6..<9])),
                ],
                "the formed batch, then the full gatherings; d9 and d10 wait (not full, not waited long enough)"
            )
            let limited = try await spool.batchCandidates(
                target: "a",
                now: 2_000,
                maxRecords: 3,
                maxBytes: 1 << 20,
                formBefore: 2_000,
                excluding: [rows[2].sequence],
                limit: 2
            )
            #expect(limited == Array(candidates.prefix(2)), "at most `limit`, in the same order")
            let waited = try await spool.batchCandidates(
                target: "a",
                now: 2_000,
                maxRecords: 3,
                maxBytes: 1 << 20,
                formBefore: 2_000,
                excluding: [rows[2].sequence],
                limit: 10
            )
            #expect(waited.last == .new(rows: Array(rows[9..<11])), "waited long enough: the short batch goes too")

            let commits = spool.commitCount
            try await spool.formBatches([
                ("msg_x", rows[3..<6].map(\.sequence)), ("msg_y", rows[6..<9].map(\.sequence)),
            ])
            #expect(spool.commitCount == commits + 1, "one commit (one fsync) forms both")
            let after = try await spool.batchCandidates(
                target: "a",
                now: 2_000,
                maxRecords: 3,
                maxBytes: 1 << 20,
                formBefore: 0,
                excluding: Set(rows[0..<3].map(\.sequence)),
                limit: 10
            )
            #expect(
                after == [
                    .formed(batchID: "msg_x", rows: Array(rows[3..<6])),
                    .formed(batchID: "msg_y", rows: Array(rows[6..<9])),
                ]
            )
            await spool.close()
        }
    }
}
