import Logging
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog
import RelayTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The real delivery service (libcurl, retries, circuit breaker) of two relays on one JetStream log, against a
/// real receiver on loopback: the log as the delivery loop uses it, not only as the contract calls it.
@Suite(.timeLimit(.minutes(2)))
struct JetStreamDeliveryServiceTests {
    @Test func twoRelaysDeliverEveryDeliveryAndRetryTheFailedOnes() async throws {
        try await NATSServer.with { server in
            // The first request of every delivery fails with 503; the next succeeds.
            let seen = Mutex<Set<String>>([])
            try await Receiver.withReceiver(responder: { request, _ in
                let first = seen.withLock { $0.insert(request.header("webhook-id") ?? "").inserted }
                return first ? .init(status: 503) : .ok
            }) { receiver in
                let target = Target(
                    name: "receiver",
                    url: receiver.url(path: "/hook"),
                    maxInFlight: 4,
                    retry: RetryConfiguration(
                        attempts: 3,
                        initialBackoff: .milliseconds(50),
                        maxBackoff: .milliseconds(100)
                    )
                )
                let configuration = JetStreamConfiguration(servers: [server.url])
                let first = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
                let second = try await JetStreamDeliveryLog.open(configuration, logger: .quiet)
                let client = try CurlClient()
                let services = [first, second].map { log in
                    DeliveryService(
                        client: client,
                        log: log,
                        targets: { $0 == target.name ? target : nil },
                        targetNames: { [target.name] },
                        logger: .quiet,
                        // A circuit that stays closed: every failure here is a counted attempt.
                        breaker: .init(
                            failureThreshold: 1_000,
                            initialProbeInterval: .seconds(1),
                            maxProbeInterval: .seconds(1)
                        )
                    )
                }
                let count = 20
                let records = (0..<count).map { index in
                    RecordDeliveries(
                        identity: ResendIdentity(["id", "event-\(index)"]),
                        deliveries: [
                            NewDelivery(
                                deliveryID: "d\(index)",
                                target: target.name,
                                rule: "rule-1",
                                payload: Array("{\"n\":\(index)}".utf8),
                                createdAt: .now()
                            )
                        ]
                    )
                }
                let group = ServiceGroup(
                    configuration: .init(
                        services: [CurlClientService(client: client)] + services.map { $0 as any Service },
                        gracefulShutdownSignals: [],
                        cancellationSignals: [],
                        logger: .quiet
                    )
                )
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    _ = try await first.append(Array(records.prefix(count / 2)), at: .now())
                    _ = try await second.append(Array(records.suffix(count / 2)), at: .now())
                    for service in services { service.wake(targets: [target.name]) }

                    _ = try await receiver.waitForRequests(count: 2 * count, path: "/hook", timeout: .seconds(60))
                    var left = try await first.pendingCount(target: target.name)
                    for _ in 0..<100 where left > 0 {
                        try await Task.sleep(for: .milliseconds(50))
                        left = try await first.pendingCount(target: target.name)
                    }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                    #expect(left == 0, "every delivery was acked")
                }
                let requests = receiver.requests(path: "/hook")
                let delivered = requests.filter { $0.header("X-Relay-Attempt") == "2" }.compactMap {
                    $0.header("webhook-id")
                }
                #expect(Set(delivered) == Set((0..<count).map { "d\($0)" }), "each delivered on its second attempt")
                let attempts = requests.map {
                    "\($0.header("webhook-id") ?? "?")/\($0.header("X-Relay-Attempt") ?? "?")"
                }
                #expect(requests.count == 2 * count, "no delivery was attempted more than twice: \(attempts.sorted())")
                #expect(try await first.recentDeadLetters(limit: 10).isEmpty)
                await first.close()
                await second.close()
            }
        }
    }
}
