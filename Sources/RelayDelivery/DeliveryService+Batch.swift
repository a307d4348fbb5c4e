import Logging
import RelayCore
import RelayLog
import Synchronization

// Batched delivery (docs/delivery.md, "Batches"): a target with `batch` gets up to `maxRecords` records per request,
// one delivery id per batch, retried and dead-lettered as a whole. The waiting is the worker's own wait (the one
// ticker of the service), never a timer per record; a batch in memory is at most `maxBytes` of records.
extension DeliveryService {
    /// Claims due batches of `target` up to `room` (one while probing) and starts an attempt of each in `group`.
    ///
    /// - Returns: how long the worker may sleep: until the next due batch, or until the earliest delivery waiting
    ///   in no batch has waited `maxWait` (its batch is then sent however full).
    func claimBatches(
        _ worker: TargetWorker,
        target: Target,
        policy: TargetBatch,
        room: Int,
        isProbe: Bool,
        now: Timestamp,
        in group: inout DiscardingTaskGroup
    ) async throws -> Duration {
        var room = room
        var probing = isProbe
        var started = 0
        while room > 0 {
            // One claim for all the room there is (one scan and one commit in the SQLite spool); a probe is one batch.
            let limit = probing ? 1 : room
            let batches = try await log.claimBatches(
                target: worker.name,
                now: now,
                maxRecords: policy.maxRecords,
                maxBytes: policy.maxBytes,
                formBefore: now + (.zero - policy.maxWait),
                limit: limit
            )
            for (index, batch) in batches.enumerated() {
                if probing && started > 0 {
                    // The batch before turned out to be a probe: the rest wait for its outcome.
                    for unsent in batches[index...] { log.release(unsent) }
                    break
                }
                if !worker.startChecked.exchange(true, ordering: .relaxed), !probing, batch.lastError != nil {
                    // A batch that was failing when the relay last stopped: probe with it before counting attempts.
                    worker.breaker.withLock { $0.suspect() }
                    probing = true
                }
                worker.inFlight.add(1, ordering: .relaxed)
                let probe = probing
                group.addTask { await self.attemptBatch(batch, target: target, worker: worker, probe) }
                started += 1
                room -= 1
            }
            // Fewer than asked for: nothing more is due now.
            if probing || batches.count < limit { break }
        }
        if probing && started == 0 {
            worker.breaker.withLock { $0.probeNotSent(now: now) }
        }
        guard room > 0, let next = try await log.nextDue(target: worker.name) else { return .seconds(5) }
        let current = self.now()
        // Due and still unclaimed: a delivery in no batch yet, waiting for its batch to fill.
        let wake = next <= current ? next + policy.maxWait : next
        return min(max(wake - current, .milliseconds(1)), .seconds(5))
    }

    /// One attempt of one claimed batch: one request with the batch body, and the outcome recorded for all members.
    ///
    /// - Parameter isProbe: the attempt is the circuit breaker's probe: a failure counts no attempt.
    func attemptBatch(_ batch: PendingBatch, target: Target, worker: TargetWorker, _ isProbe: Bool) async {
        defer { settle(worker) }
        let body = PayloadBuilder.batchBody(batch.members.map(\.payload))
        let attemptNumber = batch.attempts + 1
        var headers = DeliveryHeaders.make(
            target: target,
            deliveryID: batch.batchID,
            rule: batch.rule,
            attempt: attemptNumber,
            body: body,
            now: now()
        )
        headers.append((name: "X-Relay-Batch-Records", value: String(batch.members.count)))
        let span = tracing.startAttempt(stored: batch.traceparent)
        EventTracing.setTraceparent(span.traceparent, in: &headers)
        let request = HTTPRequest(
            method: "POST",
            url: target.url,
            headers: headers,
            body: body,
            timeout: target.timeout,
            connectTimeout: min(target.timeout, .seconds(5)),
            tls: target.tls
        )
        metrics.batchRecords(target: target.name, batch.members.count)
        let started = ContinuousClock.now
        let outcome: AttemptOutcome
        do {
            outcome = .response(try await client.execute(request))
        } catch let error as TransportError where error.code != .shutdown {
            outcome = .transportError(error)
        } catch {
            if isProbe { worker.breaker.withLock { $0.probeNotSent(now: self.now()) } }
            log.release(batch)
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
            previousAttempts: batch.attempts
        )
        let status = outcome.status
        let errorText = outcome.errorDescription
        var logMetadata: Logger.Metadata = [
            "target.name": "\(target.name)", "rule.name": "\(batch.rule)", "delivery.id": "\(batch.batchID)",
            "delivery.attempt": "\(attemptNumber)", "batch.records": "\(batch.members.count)",
        ]
        if let status { logMetadata["http.response.status_code"] = "\(status)" }
        if let errorText { logMetadata["error"] = "\(errorText)" }
        defer {
            span.set(logMetadata)
            if let errorText { span.fail(errorText) }
            span.end()
        }
        let count = batch.members.count
        switch decision {
        case .delivered:
            logMetadata["delivery.outcome"] = "delivered"
            await persist("delivered", logMetadata) { try await self.log.delivered(batch) }
            metrics.outcome(target: target.name, .delivered, count: count)
            for member in batch.members { report(member, attempt: attemptNumber, outcome, elapsed, .delivered) }
            logger.debug("Delivered", metadata: logMetadata)
        case .retry(let after):
            logMetadata["delivery.outcome"] = "retry"
            await persist("retry", logMetadata) {
                try await self.log.retry(
                    batch,
                    attempts: attempts,
                    at: nowInstant + after,
                    lastStatus: status,
                    lastError: errorText
                )
            }
            metrics.outcome(target: target.name, .retry, count: count)
            for member in batch.members {
                report(member, attempt: attemptNumber, outcome, elapsed, .retry(after: after, counted: counted))
            }
            logMetadata["delivery.retry_in_ms"] = "\(after.wholeMilliseconds)"
            logMetadata["delivery.counted"] = "\(counted)"
            logger.warning("Delivery attempt failed, will retry", metadata: logMetadata)
        case .deadLetter(let reason):
            logMetadata["delivery.outcome"] = "dead_letter"
            // One line for the whole batch: the exact body sent (replay sends it again under the batch's id) and the
            // members' ids.
            let letter = DeadLetter(
                time: nowInstant.iso8601,
                reason: reason,
                rule: batch.rule,
                target: target.name,
                url: RedactedURL.redact(target.url),
                deliveryID: batch.batchID,
                attempts: attempts,
                lastStatus: status,
                lastError: errorText,
                traceparent: batch.traceparent,
                members: batch.members.map(\.deliveryID),
                payload: String(decoding: body, as: UTF8.self)
            )
            await persist("dead-letter", logMetadata) { try await self.log.deadLetter(batch, letter) }
            metrics.outcome(target: target.name, .deadLetter, count: count)
            metrics.deadLetter(target: target.name, reason, count: count)
            for member in batch.members {
                report(member, attempt: attemptNumber, outcome, elapsed, .deadLetter(reason))
            }
            logMetadata["dead_letter.reason"] = "\(reason.rawValue)"
            logger.error("Delivery dead-lettered", metadata: logMetadata)
        }
    }

    /// Logs once per worker that the delivery log forms no batches, so `batch` sends each record alone.
    func warnBatchesUnsupported(_ worker: TargetWorker) {
        guard !worker.batchWarned.exchange(true, ordering: .relaxed) else { return }
        logger.warning(
            "The delivery log does not form batches; this target's records are sent one per request",
            metadata: ["target.name": "\(worker.name)", "delivery.log": "\(type(of: log))"]
        )
    }
}
