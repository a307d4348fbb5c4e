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
        case claimAndNextDueAnswersLikeClaimThenNextDue
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
        case orderedDeliveriesOfOneKeyGoOneAtATimeInOrder
        case anEarlierPositionArrivingLateGoesFirst
        case aRetriedHeadKeepsItsPlaceAndBlocksItsKey
        case aDeadLetteredHeadLetsTheNextOfItsKeyGo
        case aReleasedHeadIsHandedOutAgainFirst
        case sequencersCompareAsNumbers
        case orderSurvivesReopening
        // Batches (docs/delivery.md, "Batches"); see DeliveryLogContract+Batch.swift.
        case aBatchFormsFromDueDeliveriesWithinItsLimits
        case aBatchThatIsNotFullWaitsForFormBefore
        case aRetriedBatchIsTheSameBatchAfterReopening
        case aDeliveredBatchRemovesEveryMember
        case aDeadLetteredBatchWritesOneLineAndRemovesEveryMember
        case aReleasedBatchStaysOneBatch
        case severalBatchesAreClaimedAtOnceInTheirOrder

        public var testDescription: String { rawValue }

        /// The cases of per-key ordering (docs/delivery.md, "Ordering"): only for a log that ``DeliveryLog/ordersByKey``.
        public static let ordering: Set<Case> = [
            .orderedDeliveriesOfOneKeyGoOneAtATimeInOrder, .anEarlierPositionArrivingLateGoesFirst,
            .aRetriedHeadKeepsItsPlaceAndBlocksItsKey, .aDeadLetteredHeadLetsTheNextOfItsKeyGo,
            .aReleasedHeadIsHandedOutAgainFirst, .sequencersCompareAsNumbers, .orderSurvivesReopening,
        ]
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
        case .claimAndNextDueAnswersLikeClaimThenNextDue:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, ["d1", "d2", "d3"].map { delivery($0, target: "a") })],
                at: t(1_000)
            )
            let later = try #require(try await log.claim(target: "a", now: t(1_000), limit: 1).first)
            try await log.retry(later, attempts: 1, at: t(9_000), lastStatus: 503, lastError: "HTTP 503")
            // Room for more than is due: both due deliveries, and the retried one's due time.
            let first = try await log.claimAndNextDue(target: "a", now: t(2_000), limit: 5)
            #expect(Set(first.claimed.map(\.deliveryID)) == Set(["d1", "d2", "d3"]).subtracting([later.deliveryID]))
            #expect(first.nextDue == t(9_000))
            // Everything due is claimed: nothing now, and look again by the same due time. Never later; a log may
            // say sooner (JetStream: the late answer of a fetch that arrives meanwhile is due at once, by wall clock).
            let second = try await log.claimAndNextDue(target: "a", now: t(2_000), limit: 5)
            #expect(second.claimed.isEmpty)
            #expect(second.nextDue.map { $0 <= t(9_000) } == true, "\(String(describing: second.nextDue))")
            let afterwards = try await log.nextDue(target: "a")
            #expect(afterwards.map { $0 <= t(9_000) } == true, "\(String(describing: afterwards))")
            // Once it is due, it is claimed, and nothing is left to wait for.
            let third = try await log.claimAndNextDue(target: "a", now: t(9_000), limit: 5)
            #expect(third.claimed.map(\.deliveryID) == [later.deliveryID])
            #expect(third.nextDue == (try await log.nextDue(target: "a")), "what nextDue answers right after")
            // Released, the first two are due again; a claim of one leaves the caller to look again at once.
            for delivery in first.claimed { log.release(delivery) }
            let fourth = try await log.claimAndNextDue(target: "a", now: t(9_000), limit: 1)
            #expect(fourth.claimed.count == 1)
            #expect(fourth.nextDue == nil)
            let fifth = try await log.claimAndNextDue(target: "a", now: t(9_000), limit: 5)
            #expect(fifth.claimed.count == 1)
            #expect(Set((fourth.claimed + fifth.claimed).map(\.deliveryID)) == Set(first.claimed.map(\.deliveryID)))
            #expect(fifth.nextDue == (try await log.nextDue(target: "a")), "what nextDue answers right after")
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
            .aDeadLetteredBatchWritesOneLineAndRemovesEveryMember, .aReleasedBatchStaysOneBatch,
            .severalBatchesAreClaimedAtOnceInTheirOrder:
            try await runBatchCase(testCase, on: open)
        default:
            try await runOrdering(testCase, on: open)
        }
    }

    /// The ordering cases: keys `k` and `l` of target `a`, positions `s…` as sequencers give them.
    private static func runOrdering(_ testCase: Case, on open: Factory) async throws {
        switch testCase {
        case .orderedDeliveriesOfOneKeyGoOneAtATimeInOrder:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            #expect(log.ordersByKey)
            _ = try await log.append(
                [
                    records(identity: nil, [ordered("k1", key: "k", "1"), ordered("l1", key: "l", "1")]),
                    records(identity: nil, [ordered("k2", key: "k", "2"), delivery("plain", target: "a")]),
                    records(identity: nil, [ordered("k3", key: "k", "3")]),
                ],
                at: t(1_000)
            )
            let first = try await log.claim(target: "a", now: t(2_000), limit: 10)
            #expect(Set(first.map(\.deliveryID)) == ["k1", "l1", "plain"], "one head per key, unordered ones all")
            #expect(try await log.claim(target: "a", now: t(2_000), limit: 10).isEmpty, "k2 waits for k1")
            #expect(try await log.nextDue(target: "a") == nil, "nothing can be handed out while the heads are out")
            #expect(try await log.pendingCount(target: "a") == 5, "waiting deliveries are pending")
            try await log.delivered(try #require(first.first { $0.deliveryID == "k1" }))
            let second = try await log.claim(target: "a", now: t(2_000), limit: 10)
            #expect(second.map(\.deliveryID) == ["k2"], "the next of k once k1 is delivered")
            try await log.delivered(try #require(second.first))
            #expect(try await log.claim(target: "a", now: t(2_000), limit: 10).map(\.deliveryID) == ["k3"])
        case .anEarlierPositionArrivingLateGoesFirst:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            // k5 arrives first and is handed out; k9 waits behind it; then k3 (earlier than both) arrives.
            _ = try await log.append([records(identity: nil, [ordered("k5", key: "k", "5")])], at: t(1_000))
            let k5 = try #require(try await log.claim(target: "a", now: t(1_000), limit: 10).first)
            _ = try await log.append([records(identity: nil, [ordered("k9", key: "k", "9")])], at: t(1_100))
            _ = try await log.append([records(identity: nil, [ordered("k3", key: "k", "3")])], at: t(1_200))
            #expect(try await log.claim(target: "a", now: t(2_000), limit: 10).isEmpty, "k5 is still out")
            #expect(try await log.nextDue(target: "a") == nil)
            try await log.retry(k5, attempts: 1, at: t(1_500), lastStatus: 503, lastError: "HTTP 503")
            let next = try await log.claim(target: "a", now: t(2_000), limit: 10)
            #expect(next.map(\.deliveryID) == ["k3"], "the lowest position among the pending goes first")
            try await log.delivered(try #require(next.first))
            let then = try await log.claim(target: "a", now: t(2_000), limit: 10)
            #expect(then.map(\.deliveryID) == ["k5"])
            #expect(then.first?.attempts == 1)
            try await log.delivered(try #require(then.first))
            #expect(try await log.claim(target: "a", now: t(2_000), limit: 10).map(\.deliveryID) == ["k9"])
        case .aRetriedHeadKeepsItsPlaceAndBlocksItsKey:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, [ordered("k1", key: "k", "1"), ordered("k2", key: "k", "2")])],
                at: t(1_000)
            )
            let k1 = try #require(try await log.claim(target: "a", now: t(1_000), limit: 10).first)
            #expect(k1.deliveryID == "k1")
            try await log.retry(k1, attempts: 1, at: t(6_000), lastStatus: 503, lastError: "HTTP 503")
            #expect(try await log.claim(target: "a", now: t(5_999), limit: 10).isEmpty, "k2 waits for k1's backoff")
            #expect(try await log.nextDue(target: "a") == t(6_000), "the head's due time, not k2's")
            let again = try await log.claim(target: "a", now: t(6_000), limit: 10)
            #expect(again.map(\.deliveryID) == ["k1"])
            #expect(again.first?.attempts == 1)
            try await log.delivered(try #require(again.first))
            #expect(try await log.claim(target: "a", now: t(6_000), limit: 10).map(\.deliveryID) == ["k2"])
        case .aDeadLetteredHeadLetsTheNextOfItsKeyGo:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, [ordered("k1", key: "k", "1"), ordered("k2", key: "k", "2")])],
                at: t(1_000)
            )
            let k1 = try #require(try await log.claim(target: "a", now: t(1_000), limit: 10).first)
            let letter = DeadLetter(
                time: t(1_500).iso8601,
                reason: .rejected,
                target: "a",
                deliveryID: "k1",
                attempts: 1,
                lastStatus: 400,
                payload: String(decoding: k1.payload, as: UTF8.self)
            )
            try await log.deadLetter(k1, letter)
            #expect(try await log.claim(target: "a", now: t(1_500), limit: 10).map(\.deliveryID) == ["k2"])
        case .aReleasedHeadIsHandedOutAgainFirst:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            _ = try await log.append(
                [records(identity: nil, [ordered("k1", key: "k", "1"), ordered("k2", key: "k", "2")])],
                at: t(1_000)
            )
            let k1 = try #require(try await log.claim(target: "a", now: t(1_000), limit: 10).first)
            log.release(k1)
            #expect(try await log.nextDue(target: "a") == t(1_000))
            let again = try await log.claim(target: "a", now: t(1_000), limit: 10)
            #expect(again.map(\.deliveryID) == ["k1"])
            #expect(again.first?.ordering == k1.ordering, "the ordering is handed out with the delivery")
        case .sequencersCompareAsNumbers:
            let log = try await open(.init())
            defer { Task { await log.close() } }
            // Hex of different lengths: 0x100 > 0xFF > 0x0000A, whatever their text says.
            for (index, sequencer) in ["100", "FF", "0000A", "ff0"].enumerated() {
                var delivery = delivery("k-\(sequencer)", target: "a")
                delivery.ordering = position(key: "k", sequencer: sequencer)
                _ = try await log.append([records(identity: nil, [delivery])], at: t(1_000 + Int64(index)))
            }
            var order: [String] = []
            for _ in 0..<4 {
                let claimed = try await log.claim(target: "a", now: t(2_000), limit: 10)
                #expect(claimed.count == 1)
                guard let head = claimed.first else { break }
                order.append(head.deliveryID)
                try await log.delivered(head)
            }
            #expect(order == ["k-0000A", "k-FF", "k-100", "k-ff0"])
        case .orderSurvivesReopening:
            let first = try await open(.init())
            _ = try await first.append(
                [records(identity: nil, [ordered("k2", key: "k", "2"), ordered("k1", key: "k", "1")])],
                at: t(1_000)
            )
            let out = try #require(try await first.claim(target: "a", now: t(1_000), limit: 10).first)
            #expect(out.deliveryID == "k1")
            await first.close()
            let second = try await open(.init())
            defer { Task { await second.close() } }
            let again = try await second.claim(target: "a", now: t(1_000), limit: 10)
            #expect(again.map(\.deliveryID) == ["k1"], "after a restart, still the head only")
            try await second.delivered(try #require(again.first))
            #expect(try await second.claim(target: "a", now: t(1_000), limit: 10).map(\.deliveryID) == ["k2"])
        default:
            Issue.record("\(testCase) is not an ordering case")
        }
    }

    /// The ordering of object `key` in bucket `bucket` at `sequencer`, as ingress makes it.
    private static func position(key: String, sequencer: String) -> DeliveryOrdering {
        DeliveryOrdering.of(
            EventRecord(
                eventName: "s3:ObjectCreated:Put",
                eventSource: "minio:s3",
                bucket: "bucket",
                key: key,
                sequencer: sequencer
            ),
            arrival: t(1_000)
        )
    }

    /// A delivery to target `a` of object `key` at sequencer `sequencer`.
    private static func ordered(_ id: String, key: String, _ sequencer: String) -> NewDelivery {
        var delivery = delivery(id, target: "a")
        delivery.ordering = position(key: key, sequencer: sequencer)
        return delivery
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
