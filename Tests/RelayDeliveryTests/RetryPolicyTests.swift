import RelayCore
import RelayDelivery
import RelayLog
import RelayTestSupport
import Testing

@Suite struct RetryPolicyTests {
    enum Expected: Sendable, CustomTestStringConvertible {
        case delivered, retried, rejected

        var testDescription: String {
            switch self {
            case .delivered: "delivered"
            case .retried: "retried"
            case .rejected: "rejected"
            }
        }
    }

    static let statusTable: [(Int, Expected)] = [
        (100, .rejected), (101, .rejected),
        (200, .delivered), (201, .delivered), (202, .delivered), (204, .delivered), (299, .delivered),
        (300, .rejected), (301, .rejected), (302, .rejected), (304, .rejected), (307, .rejected), (308, .rejected),
        (400, .rejected), (401, .rejected), (403, .rejected), (404, .rejected), (405, .rejected), (409, .rejected),
        (410, .rejected), (413, .rejected), (415, .rejected), (422, .rejected), (426, .rejected), (451, .rejected),
        (408, .retried), (425, .retried), (429, .retried),
        (500, .retried), (501, .retried), (502, .retried), (503, .retried), (504, .retried), (599, .retried),
    ]

    static let transportTable: [(TransportError.Code, Expected)] = [
        (.timeout, .retried), (.connectionRefused, .retried), (.couldNotResolveHost, .retried),
        (.sendFailed, .retried), (.receiveFailed, .retried), (.shutdown, .retried), (.other, .retried),
        (.invalidRequest, .rejected),
    ]

    private func classify(_ decision: DeliveryDecision) -> Expected? {
        switch decision {
        case .delivered: .delivered
        case .retry: .retried
        case .deadLetter(.rejected): .rejected
        case .deadLetter: nil
        }
    }

    private func decide(
        _ outcome: AttemptOutcome,
        attempts: Int = 1,
        configuration: RetryConfiguration = .init(),
        now: Timestamp = 1_700_000_000_000,
        seed: UInt64 = 42
    ) -> DeliveryDecision {
        var generator = SeededGenerator(seed: seed)
        return RetryPolicy(configuration: configuration).decide(
            outcome,
            attempts: attempts,
            now: now,
            using: &generator
        )
    }

    private func response(_ status: Int, retryAfter: String? = nil) -> AttemptOutcome {
        .response(HTTPResponse(status: status, headers: retryAfter.map { [(name: "Retry-After", value: $0)] } ?? []))
    }

    @Test(arguments: statusTable)
    func classifiesEveryStatusClass(status: Int, expected: Expected) {
        #expect(classify(decide(response(status))) == expected)
    }

    @Test(arguments: transportTable)
    func classifiesTransportErrors(code: TransportError.Code, expected: Expected) {
        let error = TransportError(code: code, curlCode: 7, message: "test")
        #expect(classify(decide(.transportError(error))) == expected)
    }

    @Test func backoffCeilingDoublesFromInitialUpToMax() {
        let policy = RetryPolicy(
            configuration: .init(attempts: 20, initialBackoff: .seconds(1), maxBackoff: .seconds(300))
        )
        let expected: [Duration] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { .seconds($0) }
        #expect((0..<expected.count).map { policy.backoffCeiling(retry: $0) } == expected)
    }

    @Test func jitteredBackoffStaysWithinEachAttemptsCeilingAndSpansIt() {
        let configuration = RetryConfiguration(
            attempts: 20,
            initialBackoff: .milliseconds(200),
            maxBackoff: .seconds(30)
        )
        let policy = RetryPolicy(configuration: configuration)
        var generator = SeededGenerator(seed: 7)
        for attempts in 1...12 {
            let ceiling = policy.backoffCeiling(retry: attempts - 1)
            var waits: [Duration] = []
            for _ in 0..<200 {
                guard
                    case .retry(let wait) = policy.decide(
                        .response(HTTPResponse(status: 503)),
                        attempts: attempts,
                        now: 0,
                        using: &generator
                    )
                else {
                    Issue.record("attempt \(attempts) was not retried")
                    return
                }
                waits.append(wait)
            }
            #expect(waits.allSatisfy { $0 >= .zero && $0 <= ceiling }, "attempt \(attempts), ceiling \(ceiling)")
            // Full jitter: draws reach both the low and the high quarter of the range.
            #expect(waits.contains { $0 < ceiling / 4 }, "attempt \(attempts)")
            #expect(waits.contains { $0 > ceiling * 3 / 4 }, "attempt \(attempts)")
        }
    }

    @Test func backoffNeverExceedsMaxBackoff() {
        let policy = RetryPolicy(
            configuration: .init(attempts: 100, initialBackoff: .seconds(1), maxBackoff: .seconds(5))
        )
        var generator = SeededGenerator(seed: 1)
        for retry in 0..<64 {
            #expect(policy.backoff(retry: retry, using: &generator) <= .seconds(5))
        }
        #expect(policy.backoffCeiling(retry: 3) == .seconds(5))
    }

    @Test(arguments: [62, 63, 64, 100, 1_000, Int.max])
    func backoffDoesNotOverflowForLargeRetryNumbers(retry: Int) {
        let policy = RetryPolicy(
            configuration: .init(attempts: 1_000, initialBackoff: .seconds(1), maxBackoff: .seconds(300))
        )
        var generator = SeededGenerator(seed: 3)
        #expect(policy.backoffCeiling(retry: retry) == .seconds(300))
        #expect(policy.backoff(retry: retry, using: &generator) <= .seconds(300))
    }

    @Test func decisionAtAttempt100IsBoundedByMaxBackoff() {
        let configuration = RetryConfiguration(attempts: 1_000, initialBackoff: .seconds(1), maxBackoff: .seconds(300))
        guard case .retry(let wait) = decide(response(500), attempts: 101, configuration: configuration) else {
            Issue.record("not retried")
            return
        }
        #expect(wait <= .seconds(300))
    }

    @Test func hugeInitialBackoffIsCutToMaxBackoff() {
        let policy = RetryPolicy(
            configuration: .init(attempts: 5, initialBackoff: .seconds(Int64.max), maxBackoff: .seconds(60))
        )
        #expect(policy.backoffCeiling(retry: 0) == .seconds(60))
        #expect(policy.backoffCeiling(retry: 1) == .seconds(60))
    }

    @Test func zeroInitialBackoffRetriesAtOnce() {
        let configuration = RetryConfiguration(attempts: 5, initialBackoff: .zero, maxBackoff: .seconds(60))
        #expect(decide(response(503), attempts: 2, configuration: configuration) == .retry(after: .zero))
    }

    @Test func sameSeedGivesSameWaitAndOtherSeedsDiffer() {
        let configuration = RetryConfiguration(attempts: 10, initialBackoff: .seconds(10), maxBackoff: .seconds(300))
        let first = decide(response(503), attempts: 4, configuration: configuration, seed: 99)
        #expect(first == decide(response(503), attempts: 4, configuration: configuration, seed: 99))
        let others = (100..<110).map { decide(response(503), attempts: 4, configuration: configuration, seed: $0) }
        #expect(others.contains { $0 != first })
    }

    @Test func retryAfterSecondsRaisesTheWait() {
        let configuration = RetryConfiguration(
            attempts: 5,
            initialBackoff: .milliseconds(1),
            maxBackoff: .milliseconds(10)
        )
        #expect(decide(response(503, retryAfter: "30"), configuration: configuration) == .retry(after: .seconds(30)))
        #expect(decide(response(429, retryAfter: "2"), configuration: configuration) == .retry(after: .seconds(2)))
    }

    @Test func retryAfterHTTPDateIsMeasuredFromNow() {
        let configuration = RetryConfiguration(
            attempts: 5,
            initialBackoff: .milliseconds(1),
            maxBackoff: .milliseconds(10)
        )
        let decision = decide(
            response(503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"),
            configuration: configuration,
            now: Timestamp(millisecondsSince1970: (1_445_412_480 - 120) * 1000)
        )
        #expect(decision == .retry(after: .seconds(120)))
    }

    @Test func retryAfterIsCappedAtRetryAfterCap() {
        var configuration = RetryConfiguration(
            attempts: 5,
            initialBackoff: .milliseconds(1),
            maxBackoff: .milliseconds(10)
        )
        configuration.retryAfterCap = .seconds(90)
        #expect(
            decide(response(503, retryAfter: "100000"), configuration: configuration) == .retry(after: .seconds(90))
        )
        #expect(
            decide(response(503, retryAfter: "99999999999999999999999"), configuration: configuration)
                == .retry(after: .seconds(90))
        )
    }

    @Test func retryAfterShorterThanBackoffKeepsTheJitteredBackoff() {
        let configuration = RetryConfiguration(attempts: 5, initialBackoff: .seconds(100), maxBackoff: .seconds(100))
        let plain = decide(response(503), configuration: configuration, seed: 5)
        #expect(decide(response(503, retryAfter: "0"), configuration: configuration, seed: 5) == plain)
        guard case .retry(let wait) = plain else {
            Issue.record("not retried")
            return
        }
        #expect(wait > .zero)
    }

    @Test func unreadableRetryAfterIsIgnored() {
        let configuration = RetryConfiguration(attempts: 5, initialBackoff: .seconds(1), maxBackoff: .seconds(1))
        let plain = decide(response(503), configuration: configuration, seed: 11)
        #expect(decide(response(503, retryAfter: "soon"), configuration: configuration, seed: 11) == plain)
    }

    @Test func retryAfterOnANonRetryableStatusStillRejects() {
        #expect(decide(response(400, retryAfter: "5")) == .deadLetter(reason: .rejected))
    }

    @Test func exhaustsAfterConfiguredAttempts() {
        let configuration = RetryConfiguration(attempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(10))
        let timeout = AttemptOutcome.transportError(TransportError(code: .timeout, curlCode: 28, message: "timed out"))
        #expect(classify(decide(response(503), attempts: 1, configuration: configuration)) == .retried)
        #expect(classify(decide(timeout, attempts: 2, configuration: configuration)) == .retried)
        #expect(decide(response(503), attempts: 3, configuration: configuration) == .deadLetter(reason: .exhausted))
        #expect(decide(timeout, attempts: 3, configuration: configuration) == .deadLetter(reason: .exhausted))
        #expect(decide(response(503), attempts: 7, configuration: configuration) == .deadLetter(reason: .exhausted))
        // The last attempt's own outcome still counts: success delivers, a 4xx is a rejection.
        #expect(decide(response(200), attempts: 3, configuration: configuration) == .delivered)
        #expect(decide(response(404), attempts: 3, configuration: configuration) == .deadLetter(reason: .rejected))
    }

    @Test(arguments: [0, 1, -5])
    func attemptsBelowTwoAllowNoRetry(attempts: Int) {
        let configuration = RetryConfiguration(
            attempts: attempts,
            initialBackoff: .seconds(1),
            maxBackoff: .seconds(10)
        )
        #expect(decide(response(503), attempts: 1, configuration: configuration) == .deadLetter(reason: .exhausted))
    }
}
