import RelayCore
import RelayLog
import Testing

// The batch cases of the contract (docs/delivery.md, "Batches"). A log that forms no batches
// (`supportsBatches == false`) must hand out batches of one delivery under the delivery's own id instead.
extension DeliveryLogContract {
    static func runBatchCase(_ testCase: Case, on open: Factory) async throws {
        let log = try await open(.init())
        var closed = false
        defer { if !closed { Task { await log.close() } } }
        // Ten deliveries of target "a", due at 1, 2, ... 10 s; each payload {"Records":[{"n":<i>}]} (22 or 23 bytes).
        let ids = (1...10).map { "m\($0)" }
        _ = try await log.append(
            [
                RecordDeliveries(
                    identity: nil,
                    deliveries: ids.enumerated().map { index, id in member(id, due: Int64(index + 1) * 1_000) }
                )
            ],
            at: time(1_000)
        )
        guard log.supportsBatches else {
            let batch = try #require(
                try await log.claimBatch(
                    target: "a",
                    now: time(99_000),
                    maxRecords: 5,
                    maxBytes: 1 << 20,
                    formBefore: time(99_000)
                )
            )
            #expect(batch.members.map(\.deliveryID) == ["m1"], "a batch of one delivery")
            #expect(batch.batchID == "m1", "under the delivery's own id")
            try await log.delivered(batch)
            #expect(log.totals.pendingCount == 9)
            return
        }
        switch testCase {
        case .aBatchFormsFromDueDeliveriesWithinItsLimits:
            let notDue = try await log.claimBatch(
                target: "a",
                now: time(500),
                maxRecords: 4,
                maxBytes: 1 << 20,
                formBefore: time(500)
            )
            #expect(notDue == nil, "nothing is due before its time")
            let first = try #require(try await claim(log, now: 99_000, maxRecords: 4))
            #expect(first.members.map(\.deliveryID) == ["m1", "m2", "m3", "m4"], "earliest first, maxRecords")
            #expect(first.batchID == PendingBatch.id(members: ["m1", "m2", "m3", "m4"]))
            #expect(first.batchID.hasPrefix("msg_") && first.batchID.utf8.count == 36)
            // {"Records":[ + records of 7 bytes ({"n":5}) joined by commas + ]}: 3 take 37 bytes, 4 would take 45.
            let second = try #require(try await claim(log, now: 99_000, maxRecords: 10, maxBytes: 40))
            #expect(second.members.map(\.deliveryID) == ["m5", "m6", "m7"], "no more than fit in maxBytes")
            let body = PayloadBuilder.batchBody(second.members.map(\.payload))
            #expect(body.count <= 40)
            #expect(body == Array(#"{"Records":[{"n":5},{"n":6},{"n":7}]}"#.utf8))
            let tiny = try #require(try await claim(log, now: 99_000, maxRecords: 10, maxBytes: 1))
            #expect(tiny.members.map(\.deliveryID) == ["m8"], "a delivery bigger than maxBytes goes alone")
            #expect(try await claim(log, now: 99_000, maxRecords: 10)?.members.map(\.deliveryID) == ["m9", "m10"])
            #expect(try await claim(log, now: 99_000, maxRecords: 10) == nil, "every delivery is claimed")
        case .aBatchThatIsNotFullWaitsForFormBefore:
            // At 10 s all ten are due; a batch of 20 is not full, and its earliest was due at 1 s.
            #expect(try await claim(log, now: 10_000, maxRecords: 20, formBefore: 999) == nil, "waits to fill")
            let formed = try #require(try await claim(log, now: 10_000, maxRecords: 20, formBefore: 1_000))
            #expect(formed.members.count == 10, "sent once its earliest has waited maxWait")
        case .aRetriedBatchIsTheSameBatchAfterReopening:
            let batch = try #require(try await claim(log, now: 3_500, maxRecords: 3))
            #expect(batch.members.map(\.deliveryID) == ["m1", "m2", "m3"])
            try await log.retry(batch, attempts: 1, at: time(200_000), lastStatus: 503, lastError: "HTTP 503")
            #expect(try await claim(log, now: 3_999, maxRecords: 10) == nil, "a retried batch waits for its time")
            await log.close()
            closed = true
            let reopened = try await open(.init())
            defer { Task { await reopened.close() } }
            #expect(try await reopened.nextDue(target: "a") == time(4_000))
            let later = try #require(
                try await reopened.claimBatch(
                    target: "a",
                    now: time(200_000),
                    maxRecords: 10,
                    maxBytes: 1 << 20,
                    formBefore: time(200_000)
                )
            )
            #expect(later.batchID == batch.batchID, "the same id")
            #expect(later.members.map(\.deliveryID) == ["m1", "m2", "m3"], "the same members, not ten")
            #expect(later.members.map(\.payload) == batch.members.map(\.payload))
            #expect(later.attempts == 1)
            #expect(later.lastStatus == 503)
            #expect(later.lastError == "HTTP 503")
        case .aDeliveredBatchRemovesEveryMember:
            let batch = try #require(try await claim(log, now: 99_000, maxRecords: 6))
            try await log.delivered(batch)
            #expect(log.totals.pendingCount == 4)
            #expect(try await log.pendingCount(target: "a") == 4)
            let rest = try await log.claim(target: "a", now: time(99_000), limit: 10)
            #expect(rest.map(\.deliveryID) == ["m7", "m8", "m9", "m10"])
        case .aDeadLetteredBatchWritesOneLineAndRemovesEveryMember:
            let batch = try #require(try await claim(log, now: 99_000, maxRecords: 2))
            let body = PayloadBuilder.batchBody(batch.members.map(\.payload))
            let letter = DeadLetter(
                time: time(99_000).iso8601,
                reason: .rejected,
                rule: batch.rule,
                target: "a",
                deliveryID: batch.batchID,
                attempts: 1,
                lastStatus: 400,
                members: batch.members.map(\.deliveryID),
                payload: String(decoding: body, as: UTF8.self)
            )
            try await log.deadLetter(batch, letter)
            #expect(log.totals.pendingCount == 8)
            let letters = try await log.recentDeadLetters(limit: 10)
            #expect(letters == [letter], "one line for the batch")
            #expect(letters.first?.members == ["m1", "m2"])
            #expect(letters.first?.payload == #"{"Records":[{"n":1},{"n":2}]}"#)
        case .aReleasedBatchStaysOneBatch:
            let batch = try #require(try await claim(log, now: 99_000, maxRecords: 2))
            log.release(batch)
            let again = try #require(try await claim(log, now: 99_000, maxRecords: 10))
            #expect(again == batch, "the same batch, not a bigger one")
        case .severalBatchesAreClaimedAtOnceInTheirOrder:
            let first = try await claimMany(log, limit: 2, maxRecords: 3)
            #expect(first.map { $0.members.map(\.deliveryID) } == [["m1", "m2", "m3"], ["m4", "m5", "m6"]])
            #expect(first.map(\.batchID) == [["m1", "m2", "m3"], ["m4", "m5", "m6"]].map(PendingBatch.id(members:)))
            let rest = try await claimMany(log, limit: 5, maxRecords: 3)
            #expect(
                rest.map { $0.members.map(\.deliveryID) } == [["m7", "m8", "m9"], ["m10"]],
                "none of the held ones; the short last batch once its earliest has waited (formBefore is now)"
            )
            #expect(try await claimMany(log, limit: 5, maxRecords: 3).isEmpty, "every delivery is claimed")
            log.release(first[0])
            #expect(try await claimMany(log, limit: 5, maxRecords: 10) == [first[0]], "a released batch stays one")
            try await log.delivered(first[1])
            #expect(log.totals.pendingCount == 7)
        default:
            Issue.record("not a batch case: \(testCase)")
        }
    }

    private static func claim(
        _ log: any DeliveryLog,
        now: Int64,
        maxRecords: Int,
        maxBytes: Int = 1 << 20,
        formBefore: Int64? = nil
    ) async throws -> PendingBatch? {
        try await log.claimBatch(
            target: "a",
            now: time(now),
            maxRecords: maxRecords,
            maxBytes: maxBytes,
            formBefore: time(formBefore ?? now)
        )
    }

    private static func claimMany(_ log: any DeliveryLog, limit: Int, maxRecords: Int) async throws -> [PendingBatch] {
        try await log.claimBatches(
            target: "a",
            now: time(99_000),
            maxRecords: maxRecords,
            maxBytes: 1 << 20,
            formBefore: time(99_000),
            limit: limit
        )
    }

    private static func time(_ milliseconds: Int64) -> Timestamp {
        Timestamp(millisecondsSince1970: milliseconds)
    }

    private static func member(_ id: String, due: Int64) -> NewDelivery {
        NewDelivery(
            deliveryID: id,
            target: "a",
            rule: "rule-1",
            payload: Array(#"{"Records":[{"n":\#(id.dropFirst())}]}"#.utf8),
            createdAt: time(1_000),
            nextAttemptAt: time(due)
        )
    }
}
