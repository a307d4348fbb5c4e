import RelayCore
import RelayDelivery
import RelayLog
import RelayTestSupport
import Testing

/// The circuit breaker, transition by transition.
struct CircuitBreakerTests {
    static let configuration = CircuitBreaker.Configuration(
        failureThreshold: 3,
        initialProbeInterval: .milliseconds(1_000),
        maxProbeInterval: .milliseconds(4_000)
    )

    @Test func staysClosedBelowTheThreshold() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        let result1 = breaker.permission(now: 0)
        #expect(result1 == .flow)
        let result2 = breaker.recordFailure(now: 0)
        #expect(!result2)
        let result3 = breaker.recordFailure(now: 1)
        #expect(!result3)
        #expect(breaker.state == .closed)
        let result4 = breaker.permission(now: 2)
        #expect(result4 == .flow)
    }

    @Test func aSuccessResetsTheFailureCount() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        breaker.recordFailure(now: 0)
        breaker.recordFailure(now: 0)
        let result5 = breaker.recordSuccess()
        #expect(!result5, "closing a closed breaker is no transition")
        breaker.recordFailure(now: 0)
        breaker.recordFailure(now: 0)
        #expect(breaker.state == .closed)
    }

    @Test func opensAtTheThresholdAndHoldsBackUntilTheProbeIsDue() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        breaker.recordFailure(now: 100)
        breaker.recordFailure(now: 100)
        let result6 = breaker.recordFailure(now: 100)
        #expect(result6, "the third consecutive failure opens it")
        #expect(breaker.state == .open(until: 1_100))
        let result7 = breaker.permission(now: 500)
        #expect(result7 == .wait(until: 1_100))
        let result8 = breaker.permission(now: 1_100)
        #expect(result8 == .probe)
        #expect(breaker.state == .halfOpen)
        let result9 = breaker.permission(now: 1_200)
        #expect(result9 == .wait(until: 2_200), "one probe at a time")
    }

    @Test func lateFailuresWhileOpenDoNotMoveTheProbe() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        for _ in 0..<3 { breaker.recordFailure(now: 0) }
        let result10 = breaker.recordFailure(now: 900)
        #expect(!result10)
        #expect(breaker.state == .open(until: 1_000))
    }

    @Test func aFailedProbeReopensWithADoubledIntervalUpToTheCap() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        for _ in 0..<3 { breaker.recordFailure(now: 0) }
        let result11 = breaker.permission(now: 1_000)
        #expect(result11 == .probe)
        breaker.recordFailure(now: 1_000)
        #expect(breaker.state == .open(until: 3_000))
        let result12 = breaker.permission(now: 3_000)
        #expect(result12 == .probe)
        breaker.recordFailure(now: 3_000)
        #expect(breaker.state == .open(until: 7_000))
        let result13 = breaker.permission(now: 7_000)
        #expect(result13 == .probe)
        breaker.recordFailure(now: 7_000)
        #expect(breaker.state == .open(until: 11_000), "capped at maxProbeInterval")
    }

    @Test func aSuccessfulProbeClosesAndResetsTheInterval() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        for _ in 0..<3 { breaker.recordFailure(now: 0) }
        _ = breaker.permission(now: 1_000)
        breaker.recordFailure(now: 1_000)
        _ = breaker.permission(now: 3_000)
        let result14 = breaker.recordSuccess()
        #expect(result14)
        #expect(breaker.state == .closed)
        let result15 = breaker.permission(now: 3_001)
        #expect(result15 == .flow)
        for _ in 0..<3 { breaker.recordFailure(now: 5_000) }
        #expect(breaker.state == .open(until: 6_000), "the interval starts over")
    }

    @Test func aProbeNotSentLeavesItOpenAndDueNow() {
        var breaker = CircuitBreaker(configuration: Self.configuration)
        for _ in 0..<3 { breaker.recordFailure(now: 0) }
        let result16 = breaker.permission(now: 1_000)
        #expect(result16 == .probe)
        breaker.probeNotSent(now: 1_500)
        #expect(breaker.state == .open(until: 1_500))
        let result17 = breaker.permission(now: 1_500)
        #expect(result17 == .probe)
    }
}
