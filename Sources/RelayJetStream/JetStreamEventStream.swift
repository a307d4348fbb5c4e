import CNats
import Dispatch
import Logging
import RelayLog
import Synchronization

/// The events stream and its shared router consumer (docs/architecture.md, "Events on JetStream").
///
/// - Stream `<prefix>_EVENTS` (`RELAY_EVENTS`) on one subject, ``JetStreamConfiguration/eventsSubject``
///   (`minio.events` by default): what MinIO's `notify_nats` target publishes with `jetstream` on, each message body
///   exactly MinIO's webhook body. Work-queue retention (a message leaves the stream when the router acks it), discard
///   new at the limits (``JetStreamConfiguration/maxPendingCount`` and ``JetStreamConfiguration/maxPendingBytes``, as
///   for the deliveries stream: a full stream refuses MinIO's publish, and MinIO keeps the event in its queue), the
///   duplicate window of `Nats-Msg-Id` the resend window, ``JetStreamConfiguration/replicas`` replicas.
/// - One durable pull consumer, `router`, shared by every relay: each event is handed to one relay at a time; one that
///   is not acked within the ack wait (60 s) goes to another relay.
///
/// Every blocking libnats call runs on threads of its own (fetches on one serial queue), never on the Swift
/// cooperative pool. The stream has its own NATS connection, so that a fetch waiting for events never delays the
/// delivery log's publishes.
public final class JetStreamEventStream: Sendable, CustomStringConvertible {
    private let connection: NatsConnection
    private let subscription: NatsSubscription
    private let configuration: JetStreamConfiguration
    private let fetchQueue = DispatchQueue(label: "bucket-relay.jetstream.router")
    private let closed = Atomic<Bool>(false)

    /// How long the router may hold an event before JetStream hands it to another relay.
    public static let ackWait: Duration = .seconds(60)
    /// The most events handed out and not yet acked, over every relay.
    public static let maxAckPending = 1_000

    /// One event fetched from the stream, not yet acked.
    public struct Event: Sendable {
        /// The message body: the bytes MinIO would have posted to a webhook.
        public let body: [UInt8]
        /// The message's sequence in the events stream.
        public let streamSequence: UInt64
        /// How many times JetStream handed this message out, this time included (1 the first time).
        public let deliveryCount: UInt64
        let message: NatsMessage
    }

    /// Connects to NATS (a connection of its own), creates or updates the events stream and the router consumer
    /// (unless ``JetStreamConfiguration/createsStreams`` is off) and binds to the consumer, blocking the calling thread
    /// (for a synchronous startup path; prefer ``open(_:)`` from async code).
    /// - Throws: ``DeliveryLogError`` `.unavailable` when no server can be reached; `.io` when JetStream refuses the
    ///   stream (another stream already takes the subject, or JetStream is not enabled) or the consumer.
    public init(configuration: JetStreamConfiguration) throws {
        var settings = configuration
        settings.connectionName = configuration.connectionName + " router"
        let connection = try NatsConnection(settings)
        do {
            if configuration.createsStreams {
                try connection.ensureStream(
                    name: configuration.eventsStream,
                    subject: configuration.eventsSubject,
                    retention: js_WorkQueuePolicy,
                    discard: js_DiscardNew,
                    maxMessages: configuration.maxPendingCount ?? -1,
                    maxBytes: configuration.maxPendingBytes ?? -1,
                    duplicateWindow: configuration.resendWindow.duration,
                    replicas: configuration.replicas,
                    allowDirect: false
                )
            }
            self.subscription = try connection.subscribe(
                stream: configuration.eventsStream,
                durable: configuration.routerConsumer,
                subject: configuration.eventsSubject,
                settings: JetStreamTargetSettings(ackWait: Self.ackWait, maxAckPending: Self.maxAckPending),
                replicas: configuration.replicas
            )
        } catch {
            connection.close()
            throw error
        }
        self.connection = connection
        self.configuration = configuration
    }

    /// As ``init(configuration:)``, off the cooperative pool.
    public static func open(_ configuration: JetStreamConfiguration) async throws -> JetStreamEventStream {
        try await Blocking.run { try JetStreamEventStream(configuration: configuration) }
    }

    public var description: String {
        "JetStreamEventStream(\(configuration.eventsStream) on \(configuration.eventsSubject))"
    }

    /// The stream's name, `RELAY_EVENTS` by default.
    public var streamName: String { configuration.eventsStream }
    /// The subject it stores, `minio.events` by default.
    public var subject: String { configuration.eventsSubject }
    /// The shared consumer's name, `router`.
    public var consumerName: String { configuration.routerConsumer }

    /// Whether the connection to NATS is up now.
    public var isConnected: Bool { !closed.load(ordering: .relaxed) && connection.isConnected }

    /// Fetches up to `batch` events for this relay: those waiting, at once; when none wait, the first to arrive within
    /// `wait`; none when none came. Runs on the stream's own fetch thread, one fetch at a time.
    /// - Throws: ``DeliveryLogError`` `.unavailable` while NATS is away, `.closed` after ``close()``.
    public func fetch(batch: Int, wait: Duration) async throws -> [Event] {
        try checkOpen()
        let connection = self.connection
        let subscription = self.subscription
        let messages = try await Blocking.run(on: fetchQueue) {
            try connection.fetch(subscription, batch: batch, wait: wait)
        }
        return messages.compactMap { message in
            guard let metadata = message.metadata() else { return nil }
            return Event(
                body: message.data,
                streamSequence: metadata.streamSequence,
                deliveryCount: metadata.deliveries,
                message: message
            )
        }
    }

    /// Acks an event and waits for JetStream to confirm: it leaves the stream.
    /// - Throws: ``DeliveryLogError`` when the ack is not confirmed (the event comes again after the ack wait).
    public func ack(_ event: Event) async throws {
        let connection = self.connection
        try await Blocking.run {
            try connection.ack(event.message, what: "cannot ack event \(event.streamSequence) of the events stream")
        }
    }

    /// Gives an event back: handed out again after `delay` (to any relay). Best effort: a lost nak is redelivered
    /// after the ack wait.
    public func nak(_ event: Event, delay: Duration) async {
        let connection = self.connection
        _ = try? await Blocking.run { connection.nak(event.message, delay: delay) }
    }

    /// Publishes `body` on the events subject and waits for the PubAck, as MinIO's `notify_nats` target does with
    /// `jetstream` on (for tools and tests; relays only read the stream).
    /// - Parameter messageID: the `Nats-Msg-Id`: a second publish with the same id within the duplicate window is
    ///   dropped by JetStream.
    /// - Returns: the stored sequence, and whether JetStream recognised a duplicate.
    /// - Throws: ``DeliveryLogError`` `.full` at the stream's limits, `.unavailable` while NATS is away.
    @discardableResult
    public func publish(_ body: [UInt8], messageID: String? = nil) async throws -> (sequence: UInt64, duplicate: Bool) {
        try checkOpen()
        let connection = self.connection
        let subject = configuration.eventsSubject
        let stream = configuration.eventsStream
        return try await Blocking.run {
            let message = try NatsMessage.make(subject: subject, payload: body, headers: [])
            let result = try connection.publish(
                message,
                messageID: messageID,
                what: "cannot publish an event to \(stream)"
            )
            guard case .stored(let sequence, let duplicate) = result else {
                throw DeliveryLogError(code: .io, message: "cannot publish an event to \(stream): refused")
            }
            return (sequence, duplicate)
        }
    }

    /// A durable consumer's backlog, from JetStream's consumer info (cluster-wide, not this relay's share).
    public struct ConsumerPending: Sendable, Equatable {
        /// Messages of the consumer's subject not yet handed out to any relay.
        public var pending: UInt64
        /// Messages handed out and not yet acked (in flight, waiting for a retry, or nak'd with a delay).
        public var ackPending: Int64

        public init(pending: UInt64, ackPending: Int64) {
            self.pending = pending
            self.ackPending = ackPending
        }
    }

    /// The router consumer's backlog; `nil` when it cannot be read now.
    public func routerPending() async -> ConsumerPending? {
        let connection = self.connection
        let stream = configuration.eventsStream
        let durable = configuration.routerConsumer
        return try? await Blocking.run {
            try connection.consumerState(stream: stream, durable: durable).map {
                ConsumerPending(pending: $0.pending, ackPending: $0.ackPending)
            }
        }
    }

    /// The backlog of each target's delivery consumer, by target name; targets whose consumer does not exist yet (no
    /// relay delivered to them) or cannot be read now are left out.
    public func deliveryPending(targets: [String]) async -> [String: ConsumerPending] {
        let connection = self.connection
        let configuration = self.configuration
        return
            (try? await Blocking.run {
                var out: [String: ConsumerPending] = [:]
                for target in targets {
                    guard
                        let state = try? connection.consumerState(
                            stream: configuration.deliveriesStream,
                            durable: configuration.durable(target: target)
                        )
                    else { continue }
                    out[target] = ConsumerPending(pending: state.pending, ackPending: state.ackPending)
                }
                return out
            }) ?? [:]
    }

    /// Closes the connection: events fetched and not acked go to other relays after the ack wait.
    public func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        let connection = self.connection
        _ = try? await Blocking.run(on: fetchQueue) {
            _ = natsConnection_FlushTimeout(connection.connection, 2_000)
            connection.close()
        }
    }

    private func checkOpen() throws {
        if closed.load(ordering: .relaxed) {
            throw DeliveryLogError(code: .closed, message: "the events stream is closed")
        }
        guard connection.isConnected else {
            throw DeliveryLogError(
                code: .unavailable,
                message: "NATS is not connected (reconnecting); nothing was read"
            )
        }
    }
}
