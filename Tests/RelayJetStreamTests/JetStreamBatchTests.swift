import Logging
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog
import RelayTestSupport
import ServiceLifecycle
import Testing

/// `batch` on the JetStream delivery log, which forms no batches (docs/delivery.md, "Batches"): a batched target
/// still gets every record, one per request under its own delivery id.
@Suite(.timeLimit(.minutes(2)))
struct JetStreamBatchTests {
    @Test func aBatchedTargetGetsOneRecordPerRequestUnderItsOwnID() async throws {
        try await NATSServer.with { server in
            try await Receiver.withReceiver { receiver in
                let target = Target(
                    name: "receiver",
                    url: receiver.url(path: "/hook"),
                    format: .records,
                    batch: TargetBatch(maxRecords: 10)
                )
                let log = try await JetStreamDeliveryLog.open(
                    JetStreamConfiguration(servers: [server.url]),
                    logger: .quiet
                )
                #expect(!log.supportsBatches)
                let client = try CurlClient()
                let service = DeliveryService(
                    client: client,
                    log: log,
                    targets: { $0 == target.name ? target : nil },
                    targetNames: { [target.name] },
                    logger: .quiet
                )
                let payloads = (0..<5).map { Array(#"{"Records":[{"n":\#($0)}]}"#.utf8) }
                let group = ServiceGroup(
                    configuration: .init(
                        services: [CurlClientService(client: client), service],
                        gracefulShutdownSignals: [],
                        cancellationSignals: [],
                        logger: .quiet
                    )
                )
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    _ = try await log.append(
                        payloads.enumerated().map { index, payload in
                            RecordDeliveries(
                                identity: ResendIdentity(["batch", "\(index)"]),
                                deliveries: [
                                    NewDelivery(
                                        deliveryID: "d\(index)",
                                        target: target.name,
                                        rule: "rule-1",
                                        payload: payload,
                                        createdAt: .now()
                                    )
                                ]
                            )
                        },
                        at: .now()
                    )
                    service.wake(targets: [target.name])
                    _ = try await receiver.waitForRequests(count: 5, path: "/hook", timeout: .seconds(30))
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                let requests = receiver.requests(path: "/hook")
                #expect(requests.count == 5)
                #expect(Set(requests.compactMap { $0.header("webhook-id") }) == Set((0..<5).map { "d\($0)" }))
                #expect(Set(requests.map(\.body)) == Set(payloads), "each record alone, as stored")
                #expect(requests.allSatisfy { $0.header("X-Relay-Batch-Records") == nil })
                await log.close()
            }
        }
    }
}
