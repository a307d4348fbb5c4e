import Logging
import RelayCore
import RelayJetStream
import RelayLog
import ServiceLifecycle
import Testing

/// What the JetStream log promises beyond the contract: several relays on one set of streams, stream limits as
/// `.full`, an unreachable NATS as `.unavailable`. Each test runs its own real `nats-server -js` on loopback.
@Suite(.timeLimit(.minutes(2)))
struct JetStreamDeliveryLogTests {
    private static func open(_ server: NATSServer, maxPendingCount: Int64? = nil) async throws -> JetStreamDeliveryLog {
        try await JetStreamDeliveryLog.open(
            JetStreamConfiguration(servers: [server.url], maxPendingCount: maxPendingCount),
            logger: .quiet
        )
    }

    private static func delivery(_ id: String, target: String = "a") -> NewDelivery {
        NewDelivery(
            deliveryID: id,
            target: target,
            rule: "rule-1",
            payload: Array("payload-\(id)".utf8),
            createdAt: Timestamp(millisecondsSince1970: 1_000)
        )
    }

    private static let now = Timestamp(millisecondsSince1970: 2_000)

    @Test func twoRelaysShareOneConsumerAndAClosedRelaysHoldingsGoToTheOther() async throws {
        try await NATSServer.with { server in
            let first = try await Self.open(server)
            let second = try await Self.open(server)
            defer { Task { await second.close() } }
            _ = try await first.append(
                [RecordDeliveries(identity: nil, deliveries: (0..<4).map { Self.delivery("d\($0)") })],
                at: Self.now
            )
            let byFirst = try await first.claim(target: "a", now: Self.now, limit: 2)
            let bySecond = try await second.claim(target: "a", now: Self.now, limit: 10)
            #expect(byFirst.count == 2)
            #expect(bySecond.count == 2, "the second relay gets what the first did not take")
            #expect(Set(byFirst.map(\.deliveryID)).isDisjoint(with: bySecond.map(\.deliveryID)))
            #expect(try await second.claim(target: "a", now: Self.now, limit: 10).isEmpty)

            await first.close()  // naks what it held: the other relay takes it at once, not after the ack wait
            var taken: [PendingDelivery] = []
            for _ in 0..<50 where taken.count < 2 {
                taken += try await second.claim(target: "a", now: Self.now, limit: 10)
                if taken.count < 2 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(Set(taken.map(\.deliveryID)) == Set(byFirst.map(\.deliveryID)))
            for delivery in taken + bySecond { try await second.delivered(delivery) }
            #expect(try await second.pendingCount(target: "a") == 0)
        }
    }

    /// Running as a service, a relay keeps what it holds with progress acks: another relay does not get it after
    /// the ack wait. Once that relay stops, its holdings go to the other.
    @Test func aRunningRelayKeepsWhatItHoldsPastTheAckWait() async throws {
        try await NATSServer.with { server in
            let configuration = JetStreamConfiguration(
                servers: [server.url],
                // Progress acks go every third of the ack wait from a 2 s loop: 12 s leaves them 8 s of slack on a
                // loaded machine (6 s did not, once, in CI).
                targetSettings: { _ in JetStreamTargetSettings(ackWait: .seconds(12), maxAckPending: 100) }
            )
            let holder = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
            let other = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
            defer { Task { await other.close() } }
            _ = try await holder.append(
                [RecordDeliveries(identity: nil, deliveries: [Self.delivery("d1")])],
                at: Self.now
            )
            let held = try await holder.claim(target: "a", now: Self.now, limit: 1)
            #expect(held.map(\.deliveryID) == ["d1"])
            let group = ServiceGroup(
                configuration: .init(
                    services: [holder],
                    gracefulShutdownSignals: [],
                    cancellationSignals: [],
                    logger: .quiet
                )
            )
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let until = ContinuousClock.now + .seconds(26)
                var stolen: [PendingDelivery] = []
                while ContinuousClock.now < until && stolen.isEmpty {
                    stolen = try await other.claim(target: "a", now: Self.now, limit: 1)
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(stolen.isEmpty, "held past twice the ack wait, never handed to the other relay")
                await group.triggerGracefulShutdown()  // the holder closes: what it held is nak'd
                try await tasks.waitForAll()
            }
            var taken: [PendingDelivery] = []
            for _ in 0..<50 where taken.isEmpty {
                taken = try await other.claim(target: "a", now: Self.now, limit: 1)
                if taken.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(taken.map(\.deliveryID) == ["d1"])
        }
    }

    @Test func aResendThroughAnotherRelayIsADuplicate() async throws {
        try await NATSServer.with { server in
            let first = try await Self.open(server)
            let second = try await Self.open(server)
            defer {
                Task {
                    await first.close()
                    await second.close()
                }
            }
            let identity = ResendIdentity(["rq", "request-1", "sequencer-1"])
            let stored = try await first.append(
                [RecordDeliveries(identity: identity, deliveries: [Self.delivery("d1")])],
                at: Self.now
            )
            let resent = try await second.append(
                [RecordDeliveries(identity: identity, deliveries: [Self.delivery("d1")])],
                at: Self.now
            )
            #expect(stored != [.duplicate])
            #expect(resent == [.duplicate])
            #expect(try await second.pendingCount(target: "a") == 1)
        }
    }

    /// What makes a relay dying half way through an append harmless: deliveries stored before their resend identity
    /// are stored once when the sender's resend stores them again, because their `Nats-Msg-Id` (the delivery id) is
    /// within JetStream's duplicate window. Here the identity has left the window of the caller's clock (so the
    /// second append is not a resend) while the server's duplicate window still holds the delivery id.
    @Test func aDeliveryPublishedTwiceWithinTheDuplicateWindowIsStoredOnce() async throws {
        try await NATSServer.with { server in
            let log = try await JetStreamDeliveryLog.open(
                JetStreamConfiguration(
                    servers: [server.url],
                    resendWindow: ResendWindow(duration: .seconds(10), capacity: 100)
                ),
                logger: .quiet
            )
            defer { Task { await log.close() } }
            let identity = ResendIdentity(["id", "event-1"])
            let first = try await log.append(
                [
                    RecordDeliveries(
                        identity: identity,
                        deliveries: [Self.delivery("d1"), Self.delivery("d2", target: "b")]
                    )
                ],
                at: Timestamp(millisecondsSince1970: 1_000)
            )
            let second = try await log.append(
                [
                    RecordDeliveries(
                        identity: identity,
                        deliveries: [Self.delivery("d1"), Self.delivery("d2", target: "b")]
                    )
                ],
                at: Timestamp(millisecondsSince1970: 30_000)
            )
            #expect(second != [.duplicate], "past the caller's window: not a resend")
            #expect(first == second, "the same sequences: nothing new was stored")
            #expect(try await log.pendingCount(target: "a") == 1)
            #expect(try await log.pendingCount(target: "b") == 1)
            #expect(log.totals.pendingCount == 2)
        }
    }

    /// 20 concurrent identical requests spread over two relays: one append stores the record, the others are
    /// resends, and each target has one delivery.
    @Test func concurrentIdenticalAppendsOverTwoRelaysStoreOneDeliveryPerTarget() async throws {
        try await NATSServer.with { server in
            let relays = [try await Self.open(server), try await Self.open(server)]
            defer { Task { for relay in relays { await relay.close() } } }
            let identity = ResendIdentity(["rq", "request-1", "sequencer-1"])
            let record = RecordDeliveries(
                identity: identity,
                deliveries: [Self.delivery("event-1-a", target: "a"), Self.delivery("event-1-b", target: "b")]
            )
            let outcomes = try await withThrowingTaskGroup(of: [AppendOutcome].self) { group in
                for index in 0..<20 {
                    group.addTask { try await relays[index % 2].append([record], at: Self.now) }
                }
                var all: [AppendOutcome] = []
                for try await outcome in group { all += outcome }
                return all
            }
            #expect(outcomes.filter { $0 != .duplicate }.count == 1)
            #expect(outcomes.filter { $0 == .duplicate }.count == 19)
            #expect(try await relays[0].pendingCount(target: "a") == 1)
            #expect(try await relays[1].pendingCount(target: "b") == 1)
        }
    }

    @Test func aRetryCarriesItsAttemptsToAnotherRelay() async throws {
        try await NATSServer.with { server in
            let first = try await Self.open(server)
            let second = try await Self.open(server)
            defer {
                Task {
                    await first.close()
                    await second.close()
                }
            }
            _ = try await first.append(
                [RecordDeliveries(identity: nil, deliveries: [Self.delivery("d1")])],
                at: Self.now
            )
            let claimed = try #require(try await first.claim(target: "a", now: Self.now, limit: 1).first)
            try await first.retry(claimed, attempts: 4, at: Self.now, lastStatus: 502, lastError: "HTTP 502\r\nsplit")
            let again = try #require(try await second.claim(target: "a", now: Self.now, limit: 1).first)
            #expect(again.deliveryID == "d1")
            #expect(again.attempts == 4)
            #expect(again.lastStatus == 502)
            #expect(again.lastError == "HTTP 502 split", "a header value is one line")
            #expect(again.payload == claimed.payload)
            #expect(again.sequence != claimed.sequence, "a retry is a new message")
            #expect(try await second.pendingCount(target: "a") == 1)
        }
    }

    @Test func aFullStreamRefusesWithFullAndKeepsWhatItHas() async throws {
        try await NATSServer.with { server in
            let log = try await Self.open(server, maxPendingCount: 2)
            defer { Task { await log.close() } }
            _ = try await log.append(
                [RecordDeliveries(identity: nil, deliveries: [Self.delivery("d1"), Self.delivery("d2")])],
                at: Self.now
            )
            await #expect {
                try await log.append([RecordDeliveries(identity: nil, deliveries: [Self.delivery("d3")])], at: Self.now)
            } throws: { error in
                (error as? DeliveryLogError)?.code == .full
            }
            #expect(try await log.pendingCount(target: "a") == 2)
            #expect(await log.isWritable())
            #expect(log.maxMessageBytes == 1_048_576, "nats-server's default max_payload")
        }
    }

    /// A crash of a single NATS server (R1) loses nothing it acked a publish for, but it may bring back a message
    /// acked just before (nats-server 2.9 records a work-queue removal and a consumer's acks lazily), handed out again
    /// after the ack wait: at least once, never lost. Here the retried delivery's original may come back beside its
    /// copy; the copy keeps its attempts.
    @Test func whatWasAppendedSurvivesANATSCrashAndTheLogReconnectsByItself() async throws {
        try await NATSServer.with { server in
            // A short ack wait: a message whose ack the crash lost is handed out again after it.
            let configuration = JetStreamConfiguration(
                servers: [server.url],
                targetSettings: { _ in JetStreamTargetSettings(ackWait: .seconds(2), maxAckPending: 100) }
            )
            let log = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
            defer { Task { await log.close() } }
            _ = try await log.append(
                [RecordDeliveries(identity: nil, deliveries: (0..<3).map { Self.delivery("d\($0)") })],
                at: Self.now
            )
            let claimed = try #require(try await log.claim(target: "a", now: Self.now, limit: 1).first)
            try await log.retry(claimed, attempts: 1, at: Self.now, lastStatus: 503, lastError: "HTTP 503")

            try await server.crashAndRestart()
            var writable = false
            for _ in 0..<100 where !writable {
                try await Task.sleep(for: .milliseconds(100))
                writable = await log.isWritable()
            }
            #expect(writable, "the log reconnects to the restarted server by itself")
            let pending = try await log.pendingCount(target: "a")
            #expect((3...4).contains(pending), "the three deliveries, and perhaps the retried one's original")
            var again: [PendingDelivery] = []
            let complete = { (taken: [PendingDelivery]) in
                Set(taken.map(\.deliveryID)) == ["d0", "d1", "d2"]
                    && taken.contains { $0.deliveryID == claimed.deliveryID && $0.attempts == 1 }
            }
            for _ in 0..<100 where !complete(again) {
                again += try await log.claim(target: "a", now: Self.now, limit: 10)
                if !complete(again) { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(complete(again), "nothing appended is lost, and the retry's copy keeps its attempts")
            for delivery in again { try await log.delivered(delivery) }
            // What is left: a message whose ack the crash lost (handed out again after the ack wait), or one acked
            // before the crash that still sits in the stream, never handed out again (the consumer's ack floor is
            // past it), which a relay removes when it opens the consumer (and every minute).
            await log.close()
            let reopened = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
            defer { Task { await reopened.close() } }
            var left = try await reopened.pendingCount(target: "a")
            for _ in 0..<60 where left > 0 {
                for delivery in try await reopened.claim(target: "a", now: Self.now, limit: 10) {
                    #expect(delivery.deliveryID == claimed.deliveryID, "only the retried one can come twice")
                    try await reopened.delivered(delivery)
                }
                left = try await reopened.pendingCount(target: "a")
                if left > 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(left == 0)
        }
    }

    @Test func anUnreachableServerIsUnavailable() async throws {
        try await NATSServer.with { server in
            let url = server.url
            let log = try await Self.open(server)
            defer { Task { await log.close() } }
            #expect(await log.isWritable())
            await server.stop()
            #expect(!(await log.isWritable()), "/readyz fails while NATS is away")
            await #expect {
                try await log.append([RecordDeliveries(identity: nil, deliveries: [Self.delivery("d1")])], at: Self.now)
            } throws: { error in
                (error as? DeliveryLogError)?.code == .unavailable
            }
            await #expect {
                try await JetStreamDeliveryLog.open(JetStreamConfiguration(servers: [url]), logger: .quiet)
            } throws: { error in
                (error as? DeliveryLogError)?.code == .unavailable
            }
        }
    }
}
