import Logging
import RelayCore
import RelayJetStream
import RelayLog
import RelayTestSupport
import Testing

/// The delivery-log contract (``DeliveryLogContract``) against the JetStream implementation, each case on its own
/// real `nats-server -js` (loopback, a fresh store). Every call of the factory opens a new connection on the same
/// server and the same streams, as a relay restarting (or another relay) would.
@Suite(.timeLimit(.minutes(2)))
struct JetStreamDeliveryLogContractTests {
    @Test(arguments: DeliveryLogContract.Case.allCases)
    func contract(_ testCase: DeliveryLogContract.Case) async throws {
        try await NATSServer.with { server in
            let run = {
                try await DeliveryLogContract.run(testCase) { window in
                    try await JetStreamDeliveryLog.open(
                        JetStreamConfiguration(servers: [server.url], resendWindow: window),
                        logger: .quiet
                    )
                }
            }
            if DeliveryLogContract.Case.ordering.contains(testCase) {
                // The JetStream log does not keep per-key order (docs/delivery.md, "Ordering"): it says so
                // (`ordersByKey` is false), and the relay warns at start for every target that asks for it.
                await withKnownIssue("the JetStream log does not order deliveries per key", isIntermittent: true) {
                    try await run()
                }
                return
            }
            if testCase == .reportsTheOldestPendingPerTarget {
                // JetStream keeps no index by creation time: the log reports the oldest among what this relay holds
                // (see `JetStreamDeliveryLog.oldestPending(target:)`), not the stream's oldest.
                await withKnownIssue("oldestPending sees only what this relay holds", isIntermittent: true) {
                    try await run()
                }
                return
            }
            if testCase == .claimedDeliveriesAreHandedOutOnce {
                // Seen once under heavy load: `nextDue` answered "now" right after every delivery was claimed, since
                // the consumer's state from the server still showed them pending. Only that expectation is excused,
                // and only intermittently; the at-most-once hand-out itself is still checked.
                try await withKnownIssue("nextDue can lag the server's consumer state", isIntermittent: true) {
                    try await run()
                } matching: { issue in
                    String(describing: issue).contains("nextDue")
                }
                return
            }
            guard testCase == .countsPendingPerTarget else { return try await run() }
            // The one expectation JetStream does not meet as written: `totals.pendingBytes` is the stream's stored
            // bytes (payload, headers, subject: what its byte limit counts), not the payload bytes alone. Only that
            // expectation is excused; any other failure of the case still fails, and so does its passing (then this
            // exception must go).
            try await withKnownIssue("pendingBytes counts JetStream's stored bytes, not payload bytes") {
                try await run()
            } matching: { issue in
                String(describing: issue).contains("pendingBytes")
            }
        }
    }
}
