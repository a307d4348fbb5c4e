import RelayCore
import RelayLog
import Testing

/// The behaviour every ``DeliveryLog`` implementation must show, written once and run against each of them
/// (docs/architecture.md, "The delivery log"). A test target calls ``run(_:on:)`` for each case with a factory that
/// opens the implementation on fresh storage.
///
/// The factory is called again by cases that check durability: each call must open the SAME storage (for SQLite,
/// the same directory), so what one opened log committed the next one sees.
public enum DeliveryLogContract {
    /// Opens a log on one storage; `window` is the resend window to use.
    public typealias Factory = @Sendable (_ window: ResendWindow) async throws -> any DeliveryLog

    /// The cases, by name (for `@Test(arguments:)`).
    public enum Case: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case appendsAndHandsOutDueDeliveriesEarliestFirst
        case claimedDeliveriesAreHandedOutOnce
        case releasedDeliveriesAreDueAgain
        case retryRecordsAttemptsAndDueTime
        case deliveredIsNoLongerPending
        case deadLetterWritesTheLetterAndRemovesTheDelivery
        case undecodableInputIsDeadLettered
        case aResendIsADuplicate
        case aResendInTheSameAppendIsADuplicate
        case concurrentIdenticalAppendsAppendOnce
        case aResendAfterReopeningIsADuplicate
        case identitiesOlderThanTheWindowAreForgotten
        case theOldestIdentitiesBeyondTheCapacityAreForgotten
        case pendingDeliveriesSurviveReopening
        case countsPendingPerTarget
        case reportsTheOldestPendingPerTarget
        case theTraceparentTravelsWithTheDelivery
        // Batches (docs/delivery.md, "Batches"); see DeliveryLogContract+Batch.swift.
        case aBatchFormsFromDueDeliveriesWithinItsLimits
        case aBatchThatIsNotFullWaitsForFormBefore
        case aRetriedBatchIsTheSameBatchAfterReopening
        case aDeliveredBatchRemovesEveryMember
        case aDeadLetteredBatchWritesOneLineAndRemovesEveryMember
        case aReleasedBatchStaysOneBatch

        public var testDescription: String { rawValue }
    }

    /// Runs one case against the log the factory opens.
    public static func run(_ testCase: Case, on open: Factory) async throws {
        switch testCase {
        case .appendsAndHandsOutDueDeliveriesEarliestFirst:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            let outcomes = try await log.append(
                [
                    records(identity: nil, [delivery("late", target: "a", due: 3_000)]),
                    records(identity: nil, [delivery("early", target: "a", due: 1_000), delivery("b1", target: "b")]),
                ],
                at: t(1_000)
            )
            #expect(outcomes.count == 2)
            let notYet = try await log.claim(target: "a", now: t(500), limit: 10)
            #expect(notYet.isEmpty, "nothing is due before its time")
            let due = try await log.claim(target: "a", now: t(5_000), limit: 10)
            #expect(due.map(\.deliveryID) == ["early", "late"])
            #expect(due.allSatisfy { $0.attempts == 0 && $0.target == "a" })
            #expect(due.first?.payload == Array("payload-early".utf8))
            let b = try await log.claim(target: "b", now: t(5_000), limit: 10)
            #expect(b.map(\.deliveryID) == ["b1"])
            #expect(log.totals.pendingCount == 3)
        case .claimedDeliveriesAreHandedOutOnce:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, (0..<5).map { delivery("d\($0)", target: "a") })],
                at: t(1_000)
            )
            let first = try await log.claim(target: "a", now: t(2_000), limit: 3)
            let second = try await log.claim(target: "a", now: t(2_000), limit: 10)
            #expect(first.count == 3)
            #expect(second.count == 2)
            #expect(Set(first.map(\.deliveryID)).isDisjoint(with: second.map(\.deliveryID)))
            #expect(try await log.claim(target: "a", now: t(2_000), limit: 10).isEmpty)
            #expect(try await log.nextDue(target: "a") == nil, "every delivery is claimed")
        case .releasedDeliveriesAreDueAgain:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append([records(identity: nil, [delivery("d", target: "a")])], at: t(1_000))
            let claimed = try await log.claim(target: "a", now: t(2_000), limit: 1)
            #expect(claimed.count == 1)
            log.release(try #require(claimed.first))
            let again = try await log.claim(target: "a", now: t(2_000), limit: 1)
            #expect(again == claimed)
        case .retryRecordsAttemptsAndDueTime:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append([records(identity: nil, [delivery("d", target: "a")])], at: t(1_000))
            let claimed = try #require(try await log.claim(target: "a", now: t(1_000), limit: 1).first)
            try await log.retry(claimed, attempts: 3, at: t(9_000), lastStatus: 503, lastError: "HTTP 503")
            #expect(try await log.claim(target: "a", now: t(8_999), limit: 1).isEmpty)
            #expect(try await log.nextDue(target: "a") == t(9_000))
            let retried = try #require(try await log.claim(target: "a", now: t(9_000), limit: 1).first)
            #expect(retried.deliveryID == "d")
            #expect(retried.attempts == 3)
            #expect(retried.lastStatus == 503)
            #expect(retried.lastError == "HTTP 503")
        case .deliveredIsNoLongerPending:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, [delivery("d1", target: "a"), delivery("d2", target: "a")])],
                at: t(1_000)
            )
            let claimed = try await log.claim(target: "a", now: t(1_000), limit: 1)
            try await log.delivered(try #require(claimed.first))
            #expect(log.totals.pendingCount == 1)
            let rest = try await log.claim(target: "a", now: t(99_000), limit: 10)
            #expect(rest.map(\.deliveryID) == ["d2"])
        case .deadLetterWritesTheLetterAndRemovesTheDelivery:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append([records(identity: nil, [delivery("d", target: "a")])], at: t(1_000))
            let claimed = try #require(try await log.claim(target: "a", now: t(1_000), limit: 1).first)
            let letter = DeadLetter(
                time: t(2_000).iso8601,
                reason: .exhausted,
                rule: claimed.rule,
                target: "a",
                deliveryID: "d",
                attempts: 6,
                lastStatus: 503,
                payload: String(decoding: claimed.payload, as: UTF8.self)
            )
            try await log.deadLetter(claimed, letter)
            #expect(log.totals.pendingCount == 0)
            #expect(try await log.claim(target: "a", now: t(99_000), limit: 10).isEmpty)
            let letters = try await log.recentDeadLetters(limit: 10)
            #expect(letters.last == letter)
        case .undecodableInputIsDeadLettered:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            let letter = DeadLetter(
                time: t(2_000).iso8601,
                reason: .undecodable,
                field: "Records[0].s3",
                detail: "missing",
                payload: "{}"
            )
            try await log.deadLetter([letter])
            #expect(try await log.recentDeadLetters(limit: 1) == [letter])
        case .aResendIsADuplicate:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            let identity = ResendIdentity(["rq", "request-1", "sequencer-1"])
            let first = try await log.append([records(identity: identity, [delivery("d1", target: "a")])], at: t(1_000))
            let second = try await log.append(
                [records(identity: identity, [delivery("d2", target: "a")])],
                at: t(2_000)
            )
            #expect(first.first != .duplicate)
            #expect(second == [.duplicate])
            #expect(log.totals.pendingCount == 1)
        case .aResendInTheSameAppendIsADuplicate:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            let identity = ResendIdentity(["id", "event-1"])
            let outcomes = try await log.append(
                [
                    records(identity: identity, [delivery("d1", target: "a")]),
                    records(identity: identity, [delivery("d2", target: "a")]),
                    records(identity: nil, [delivery("d3", target: "a")]),
                ],
                at: t(1_000)
            )
            #expect(outcomes.count == 3)
            #expect(outcomes[1] == .duplicate)
            #expect(outcomes[0] != .duplicate && outcomes[2] != .duplicate)
            #expect(log.totals.pendingCount == 2)
        case .concurrentIdenticalAppendsAppendOnce:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            let identity = ResendIdentity(["rq", "request-1", "sequencer-1"])
            let outcomes = try await withThrowingTaskGroup(of: [AppendOutcome].self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await log.append(
                            [records(identity: identity, [delivery("d\(index)", target: "a")])],
                            at: t(1_000)
                        )
                    }
                }
                var all: [AppendOutcome] = []
                for try await outcome in group { all.append(contentsOf: outcome) }
                return all
            }
            #expect(outcomes.filter { $0 != .duplicate }.count == 1)
            #expect(outcomes.filter { $0 == .duplicate }.count == 19)
            #expect(log.totals.pendingCount == 1)
        case .aResendAfterReopeningIsADuplicate:
            let identity = ResendIdentity(["id", "event-1"])
            let first = try await open(.init())
            _ = try await first.append([records(identity: identity, [delivery("d1", target: "a")])], at: t(1_000))
            await first.close()
            let second = try await open(.init())
            defer { Task { await second.close() } }
            #expect(second.totals.resendIdentities == 1)
            let again = try await second.append(
                [records(identity: identity, [delivery("d2", target: "a")])],
                at: t(5_000)
            )
            #expect(again == [.duplicate])
        case .identitiesOlderThanTheWindowAreForgotten:
            let log = try await open(ResendWindow(duration: .seconds(10), capacity: 1_000))
            defer { Task { await log.close() } }
            let identity = ResendIdentity(["id", "event-1"])
            _ = try await log.append([records(identity: identity, [delivery("d1", target: "a")])], at: t(1_000))
            let within = try await log.append(
                [records(identity: identity, [delivery("d2", target: "a")])],
                at: t(11_000)
            )
            #expect(within == [.duplicate], "10 s after: still within the window")
            let after = try await log.append(
                [records(identity: identity, [delivery("d3", target: "a")])],
                at: t(11_001)
            )
            #expect(after != [.duplicate], "past the window the same identity is a new event")
            // Pruned as the window moves: an unrelated append much later forgets both.
            _ = try await log.append(
                [records(identity: ResendIdentity(["other"]), [delivery("d4", target: "a")])],
                at: t(60_000)
            )
            #expect(log.totals.resendIdentities == 1)
        case .theOldestIdentitiesBeyondTheCapacityAreForgotten:
            let log = try await open(ResendWindow(duration: .seconds(3600), capacity: 10))
            defer { Task { await log.close() } }
            for index in 0..<30 {
                _ = try await log.append(
                    [records(identity: ResendIdentity(["id", "\(index)"]), [delivery("d\(index)", target: "a")])],
                    at: t(1_000 + Int64(index))
                )
            }
            #expect(log.totals.resendIdentities <= 10)
            let newest = try await log.append(
                [records(identity: ResendIdentity(["id", "29"]), [delivery("again-29", target: "a")])],
                at: t(2_000)
            )
            #expect(newest == [.duplicate], "the newest identity is kept")
            let oldest = try await log.append(
                [records(identity: ResendIdentity(["id", "0"]), [delivery("again-0", target: "a")])],
                at: t(2_000)
            )
            #expect(oldest != [.duplicate], "the oldest identity was forgotten")
        case .pendingDeliveriesSurviveReopening:
            let first = try await open(.init())
            _ = try await first.append(
                [records(identity: nil, [delivery("d1", target: "a"), delivery("d2", target: "b")])],
                at: t(1_000)
            )
            let claimed = try #require(try await first.claim(target: "a", now: t(1_000), limit: 1).first)
            try await first.retry(claimed, attempts: 2, at: t(4_000), lastStatus: nil, lastError: "timeout")
            await first.close()
            let second = try await open(.init())
            defer { Task { await second.close() } }
            #expect(second.totals.pendingCount == 2)
            #expect(try await second.pendingTargets() == ["a", "b"])
            let again = try #require(try await second.claim(target: "a", now: t(4_000), limit: 1).first)
            #expect(again.deliveryID == "d1")
            #expect(again.attempts == 2)
        case .countsPendingPerTarget:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [
                    records(
                        identity: nil,
                        [delivery("a1", target: "a"), delivery("a2", target: "a"), delivery("b1", target: "b")]
                    )
                ],
                at: t(1_000)
            )
            _ = try await log.claim(target: "a", now: t(1_000), limit: 1)
            #expect(try await log.pendingCount(target: "a") == 2, "claimed deliveries are still pending")
            #expect(try await log.pendingCount(target: "b") == 1)
            #expect(try await log.pendingCount(target: "c") == 0)
            #expect(log.totals.pendingBytes == Int64("payload-a1payload-a2payload-b1".utf8.count))
        case .reportsTheOldestPendingPerTarget:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [
                    records(
                        identity: nil,
                        [
                            delivery("a1", target: "a", created: 2_000, due: 9_000),
                            delivery("a2", target: "a", created: 3_000, due: 2_000),
                            delivery("b1", target: "b", created: 5_000),
                        ]
                    )
                ],
                at: t(5_000)
            )
            #expect(try await log.oldestPending(target: "a") == t(2_000), "by creation, not by due time")
            #expect(try await log.oldestPending(target: "b") == t(5_000))
            #expect(try await log.oldestPending(target: "c") == nil)
            let a2 = try #require(try await log.claim(target: "a", now: t(5_000), limit: 1).first)
            #expect(try await log.oldestPending(target: "a") == t(2_000), "claimed deliveries are still pending")
            try await log.delivered(a2)
            let a1 = try #require(try await log.claim(target: "a", now: t(9_000), limit: 1).first)
            try await log.delivered(a1)
            #expect(try await log.oldestPending(target: "a") == nil)
        case .theTraceparentTravelsWithTheDelivery:
            // Attempts continue the event's trace however late they happen: after a retry, after reopening.
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let expected = ["traced": traceparent, "plain": "none"]
            func traceparents(_ deliveries: [PendingDelivery]) -> [String: String] {
                Dictionary(
                    deliveries.map { ($0.deliveryID, $0.traceparent ?? "none") },
                    uniquingKeysWith: { a, _ in a }
                )
            }
            let first = try await open(.init())
            var traced = delivery("traced", target: "a")
            traced.traceparent = traceparent
            _ = try await first.append(
                [records(identity: nil, [traced, delivery("plain", target: "a")])],
                at: t(1_000)
            )
            let claimed = try await first.claim(target: "a", now: t(1_000), limit: 10)
            #expect(traceparents(claimed) == expected, "stored as given, none when none was given")
            for delivery in claimed {
                try await first.retry(delivery, attempts: 1, at: t(2_000), lastStatus: 500, lastError: "HTTP 500")
            }
            let retried = try await first.claim(target: "a", now: t(2_000), limit: 10)
            #expect(traceparents(retried) == expected, "a retry keeps the traceparent")
            for delivery in retried {
                try await first.retry(delivery, attempts: 2, at: t(3_000), lastStatus: nil, lastError: "timeout")
            }
            await first.close()
            let second = try await open(.init())
            defer { Task { await second.close() } }
            let reopened = try await second.claim(target: "a", now: t(3_000), limit: 10)
            #expect(traceparents(reopened) == expected, "the traceparent survives reopening")
            #expect(reopened.map(\.attempts) == [2, 2])
        case .aBatchFormsFromDueDeliveriesWithinItsLimits, .aBatchThatIsNotFullWaitsForFormBefore,
            .aRetriedBatchIsTheSameBatchAfterReopening, .aDeliveredBatchRemovesEveryMember,
            .aDeadLetteredBatchWritesOneLineAndRemovesEveryMember, .aReleasedBatchStaysOneBatch:
            try await runBatchCase(testCase, on: open)
        }
    }

    private static func t(_ milliseconds: Int64) -> Timestamp {
        Timestamp(millisecondsSince1970: milliseconds)
    }

    private static func delivery(
        _ id: String,
        target: String,
        created: Int64 = 1_000,
        due: Int64 = 1_000
    ) -> NewDelivery {
        NewDelivery(
            deliveryID: id,
            target: target,
            rule: "rule-1",
            payload: Array("payload-\(id)".utf8),
            createdAt: t(created),
            nextAttemptAt: t(due)
        )
    }

    private static func records(identity: ResendIdentity?, _ deliveries: [NewDelivery]) -> RecordDeliveries {
        RecordDeliveries(identity: identity, deliveries: deliveries)
    }
}
