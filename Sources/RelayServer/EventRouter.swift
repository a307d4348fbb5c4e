import Logging
import Metrics
import RelayJetStream
import RelayLog
import ServiceLifecycle
import Synchronization

/// Routes the events MinIO publishes into the events stream, on every relay in JetStream mode (docs/architecture.md,
/// "Events on JetStream").
///
/// Fetches from the shared `router` consumer (on the stream's own thread), hands each message body to
/// ``Ingress/handle(body:source:)`` exactly as a webhook body (the same decoder, rules, resend identities and dead
/// letters), and then:
/// - acks the message when ingress stored everything it produced (deliveries appended, `undecodable` dead letters
///   written, a resend recognised): only then does it leave the stream;
/// - naks it with ingress's `Retry-After` as delay when the delivery log refused (full, or NATS away): it stays in the
///   stream, for this relay or another one.
///
/// Nothing is dropped: a relay that dies before its ack leaves the message to the others after the ack wait, and
/// routing it again appends nothing twice (deterministic delivery ids, resend identities).
///
/// Every 5 s it also reads the consumers' backlogs from JetStream for the gauges `relay_consumer_pending{target}`,
/// `relay_consumer_ack_pending{target}` and `relay_router_pending` (docs/operations.md, "Metrics").
public final class EventRouter: Service, Sendable {
    private let stream: JetStreamEventStream
    private let ingress: Ingress
    private let targetNames: @Sendable () -> [String]
    private let logger: Logger
    /// Events fetched at once (and routed concurrently).
    private let batch: Int
    /// The largest body routed; larger messages are dead-lettered.
    private let maxBodyBytes: Int
    private let gauges = Mutex<[String: (pending: Gauge, ackPending: Gauge)]>([:])
    private static let redelivered = Counter(label: "relay_events_redelivered_total")
    private static let routerPending = Gauge(label: "relay_router_pending")

    /// - Parameters:
    ///   - targetNames: the targets whose delivery consumers' backlogs the gauges show (the rules' targets).
    ///   - maxBodyBytes: the largest message body routed (`--max-body`): a larger one could not be stored as
    ///     deliveries, so it is dead-lettered (`undecodable`) and acked.
    ///   - batch: the most events fetched at once, routed concurrently. Default 32.
    public init(
        stream: JetStreamEventStream,
        ingress: Ingress,
        targetNames: @escaping @Sendable () -> [String],
        maxBodyBytes: Int,
        logger: Logger,
        batch: Int = 32
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.stream = stream
        self.ingress = ingress
        self.targetNames = targetNames
        self.logger = logger
        self.batch = max(1, batch)
    }

    /// Routes until graceful shutdown; the events being routed then are finished and acked, the stream's connection
    /// closed.
    public func run() async throws {
        let metadata: Logger.Metadata = [
            "jetstream.stream": "\(stream.streamName)",
            "jetstream.subject": "\(stream.subject)",
            "jetstream.consumer": "\(stream.consumerName)",
        ]
        logger.info("Router started", metadata: metadata)
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.routeLoop() }
                group.addTask { await self.gaugeLoop() }
            }
        }
        await stream.close()
        logger.info("Router stopped", metadata: metadata)
    }

    private func routeLoop() async {
        var failures = 0
        while !Task.isCancelled {
            let events: [JetStreamEventStream.Event]
            do {
                events = try await stream.fetch(batch: batch, wait: .seconds(1))
                if failures > 0 {
                    logger.notice("Router fetching again", metadata: ["jetstream.stream": "\(stream.streamName)"])
                }
                failures = 0
            } catch {
                // NATS away or the consumer gone: say so once a minute, look again every second.
                if failures % 60 == 0 {
                    logger.warning(
                        "Router cannot fetch events; retrying",
                        metadata: ["jetstream.stream": "\(stream.streamName)", "error": "\(error)"]
                    )
                }
                failures += 1
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if events.isEmpty { continue }
            await withDiscardingTaskGroup { group in
                for event in events {
                    group.addTask { await self.route(event) }
                }
            }
        }
    }

    /// Routes one event, then acks it, or naks it when nothing could be stored.
    private func route(_ event: JetStreamEventStream.Event) async {
        if event.deliveryCount > 1 { Self.redelivered.increment() }
        let answer =
            event.body.count > maxBodyBytes
            ? await ingress.deadLetterOversized(body: event.body, limit: maxBodyBytes)
            : await ingress.handle(body: event.body, source: .stream(sequence: event.streamSequence))
        guard (200..<300).contains(answer.status) else {
            // 503: the delivery log refused; nothing of the event is stored but what a second routing finds as a
            // duplicate. Any other answer would be a bug of ingress; the event stays either way.
            let delay = Duration.seconds(answer.retryAfter ?? 5)
            logger.warning(
                "Router gave an event back: the delivery log refused it",
                metadata: [
                    "jetstream.sequence": "\(event.streamSequence)", "http.response.status_code": "\(answer.status)",
                    "retry_after": "\(delay)",
                ]
            )
            await stream.nak(event, delay: delay)
            return
        }
        do {
            try await stream.ack(event)
        } catch {
            // Stored but not acked: the event comes again after the ack wait and is then found as a resend.
            logger.warning(
                "Router cannot ack an event it routed; it will be routed again and found as a resend",
                metadata: ["jetstream.sequence": "\(event.streamSequence)", "error": "\(error)"]
            )
        }
    }

    private func gaugeLoop() async {
        while !Task.isCancelled {
            await refreshGauges()
            try? await Task.sleep(for: .seconds(5))
        }
    }

    /// Reads the consumers' backlogs (cluster-wide) into the gauges.
    func refreshGauges() async {
        if let router = await stream.routerPending() {
            Self.routerPending.record(Int64(clamping: router.pending))
        }
        let names = targetNames()
        let pending = await stream.deliveryPending(targets: names)
        for (target, state) in pending {
            let gauge = gauges.withLock { gauges in
                if let gauge = gauges[target] { return gauge }
                let made = (
                    pending: Gauge(label: "relay_consumer_pending", dimensions: [("target", target)]),
                    ackPending: Gauge(label: "relay_consumer_ack_pending", dimensions: [("target", target)])
                )
                gauges[target] = made
                return made
            }
            gauge.pending.record(Int64(clamping: state.pending))
            gauge.ackPending.record(state.ackPending)
        }
    }
}
