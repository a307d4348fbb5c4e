import CNats
import Dispatch
import Foundation
import Logging
import RelayCore
import RelayLog
import ServiceLifecycle
import Synchronization

/// The delivery log on NATS JetStream, shared by any number of relays (docs/architecture.md, "The delivery log").
///
/// Three streams, created or updated at open (idempotent, ``JetStreamConfiguration/replicas`` replicas):
/// - `RELAY_DELIVERIES`, subjects `relay.deliveries.<target>`, work-queue retention, discard new at the limits
///   (``JetStreamConfiguration/maxPendingCount``, ``JetStreamConfiguration/maxPendingBytes``): one message per
///   pending delivery, its bytes the payload, its headers the delivery's fields (`Relay-Delivery-Id`, `Relay-Target`,
///   `Relay-Rule`, `Relay-Created-At`, `Relay-Next-Attempt-At`, `Relay-Attempts`, `Relay-Last-Status`,
///   `Relay-Last-Error`, `Relay-Traceparent`; instants in milliseconds since 1970). Each target has one durable
///   pull consumer (`RELAY_DELIVER_<target>`) that every relay fetches from.
/// - `RELAY_DEADLETTERS`, subject `relay.deadletters`, kept: one JSON dead-letter line per message.
/// - `RELAY_IDENTITIES`, subjects `relay.identities.<32 hex digits>`, one message per resend identity (the
///   newest per subject), `MaxAge` the resend window and `MaxMsgs` its capacity.
///
/// **Resend identities, cluster-wide.** An identity is remembered as a marker message on its own subject, stamped
/// with the append's `now` (`Relay-At`). Append checks the subject's last marker (a resend when it is within the
/// window of `now`), then publishes the record's deliveries, each with `Nats-Msg-Id` = its delivery id, then the
/// marker with `Nats-Expected-Last-Subject-Sequence` = the marker it found (none: 0) and `Relay-Sequences` = the
/// sequences its PubAcks named. JetStream stores that marker only if no other relay stored one in between, so of N
/// concurrent appends of one identity exactly one wins; the others answer `duplicate` and delete the deliveries they
/// stored, except those the winner's marker names (the winner's publish of the same delivery id was a duplicate of
/// theirs: its PubAck named their message). The deliveries go first so that a relay dying half way leaves deliveries without a
/// marker, never a marker without deliveries: the sender gets no 2xx, resends, finds no marker, publishes again (the
/// deliveries already stored are dropped by their `Nats-Msg-Id` within the duplicate window, which is the resend
/// window) and stores the marker. A marker with an expected sequence (rather than a bare `Nats-Msg-Id` on the
/// identity) is what lets the window follow the caller's clock and the capacity drop the oldest identities, as the
/// contract requires: JetStream's duplicate window runs on the server's clock and keeps ids of discarded messages.
/// Markers older than the window are purged as appends move `now` forward (at most every tenth of the window).
///
/// **Attempts** are the `Relay-Attempts` header, exactly what the caller recorded: a retry publishes a copy of the
/// delivery with the new attempts, due time and last outcome (`Nats-Msg-Id` = `<delivery id>~<sequence>`, so a retry
/// repeated after a failure is stored once), then acks the original. JetStream's delivery count also counts probes
/// sent while a target's circuit is open, redeliveries after a relay died and naks at shutdown, so it is not used:
/// probes never use up attempts (docs/delivery.md, "Circuit breaker"). The copy gets a new sequence. If the stream
/// is full, a retry naks the original with the delay instead: nothing is lost, the attempt is not recorded.
///
/// **Due times** follow the `now` the caller passes, not the server's clock. A fetched delivery that is not due yet
/// is held by this relay (unacked, so no other relay gets it) and handed out by the first claim whose `now` reaches
/// its `Relay-Next-Attempt-At`; one due more than half the ack wait away is nak'd with that delay instead, so that
/// JetStream keeps it meanwhile. While the log runs as a service, held deliveries are kept alive with progress acks;
/// at close, every held delivery is nak'd so that other relays take it at once. A relay that dies leaves its held
/// deliveries to the others after the ack wait.
///
/// **Differences from the SQLite log** (the contract's terms): ``totals`` `pendingBytes` counts JetStream's stored
/// bytes (payload, headers and subject), not payload bytes alone; ``nextDue(target:)`` answers the wall clock's now
/// when the consumer has deliveries no relay fetched yet (their due times are unknown until fetched); an append that
/// throws half way may have stored some records completely (with their markers): a resend of the request stores the
/// rest and finds those as resends.
public final class JetStreamDeliveryLog: DeliveryLog, Service, CustomStringConvertible {
    let connection: NatsConnection
    let configuration: JetStreamConfiguration
    private let logger: Logger
    private let state = Mutex(LogState())
    /// Consumer creation, one at a time.
    private let setupQueue = DispatchQueue(label: "bucket-relay.jetstream.setup")
    /// Totals refreshes, in order: the last one stored started after every write that asked for it.
    private let totalsQueue = DispatchQueue(label: "bucket-relay.jetstream.totals")

    private struct LogState {
        var closed = false
        var consumers: [String: TargetConsumer] = [:]
        var totals = DeliveryLogTotals(pendingCount: 0, pendingBytes: 0, resendIdentities: 0)
        var lastPrune: Timestamp?
    }

    /// Connects to NATS and creates or updates the streams, blocking the calling thread (for a synchronous startup
    /// path; prefer ``open(_:logger:)`` from async code).
    /// - Throws: ``DeliveryLogError`` `.unavailable` when no server can be reached; `.io` when JetStream refuses a
    ///   stream (JetStream not enabled, or a stream of that name with settings that cannot be changed, such as its
    ///   retention).
    public init(configuration: JetStreamConfiguration, logger: Logger) throws {
        let connection = try NatsConnection(configuration)
        do {
            if configuration.createsStreams { try Self.ensureStreams(connection, configuration) }
        } catch {
            connection.close()
            throw error
        }
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        if let totals = try? Self.readTotals(connection, configuration) { state.withLock { $0.totals = totals } }
        logger.info(
            "Delivery log on JetStream",
            metadata: [
                "jetstream.servers": "\(configuration.servers.map(RedactedURL.redact).joined(separator: ","))",
                "jetstream.stream": "\(configuration.deliveriesStream)",
                "jetstream.replicas": "\(configuration.replicas)",
            ]
        )
    }

    /// Connects to NATS and creates or updates the streams, off the cooperative pool.
    /// - Throws: as ``init(configuration:logger:)``.
    public static func open(
        _ configuration: JetStreamConfiguration,
        logger: Logger
    ) async throws -> JetStreamDeliveryLog {
        try await Blocking.run { try JetStreamDeliveryLog(configuration: configuration, logger: logger) }
    }

    private static func ensureStreams(_ connection: NatsConnection, _ configuration: JetStreamConfiguration) throws {
        try connection.ensureStream(
            name: configuration.deliveriesStream,
            subject: configuration.deliveriesSubjects,
            retention: js_WorkQueuePolicy,
            discard: js_DiscardNew,
            maxMessages: configuration.maxPendingCount ?? -1,
            maxBytes: configuration.maxPendingBytes ?? -1,
            duplicateWindow: configuration.resendWindow.duration,
            replicas: configuration.replicas,
            allowDirect: false
        )
        try connection.ensureStream(
            name: configuration.deadLettersStream,
            subject: configuration.deadLettersSubject,
            retention: js_LimitsPolicy,
            discard: js_DiscardOld,
            replicas: configuration.replicas,
            allowDirect: false
        )
        try connection.ensureStream(
            name: configuration.identitiesStream,
            subject: configuration.identitiesSubjects,
            retention: js_LimitsPolicy,
            discard: js_DiscardOld,
            maxMessages: Int64(max(configuration.resendWindow.capacity, 1)),
            maxAge: configuration.resendWindow.duration,
            maxMessagesPerSubject: 1,
            replicas: configuration.replicas,
            allowDirect: true
        )
    }

    public var description: String { "JetStreamDeliveryLog(\(configuration.deliveriesStream))" }

    /// The largest message the NATS server accepts, in bytes (its `max_payload`, 1 MB unless configured), headers
    /// included: a delivery whose payload and headers exceed it cannot be appended (`.io`), so a relay should refuse
    /// to start with a larger body limit.
    public var maxMessageBytes: Int64 { connection.maxPayload }

    // MARK: Service

    /// Keeps held deliveries alive (progress acks, from a thread of its own, ``ProgressAckThread``) and the totals
    /// fresh until graceful shutdown, then closes. Every minute, removes acked deliveries that a NATS crash left in the
    /// stream.
    public func run() async throws {
        // Each held delivery gets a progress ack once a third of its ack wait has passed; ticks of 250 ms keep that
        // within a few percent of the ack wait for any ack wait of a second or more.
        let progress = ProgressAckThread(interval: .milliseconds(250)) { [self] in keepHeldAlive() }
        await cancelWhenGracefulShutdown {
            var rounds = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                if Task.isCancelled { break }
                rounds += 1
                if rounds % 30 == 0 { await self.removeAckedLeftovers() }
                await self.refreshTotals()
            }
        }
        progress.stop()
        await close()
    }

    private func removeAckedLeftovers() async {
        let consumers = state.withLock { Array($0.consumers.values) }
        for consumer in consumers {
            _ = try? await Blocking.run { self.removeAckedLeftovers(consumer) }
        }
    }

    /// Sends the progress acks that are due. Runs on the ``ProgressAckThread``: `natsMsg_InProgress` only queues a
    /// publish on the connection.
    private func keepHeldAlive() {
        let consumers = state.withLock { Array($0.consumers.values) }
        for consumer in consumers {
            for message in consumer.takeProgressDue(every: consumer.settings.ackWait / 3) {
                connection.inProgress(message)
            }
        }
    }

    // MARK: Ingress

    public func append(_ records: [RecordDeliveries], at now: Timestamp) async throws -> [AppendOutcome] {
        try checkOpen()
        let outcomes = try await Blocking.run { try self.appendBlocking(records, at: now) }
        await refreshTotals()
        return outcomes
    }

    private enum IdentityState {
        /// Within the window: a resend. `sequences` are the deliveries the append that stored the marker relies on.
        case seen(sequences: Set<UInt64>)
        /// Not within the window: publish the marker expecting this last subject sequence (0 = none).
        case absent(expectedSequence: UInt64)
    }

    private func appendBlocking(_ records: [RecordDeliveries], at now: Timestamp) throws -> [AppendOutcome] {
        if records.contains(where: { $0.identity != nil }) { pruneIdentitiesIfDue(now: now) }
        var outcomes: [AppendOutcome] = []
        outcomes.reserveCapacity(records.count)
        for record in records {
            guard !record.deliveries.isEmpty else {
                outcomes.append(.appended(sequences: []))
                continue
            }
            var expected: UInt64 = 0
            if let identity = record.identity {
                switch try identityState(identity, now: now) {
                case .seen:
                    outcomes.append(.duplicate)
                    continue
                case .absent(let sequence):
                    expected = sequence
                }
            }
            var sequences: [Int64] = []
            var stored: [UInt64] = []
            for delivery in record.deliveries {
                let message = try deliveryMessage(for: delivery)
                let result = try connection.publish(
                    message,
                    messageID: delivery.deliveryID,
                    what: "cannot publish delivery \(delivery.deliveryID) to \(self.configuration.deliveriesStream)"
                )
                guard case .stored(let sequence, let duplicate) = result else { continue }
                sequences.append(Int64(clamping: sequence))
                if !duplicate { stored.append(sequence) }
            }
            if let identity = record.identity,
                let winner = try storeMarker(
                    identity,
                    now: now,
                    expected: expected,
                    sequences: sequences.map { UInt64($0) }
                )
            {
                // Another append of the same identity won: take back what this one stored, except what the winner
                // relies on (its publish of the same delivery id was a duplicate of this one's).
                for sequence in stored where !winner.contains(sequence) {
                    try connection.deleteMessage(stream: configuration.deliveriesStream, sequence: sequence)
                }
                outcomes.append(.duplicate)
                continue
            }
            outcomes.append(.appended(sequences: sequences))
        }
        return outcomes
    }

    private func identityState(_ identity: ResendIdentity, now: Timestamp) throws -> IdentityState {
        guard
            let marker = try connection.lastMessage(
                stream: configuration.identitiesStream,
                subject: configuration.identitySubject(identity)
            )
        else { return .absent(expectedSequence: 0) }
        let at = Self.instant(marker.header(Header.at)) ?? .distantPast
        if now - at <= configuration.resendWindow.duration {
            let sequences = (marker.header(Header.sequences) ?? "").split(separator: ",").compactMap { UInt64($0) }
            return .seen(sequences: Set(sequences))
        }
        return .absent(expectedSequence: marker.storedSequence)
    }

    /// Stores the identity's marker (with the sequences of the record's deliveries) unless another append stored one
    /// within the window first.
    /// - Returns: `nil` when stored; when another append won (the record is a resend), the sequences it relies on.
    private func storeMarker(
        _ identity: ResendIdentity,
        now: Timestamp,
        expected: UInt64,
        sequences: [UInt64]
    ) throws -> Set<UInt64>? {
        var expected = expected
        let subject = configuration.identitySubject(identity)
        for _ in 0..<5 {
            let marker = try NatsMessage.make(
                subject: subject,
                payload: [],
                headers: [
                    (Header.at, String(now.millisecondsSince1970)),
                    (Header.sequences, sequences.map(String.init).joined(separator: ",")),
                ]
            )
            let result = try connection.publish(
                marker,
                messageID: nil,
                expectLastSubjectSequence: expected,
                what: "cannot publish a resend identity to \(self.configuration.identitiesStream)"
            )
            if case .stored = result { return nil }
            switch try identityState(identity, now: now) {
            case .seen(let winner):
                return winner
            case .absent(let sequence):
                expected = sequence  // the one found was pruned or expired meanwhile: try again
            }
        }
        throw DeliveryLogError(
            code: .io,
            message: "cannot store a resend identity in \(configuration.identitiesStream): it keeps changing"
        )
    }

    /// Forgets the markers older than the window of `now`, oldest first, at most every tenth of the window.
    private func pruneIdentitiesIfDue(now: Timestamp) {
        let window = configuration.resendWindow.duration
        let due = state.withLock { state -> Bool in
            if let last = state.lastPrune, now >= last, now - last < window / 10 { return false }
            state.lastPrune = now
            return true
        }
        guard due else { return }
        let threshold = Timestamp(millisecondsSince1970: now.millisecondsSince1970 - window.wholeMilliseconds)
        let stream = configuration.identitiesStream
        do {
            let identities = try connection.streamState(stream)
            guard identities.messages > 0 else { return }
            var sequence = identities.firstSequence
            var lastExpired: UInt64?
            for _ in 0..<1_000 {
                guard
                    let marker = try connection.nextMessage(
                        stream: stream,
                        from: sequence,
                        subject: configuration.identitiesSubjects
                    )
                else { break }
                guard let at = Self.instant(marker.header(Header.at)), at < threshold else { break }
                lastExpired = marker.storedSequence
                sequence = marker.storedSequence + 1
            }
            if let lastExpired { try connection.purge(stream: stream, below: lastExpired + 1) }
        } catch {
            logger.debug("Cannot prune resend identities", metadata: ["error": "\(error)"])
        }
    }

    public func deadLetter(_ letters: [DeadLetter]) async throws {
        try checkOpen()
        let encoded = try letters.map(Self.encode)
        try await Blocking.run {
            for line in encoded {
                let message = try NatsMessage.make(
                    subject: self.configuration.deadLettersSubject,
                    payload: line,
                    headers: []
                )
                _ = try self.connection.publish(
                    message,
                    messageID: nil,
                    what: "cannot publish a dead letter to \(self.configuration.deadLettersStream)"
                )
            }
        }
    }

    // MARK: Delivery

    public func claim(target: String, now: Timestamp, limit: Int) async throws -> [PendingDelivery] {
        guard limit > 0 else { return [] }
        try checkOpen()
        let consumer = try await consumer(for: target)
        let ready = consumer.held.withLock { held in
            held.parked.values.count(where: { $0.delivery.nextAttemptAt <= now })
        }
        if ready < limit { try await fetch(consumer, batch: limit - ready) }
        let horizon = consumer.settings.ackWait / 2
        let (claimed, deferred) = consumer.held.withLock { held -> ([PendingDelivery], [(NatsMessage, Duration)]) in
            let due = held.parked.values.filter { $0.delivery.nextAttemptAt <= now }
                .sorted {
                    ($0.delivery.nextAttemptAt, $0.delivery.sequence) < (
                        $1.delivery.nextAttemptAt, $1.delivery.sequence
                    )
                }
                .prefix(limit)
            var claimed: [PendingDelivery] = []
            for var entry in due {
                held.parked[entry.delivery.sequence] = nil
                entry.claimedAt = now
                held.claimed[entry.delivery.sequence] = entry
                claimed.append(entry.delivery)
            }
            var deferred: [(NatsMessage, Duration)] = []
            for entry in held.parked.values where entry.delivery.nextAttemptAt - now > horizon {
                held.parked[entry.delivery.sequence] = nil
                deferred.append((entry.message, entry.delivery.nextAttemptAt - now))
            }
            return (claimed, deferred)
        }
        if !deferred.isEmpty {
            let connection = self.connection
            _ = try? await Blocking.run { for (message, delay) in deferred { connection.nak(message, delay: delay) } }
        }
        return claimed
    }

    /// Fetches what the consumer has available now into the held deliveries (not claimed).
    private func fetch(_ consumer: TargetConsumer, batch: Int) async throws {
        let connection = self.connection
        let wait = configuration.fetchWait
        let messages = try await Blocking.run(on: consumer.fetchQueue) {
            try connection.fetch(consumer.subscription, batch: batch, wait: wait)
        }
        let received = ContinuousClock.now
        JetStreamMetrics.countRedelivered(messages, target: consumer.target)
        consumer.held.withLock { held in
            for message in messages {
                guard let entry = Self.held(message, target: consumer.target, at: received) else { continue }
                let sequence = entry.delivery.sequence
                if var claimed = held.claimed[sequence] {
                    // Redelivered while this relay holds it (its ack wait ran out): keep the newer handle.
                    claimed.message = message
                    held.claimed[sequence] = claimed
                } else if var parked = held.parked[sequence] {
                    parked.message = message
                    held.parked[sequence] = parked
                } else {
                    held.parked[sequence] = entry
                }
            }
        }
    }

    public func nextDue(target: String) async throws -> Timestamp? {
        try checkOpen()
        // No fetch here: what this relay holds has known due times; what it does not hold is due as far as it knows,
        // and fetching it only to look would keep it from the other relays.
        let consumer = try await consumer(for: target)
        // Messages that arrived after the last fetch stopped waiting (a slow answer) are this relay's already.
        if consumer.subscription.queuedMessages > 0 { return Timestamp.now() }
        let held = consumer.held.withLock { held in held.parked.values.map(\.delivery.nextAttemptAt).min() }
        let connection = self.connection
        let stream = configuration.deliveriesStream
        let consumerState = try await Blocking.run {
            try connection.consumerState(stream: stream, durable: consumer.durable)
        }
        guard let consumerState, consumerState.pending > 0 else { return held }
        // Deliveries no relay fetched yet: due now as far as anyone knows, unless the consumer has as many out as it
        // allows (then another relay's outcome frees room without telling this one: look again in a second).
        let now = Timestamp.now()
        let unknown =
            consumerState.maxAckPending > 0 && consumerState.ackPending >= consumerState.maxAckPending
            ? now + .seconds(1) : now
        return min(held ?? unknown, unknown)
    }

    public func delivered(_ delivery: PendingDelivery) async throws {
        try checkOpen()
        let (consumer, entry) = try takeClaimed(delivery)
        do {
            try await Blocking.run {
                try self.connection.ack(entry.message, what: "cannot ack delivery \(delivery.deliveryID)")
                self.awaitRemoval(delivery.sequence)
            }
        } catch {
            consumer.putBack(entry)
            throw error
        }
        await refreshTotals()
    }

    public func retry(
        _ delivery: PendingDelivery,
        attempts: Int,
        at: Timestamp,
        lastStatus: Int?,
        lastError: String?
    )
        async throws
    {
        try checkOpen()
        let (consumer, entry) = try takeClaimed(delivery)
        let copy = try deliveryMessage(
            subject: configuration.deliveriesSubject(target: delivery.target),
            deliveryID: delivery.deliveryID,
            target: delivery.target,
            rule: delivery.rule,
            payload: delivery.payload,
            createdAt: delivery.createdAt,
            nextAttemptAt: at,
            attempts: attempts,
            lastStatus: lastStatus,
            lastError: lastError,
            traceparent: delivery.traceparent
        )
        do {
            try await Blocking.run {
                _ = try self.connection.publish(
                    copy,
                    messageID: "\(delivery.deliveryID)~\(delivery.sequence)",
                    what: "cannot publish the retry of delivery \(delivery.deliveryID)"
                )
                try self.connection.ack(entry.message, what: "cannot ack delivery \(delivery.deliveryID)")
                self.awaitRemoval(delivery.sequence)
            }
        } catch let error as DeliveryLogError where error.code == .full {
            // No room for the copy: keep the original, due again after the delay; this attempt goes unrecorded.
            let delay = at - (entry.claimedAt ?? at)
            let connection = self.connection
            _ = try? await Blocking.run { connection.nak(entry.message, delay: delay) }
            logger.warning(
                "JetStream stream full: a retry keeps the delivery without recording its attempt",
                metadata: ["delivery.id": "\(delivery.deliveryID)", "target.name": "\(delivery.target)"]
            )
            return
        } catch {
            consumer.putBack(entry)
            throw error
        }
        await refreshTotals()
    }

    public func deadLetter(_ delivery: PendingDelivery, _ letter: DeadLetter) async throws {
        try checkOpen()
        let (consumer, entry) = try takeClaimed(delivery)
        do {
            let line = try Self.encode(letter)
            try await Blocking.run {
                let message = try NatsMessage.make(
                    subject: self.configuration.deadLettersSubject,
                    payload: line,
                    headers: []
                )
                _ = try self.connection.publish(
                    message,
                    messageID: "\(delivery.deliveryID)~\(delivery.sequence)",
                    what: "cannot publish a dead letter to \(self.configuration.deadLettersStream)"
                )
                try self.connection.ack(entry.message, what: "cannot ack delivery \(delivery.deliveryID)")
                self.awaitRemoval(delivery.sequence)
            }
        } catch {
            consumer.putBack(entry)
            throw error
        }
        await refreshTotals()
    }

    public func recentDeadLetters(limit: Int) async throws -> [DeadLetter] {
        guard limit > 0 else { return [] }
        try checkOpen()
        let stream = configuration.deadLettersStream
        let connection = self.connection
        let lines = try await Blocking.run { () throws -> [[UInt8]] in
            let state = try connection.streamState(stream)
            guard state.messages > 0 else { return [] }
            var lines: [[UInt8]] = []
            var sequence = state.lastSequence
            while sequence >= state.firstSequence && sequence > 0 && lines.count < limit {
                if let message = try connection.message(stream: stream, sequence: sequence) {
                    lines.append(message.data)
                }
                sequence -= 1
            }
            return lines.reversed()
        }
        let decoder = JSONDecoder()
        return lines.compactMap { try? decoder.decode(DeadLetter.self, from: Data($0)) }
    }

    public func release(_ delivery: PendingDelivery) {
        guard let consumer = state.withLock({ $0.consumers[delivery.target] }) else { return }
        consumer.held.withLock { held in
            if let entry = held.claimed.removeValue(forKey: delivery.sequence) {
                held.parked[delivery.sequence] = entry
            }
        }
    }

    public func pendingTargets() async throws -> [String] {
        try checkOpen()
        let prefix = "\(configuration.subjectPrefix).deliveries."
        let connection = self.connection
        let stream = configuration.deliveriesStream
        let filter = configuration.deliveriesSubjects
        let state = try await Blocking.run { try connection.streamState(stream, subjects: filter) }
        let names = state.subjects.compactMap { entry -> String? in
            guard entry.messages > 0, entry.subject.hasPrefix(prefix) else { return nil }
            return SubjectToken.decode(String(entry.subject.dropFirst(prefix.count)))
        }
        return Array(Set(names)).sorted()
    }

    public func pendingCount(target: String) async throws -> Int {
        try checkOpen()
        let connection = self.connection
        let stream = configuration.deliveriesStream
        let subject = configuration.deliveriesSubject(target: target)
        let state = try await Blocking.run { try connection.streamState(stream, subjects: subject) }
        return Int(clamping: state.subjects.reduce(0) { $0 + $1.messages })
    }

    /// The oldest among the deliveries of `target` that this relay holds (fetched, claimed or parked): JetStream keeps
    /// no index by creation time, and fetching only to look would take deliveries from the other relays. So with
    /// several relays, or with deliveries nobody fetched yet, this is a lower bound on the backlog's age, not the
    /// age of the oldest; `nil` when this relay holds none.
    public func oldestPending(target: String) async throws -> Timestamp? {
        try checkOpen()
        let consumer = try await consumer(for: target)
        return consumer.held.withLock { held in
            (held.parked.values.map(\.delivery.createdAt) + held.claimed.values.map(\.delivery.createdAt)).min()
        }
    }

    public var totals: DeliveryLogTotals { state.withLock { $0.totals } }

    public func isWritable() async -> Bool {
        guard !state.withLock({ $0.closed }), connection.isConnected else { return false }
        let connection = self.connection
        let stream = configuration.deliveriesStream
        return (try? await Blocking.run { try connection.streamState(stream) }) != nil
    }

    public func close() async {
        let consumers = state.withLock { state -> [TargetConsumer]? in
            guard !state.closed else { return nil }
            state.closed = true
            return Array(state.consumers.values)
        }
        guard let consumers else { return }
        let held = consumers.flatMap { $0.takeAll() }
        let connection = self.connection
        _ = try? await Blocking.run {
            // Give back what this relay holds, so that other relays take it at once rather than after the ack wait.
            for message in held { connection.nak(message, delay: nil) }
            _ = natsConnection_FlushTimeout(connection.connection, 2_000)
            connection.close()
        }
    }

    // MARK: Helpers

    /// Fails at once when the log is closed or NATS is away (rather than after the request timeout).
    private func checkOpen() throws {
        if state.withLock({ $0.closed }) {
            throw DeliveryLogError(code: .closed, message: "the JetStream delivery log is closed")
        }
        guard connection.isConnected else {
            throw DeliveryLogError(
                code: .unavailable,
                message: "NATS is not connected (reconnecting to \(description)); nothing was written"
            )
        }
    }

    private func consumer(for target: String) async throws -> TargetConsumer {
        if let consumer = state.withLock({ $0.consumers[target] }) { return consumer }
        return try await Blocking.run(on: setupQueue) {
            if let consumer = self.state.withLock({ $0.consumers[target] }) { return consumer }
            let durable = self.configuration.durable(target: target)
            let subject = self.configuration.deliveriesSubject(target: target)
            let settings = self.configuration.targetSettings(target)
            let subscription = try self.connection.subscribe(
                stream: self.configuration.deliveriesStream,
                durable: durable,
                subject: subject,
                settings: settings,
                replicas: self.configuration.replicas
            )
            let consumer = TargetConsumer(
                target: target,
                durable: durable,
                subscription: subscription,
                settings: settings
            )
            self.state.withLock { $0.consumers[target] = consumer }
            self.removeAckedLeftovers(consumer)
            return consumer
        }
    }

    /// Deletes the target's messages at or below its consumer's ack floor: acked, so no longer pending, yet still in
    /// the stream when a NATS server crashed before it recorded their removal (nats-server 2.9 records work-queue
    /// removals lazily). The consumer never hands them out again; without this they would count as pending for ever.
    ///
    /// One message at a time (`STREAM.MSG.DELETE`), never a purge: on nats-server 2.9 a purge filtered by subject
    /// also wipes the consumer's record of messages other relays hold unacknowledged, which are then never handed
    /// out again (Tests/jetstream's `dead-relay-held` scenario lost deliveries that way). Leftovers are found only
    /// when the subject holds more messages than the consumer has pending and in flight, and the scan is bounded
    /// (``maxLeftoverScan`` sequences a pass). Best effort; blocking.
    private func removeAckedLeftovers(_ consumer: TargetConsumer) {
        let stream = configuration.deliveriesStream
        let subject = configuration.deliveriesSubject(target: consumer.target)
        do {
            guard let state = try connection.consumerState(stream: stream, durable: consumer.durable),
                state.ackFloor > 0
            else { return }
            let stored = try connection.streamState(stream, subjects: subject)
            let onSubject = stored.subjects.first { $0.subject == subject }?.messages ?? 0
            let live = state.pending + UInt64(max(0, state.ackPending))
            guard onSubject > live else { return }
            var leftovers = onSubject - live
            var sequence = stored.firstSequence
            let last = min(state.ackFloor, stored.firstSequence &+ Self.maxLeftoverScan)
            while leftovers > 0, sequence <= last {
                if let message = try connection.message(stream: stream, sequence: sequence), message.subject == subject
                {
                    try connection.deleteMessage(stream: stream, sequence: sequence)
                    leftovers -= 1
                }
                sequence += 1
            }
        } catch {
            logger.debug(
                "Cannot remove acked deliveries left in the stream",
                metadata: ["target.name": "\(consumer.target)", "error": "\(error)"]
            )
        }
    }

    /// The most stream sequences one pass of ``removeAckedLeftovers(_:)`` reads, so that a pass stays short.
    static let maxLeftoverScan: UInt64 = 2_000

    private func takeClaimed(_ delivery: PendingDelivery) throws -> (TargetConsumer, HeldDelivery) {
        guard let consumer = state.withLock({ $0.consumers[delivery.target] }),
            let entry = consumer.held.withLock({ $0.claimed.removeValue(forKey: delivery.sequence) })
        else {
            throw DeliveryLogError(
                code: .io,
                message: "delivery \(delivery.deliveryID) (sequence \(delivery.sequence)) is not claimed by this relay"
            )
        }
        return (consumer, entry)
    }

    /// Waits (briefly) until an acked message has left the work-queue stream, so that totals read after the outcome
    /// do not count it.
    private func awaitRemoval(_ sequence: Int64) {
        for _ in 0..<50 {
            guard
                (try? connection.message(stream: configuration.deliveriesStream, sequence: UInt64(sequence))) != nil
            else { return }
            usleep(2_000)
        }
    }

    private func refreshTotals() async {
        let connection = self.connection
        let configuration = self.configuration
        _ = try? await Blocking.run(on: totalsQueue) {
            let totals = try Self.readTotals(connection, configuration)
            self.state.withLock { $0.totals = totals }
        }
    }

    private static func readTotals(
        _ connection: NatsConnection,
        _ configuration: JetStreamConfiguration
    ) throws -> DeliveryLogTotals {
        let deliveries = try connection.streamState(configuration.deliveriesStream)
        let identities = try connection.streamState(configuration.identitiesStream)
        return DeliveryLogTotals(
            pendingCount: Int(clamping: deliveries.messages),
            pendingBytes: Int64(clamping: deliveries.bytes),
            resendIdentities: Int(clamping: identities.messages)
        )
    }

    private enum Header {
        static let deliveryID = "Relay-Delivery-Id"
        static let target = "Relay-Target"
        static let rule = "Relay-Rule"
        static let createdAt = "Relay-Created-At"
        static let nextAttemptAt = "Relay-Next-Attempt-At"
        static let attempts = "Relay-Attempts"
        static let lastStatus = "Relay-Last-Status"
        static let lastError = "Relay-Last-Error"
        static let at = "Relay-At"
        static let sequences = "Relay-Sequences"
        static let traceparent = "Relay-Traceparent"
    }

    /// The message of a new delivery: no attempt made yet.
    func deliveryMessage(for delivery: NewDelivery) throws -> NatsMessage {
        try deliveryMessage(
            subject: configuration.deliveriesSubject(target: delivery.target),
            deliveryID: delivery.deliveryID,
            target: delivery.target,
            rule: delivery.rule,
            payload: delivery.payload,
            createdAt: delivery.createdAt,
            nextAttemptAt: delivery.nextAttemptAt,
            attempts: 0,
            lastStatus: nil,
            lastError: nil,
            traceparent: delivery.traceparent
        )
    }

    func deliveryMessage(
        subject: String,
        deliveryID: String,
        target: String,
        rule: String,
        payload: [UInt8],
        createdAt: Timestamp,
        nextAttemptAt: Timestamp,
        attempts: Int,
        lastStatus: Int?,
        lastError: String?,
        traceparent: String?
    ) throws -> NatsMessage {
        var headers: [(String, String)] = [
            (Header.deliveryID, deliveryID),
            (Header.target, target),
            (Header.rule, rule),
            (Header.createdAt, String(createdAt.millisecondsSince1970)),
            (Header.nextAttemptAt, String(nextAttemptAt.millisecondsSince1970)),
            (Header.attempts, String(attempts)),
        ]
        if let lastStatus { headers.append((Header.lastStatus, String(lastStatus))) }
        if let lastError { headers.append((Header.lastError, lastError)) }
        if let traceparent { headers.append((Header.traceparent, traceparent)) }
        return try NatsMessage.make(subject: subject, payload: payload, headers: headers)
    }

    /// A fetched message as a held delivery; `nil` for a message without JetStream metadata.
    private static func held(
        _ message: NatsMessage,
        target: String,
        at received: ContinuousClock.Instant
    )
        -> HeldDelivery?
    {
        guard let metadata = message.metadata() else { return nil }
        let sequence = Int64(clamping: metadata.streamSequence)
        // A message published by something other than a relay has no Relay-* headers: it is delivered as it is.
        let createdAt = instant(message.header(Header.createdAt)) ?? Timestamp(millisecondsSince1970: 0)
        let delivery = PendingDelivery(
            sequence: sequence,
            deliveryID: message.header(Header.deliveryID) ?? "jetstream-\(sequence)",
            target: message.header(Header.target) ?? target,
            rule: message.header(Header.rule) ?? "",
            payload: message.data,
            attempts: message.header(Header.attempts).flatMap { Int($0) } ?? 0,
            nextAttemptAt: instant(message.header(Header.nextAttemptAt)) ?? createdAt,
            lastStatus: message.header(Header.lastStatus).flatMap { Int($0) },
            lastError: message.header(Header.lastError),
            createdAt: createdAt,
            traceparent: message.header(Header.traceparent)
        )
        return HeldDelivery(delivery: delivery, message: message, progressAt: received, claimedAt: nil)
    }

    private static func instant(_ header: String?) -> Timestamp? {
        header.flatMap { Int64($0) }.map { Timestamp(millisecondsSince1970: $0) }
    }

    private static func encode(_ letter: DeadLetter) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(letter))
        } catch {
            throw DeliveryLogError(code: .io, message: "cannot encode a dead letter as JSON: \(error)")
        }
    }
}

/// A delivery this relay fetched and has not settled: held for a claim, or claimed.
struct HeldDelivery: Sendable {
    var delivery: PendingDelivery
    var message: NatsMessage
    /// When JetStream last heard that this relay holds it (fetch or progress ack).
    var progressAt: ContinuousClock.Instant
    /// The `now` of the claim that handed it out; `nil` while not claimed.
    var claimedAt: Timestamp?
}

/// One target's durable consumer as this relay uses it.
final class TargetConsumer: Sendable {
    let target: String
    let durable: String
    let subscription: NatsSubscription
    let settings: JetStreamTargetSettings
    /// Fetches, one at a time (libnats refuses two at once on one subscription).
    let fetchQueue: DispatchQueue
    let held = Mutex(Holdings())

    struct Holdings {
        /// Fetched, not handed out: not due yet, or released.
        var parked: [Int64: HeldDelivery] = [:]
        /// Handed out by a claim, no outcome yet.
        var claimed: [Int64: HeldDelivery] = [:]
    }

    init(target: String, durable: String, subscription: NatsSubscription, settings: JetStreamTargetSettings) {
        self.target = target
        self.durable = durable
        self.subscription = subscription
        self.settings = settings
        self.fetchQueue = DispatchQueue(label: "bucket-relay.jetstream.fetch.\(durable)")
    }

    func putBack(_ entry: HeldDelivery) {
        held.withLock { $0.claimed[entry.delivery.sequence] = entry }
    }

    /// Every held message, forgotten here (for a nak at close).
    func takeAll() -> [NatsMessage] {
        held.withLock { held in
            let all = held.parked.values.map(\.message) + held.claimed.values.map(\.message)
            held.parked = [:]
            held.claimed = [:]
            return all
        }
    }

    /// The held messages whose last progress ack is older than `interval`, marked as acked now.
    func takeProgressDue(every interval: Duration) -> [NatsMessage] {
        let now = ContinuousClock.now
        return held.withLock { held in
            var due: [NatsMessage] = []
            for (sequence, var entry) in held.parked where now - entry.progressAt >= interval {
                entry.progressAt = now
                held.parked[sequence] = entry
                due.append(entry.message)
            }
            for (sequence, var entry) in held.claimed where now - entry.progressAt >= interval {
                entry.progressAt = now
                held.claimed[sequence] = entry
                due.append(entry.message)
            }
            return due
        }
    }
}
