import Logging
import RelayCore
import RelayLog
import Synchronization

extension DeliveryService {
    /// One attempt of one claimed delivery, and the outcome it records in the log.
    ///
    /// - Parameter isProbe: the attempt is the circuit breaker's probe: a failure counts no attempt.
    func attempt(_ delivery: PendingDelivery, target: Target, worker: TargetWorker, _ isProbe: Bool) async {
        defer { settle(worker) }
        let attemptNumber = delivery.attempts + 1
        var headers = DeliveryHeaders.make(
            target: target,
            deliveryID: delivery.deliveryID,
            rule: delivery.rule,
            attempt: attemptNumber,
            body: delivery.payload,
            now: now()
        )
        // The event's trace, this attempt as the target's parent span (docs/operations.md, "Tracing").
        let span = tracing.startAttempt(stored: delivery.traceparent)
        EventTracing.setTraceparent(span.traceparent, in: &headers)
        let request = HTTPRequest(
            method: "POST",
            url: target.url,
            headers: headers,
            body: delivery.payload,
            timeout: target.timeout,
            connectTimeout: min(target.timeout, .seconds(5)),
            tls: target.tls
        )
        let started = ContinuousClock.now
        let outcome: AttemptOutcome
        do {
            outcome = .response(try await client.execute(request))
        } catch let error as TransportError where error.code != .shutdown {
            outcome = .transportError(error)
        } catch {
            // `.shutdown`: the client stopped before asking the target, so this was not an attempt.
            // Cancelled (shutdown): the delivery stays in the log as it was and is attempted after the restart.
            if isProbe { worker.breaker.withLock { $0.probeNotSent(now: self.now()) } }
            log.release(delivery)
            span.set("delivery.outcome", "not_sent")
            span.end()
            return
        }
        let elapsed = ContinuousClock.now - started
        metrics.latency(target: target.name, elapsed)
        let (decision, counted, attempts, nowInstant) = decide(
            outcome,
            target: target,
            worker: worker,
            isProbe: isProbe,
            previousAttempts: delivery.attempts
        )
        let status = outcome.status
        let errorText = outcome.errorDescription
        var logMetadata: Logger.Metadata = [
            "target.name": "\(target.name)", "rule.name": "\(delivery.rule)", "delivery.id": "\(delivery.deliveryID)",
            "delivery.attempt": "\(attemptNumber)",
        ]
        if let status { logMetadata["http.response.status_code"] = "\(status)" }
        if let errorText { logMetadata["error"] = "\(errorText)" }
        defer {
            span.set(logMetadata)
            if let errorText { span.fail(errorText) }
            span.end()
        }
        switch decision {
        case .delivered:
            logMetadata["delivery.outcome"] = "delivered"
            await persist("delivered", logMetadata) { try await self.log.delivered(delivery) }
            metrics.outcome(target: target.name, .delivered)
            report(delivery, attempt: attemptNumber, outcome, elapsed, .delivered)
            logger.debug("Delivered", metadata: logMetadata)
        case .retry(let after):
            logMetadata["delivery.outcome"] = "retry"
            await persist("retry", logMetadata) {
                try await self.log.retry(
                    delivery,
                    attempts: attempts,
                    at: nowInstant + after,
                    lastStatus: status,
                    lastError: errorText
                )
            }
            metrics.outcome(target: target.name, .retry)
            report(delivery, attempt: attemptNumber, outcome, elapsed, .retry(after: after, counted: counted))
            logMetadata["delivery.retry_in_ms"] = "\(after.wholeMilliseconds)"
            logMetadata["delivery.counted"] = "\(counted)"
            logger.warning("Delivery attempt failed, will retry", metadata: logMetadata)
        case .deadLetter(let reason):
            logMetadata["delivery.outcome"] = "dead_letter"
            let letter = DeadLetter(
                time: nowInstant.iso8601,
                reason: reason,
                rule: delivery.rule,
                target: target.name,
                url: RedactedURL.redact(target.url),
                deliveryID: delivery.deliveryID,
                attempts: attempts,
                lastStatus: status,
                lastError: errorText,
                traceparent: delivery.traceparent,
                payload: String(decoding: delivery.payload, as: UTF8.self)
            )
            await persist("dead-letter", logMetadata) { try await self.log.deadLetter(delivery, letter) }
            metrics.outcome(target: target.name, .deadLetter)
            metrics.deadLetter(target: target.name, reason)
            report(delivery, attempt: attemptNumber, outcome, elapsed, .deadLetter(reason))
            logMetadata["dead_letter.reason"] = "\(reason.rawValue)"
            logger.error("Delivery dead-lettered", metadata: logMetadata)
        }
    }

    /// Records an attempt's outcome durably, retrying (1 s, doubling to 30 s) while the log cannot be written (a full
    /// disk): the delivery stays claimed meanwhile, so a delivered event is not sent again and again while its
    /// outcome cannot be recorded. Gives up only when the service stops; the delivery then stays as it was in the
    /// log, and is attempted again after the restart (a duplicate at worst, never a loss).
    /// - Returns: whether the operation succeeded.
    @discardableResult
    func persist(
        _ operation: String,
        _ metadata: Logger.Metadata,
        _ body: () async throws -> Void
    ) async -> Bool {
        var delay = Duration.seconds(1)
        var failures = 0
        while true {
            do {
                try await body()
                if failures > 0 {
                    logger.notice("Delivery outcome recorded after retrying", metadata: metadata)
                }
                return true
            } catch {
                failures += 1
                if failures == 1 || failures % 10 == 0 {
                    var metadata = metadata
                    metadata["log.operation"] = "\(operation)"
                    metadata["error"] = "\(error)"
                    metadata["log.failures"] = "\(failures)"
                    logger.error(
                        "Cannot record a delivery outcome; retrying, the delivery stays held",
                        metadata: metadata
                    )
                }
                if stopping.load(ordering: .relaxed) || Task.isCancelled { return false }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    /// What an attempt's outcome decides, for one delivery or one batch (both made `previousAttempts` before it):
    /// the target's health is fed, the retry policy applied, and the attempt recorded in the history.
    /// - Returns: the decision; whether the attempt counted (only a failure while the target is believed healthy
    ///   uses an attempt up); the attempts to store; the time it was decided at.
    func decide(
        _ outcome: AttemptOutcome,
        target: Target,
        worker: TargetWorker,
        isProbe: Bool,
        previousAttempts: Int
    ) -> (decision: DeliveryDecision, counted: Bool, attempts: Int, now: Timestamp) {
        let attemptNumber = previousAttempts + 1
        let nowInstant = now()
        let counted = recordHealth(outcome, target: target.name, worker: worker, isProbe: isProbe, now: nowInstant)
        var random = SystemRandomNumberGenerator()
        let policy = RetryPolicy(configuration: target.retry)
        var decision = policy.decide(
            outcome,
            attempts: counted ? attemptNumber : previousAttempts,
            now: nowInstant,
            using: &random
        )
        if !counted, case .deadLetter(.exhausted) = decision {
            // The rules were reloaded with fewer attempts than this delivery has made: still not a counted failure.
            decision = .retry(after: policy.backoff(retry: previousAttempts, using: &random))
        }
        history.record(target: target.name, at: nowInstant, error: outcome.errorDescription)
        return (decision, counted, counted ? attemptNumber : previousAttempts, nowInstant)
    }

    /// Feeds the target's circuit breaker: an answer that is not a retryable failure shows the target is alive.
    ///
    /// - Returns: whether a failure of this attempt counts against the delivery's attempts: true only when the
    ///   attempt was not a probe and the circuit was closed when its failure arrived (the target believed healthy).
    func recordHealth(
        _ outcome: AttemptOutcome,
        target: String,
        worker: TargetWorker,
        isProbe: Bool,
        now: Timestamp
    ) -> Bool {
        let failed: Bool
        switch outcome {
        case .response(let response):
            failed = (200...299).contains(response.status) ? false : RetryPolicy.isRetryable(status: response.status)
        case .transportError(let error):
            failed = RetryPolicy.isRetryable(error)
        }
        let (opened, closed, failures, wasClosed) = worker.breaker.withLock { breaker in
            let wasClosed = breaker.isClosed
            return failed
                ? (breaker.recordFailure(now: now), false, breaker.consecutiveFailures, wasClosed)
                : (false, breaker.recordSuccess(), 0, wasClosed)
        }
        if opened {
            logger.warning(
                "Target failing, holding deliveries back (circuit open); probing it once per interval",
                metadata: ["target.name": "\(target)", "target.consecutive_failures": "\(failures)"]
            )
            metrics.breaker(target: target, .opened)
        }
        if closed {
            logger.notice("Target answering again (circuit closed)", metadata: ["target.name": "\(target)"])
            metrics.breaker(target: target, .closed)
        }
        return !isProbe && wasClosed
    }

    /// One claimed delivery of `worker` is settled (its outcome recorded or it was released): make room.
    func settle(_ worker: TargetWorker) {
        worker.inFlight.subtract(1, ordering: .relaxed)
        worker.signal.signal()
    }
}

extension AttemptOutcome {
    var status: Int? {
        if case .response(let response) = self { return response.status }
        return nil
    }

    var errorDescription: String? {
        switch self {
        case .response(let response):
            if (200..<300).contains(response.status) { return nil }
            return "HTTP \(response.status)"
        case .transportError(let error):
            return error.description
        }
    }
}
