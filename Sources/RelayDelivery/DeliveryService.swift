import Foundation
import Logging
import Metrics
import RelayCore
import RelaySpool
import ServiceLifecycle
import Synchronization

/// Delivers spooled deliveries to their targets: one worker per target, at most `maxInFlight` attempts in flight
/// per target, retries with backoff from `RetryPolicy`, dead letters when a delivery gives up (DESIGN §4).
///
/// The spool is the source of truth: a worker reads due rows from it, so the backlog lives on disk and a restart
/// resumes where the last run stopped. A row stays claimed by its worker until the spool has committed its outcome
/// (deleted, rescheduled), so no row is ever in flight twice in one process.
public final class DeliveryService: Service, Sendable {
    private let client: CurlClient
    private let spool: Spool
    private let deadLetters: DeadLetterFile
    private let targets: @Sendable (String) -> Target?
    private let targetNames: @Sendable () -> [String]
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let workers = Mutex<[String: TargetWorker]>([:])
    private let newTargets = WakeSignal()
    private let stopping = Atomic<Bool>(false)
    private let metrics = DeliveryMetrics()
    private let breakerConfiguration: CircuitBreaker.Configuration

    /// - Parameters:
    ///   - targets: looks a target up by name in the rule set in force (rules can be reloaded).
    ///   - targetNames: the names of the targets in force, for the workers started at launch.
    ///   - now: the wall clock in milliseconds since the epoch.
    public init(
        client: CurlClient,
        spool: Spool,
        deadLetters: DeadLetterFile,
        targets: @escaping @Sendable (String) -> Target?,
        targetNames: @escaping @Sendable () -> [String],
        logger: Logger,
        breaker: CircuitBreaker.Configuration = .init(),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.breakerConfiguration = breaker
        self.client = client
        self.spool = spool
        self.deadLetters = deadLetters
        self.targets = targets
        self.targetNames = targetNames
        self.logger = logger
        self.now = now
    }

    /// Tells the workers of `targets` that new rows are due; starts a worker for a target seen for the first time.
    public func wake(targets names: [String]) {
        var unknown = false
        workers.withLock { workers in
            for name in names {
                if let worker = workers[name] {
                    worker.signal.signal()
                } else {
                    unknown = true
                }
            }
        }
        if unknown {
            pendingNew.withLock { $0.formUnion(names) }
            newTargets.signal()
        }
    }

    private let pendingNew = Mutex<Set<String>>([])

    /// Publishes the spool gauges (called before `/metrics` is rendered).
    public func updateGauges() {
        metrics.pending.record(spool.pendingCount)
        metrics.pendingBytes.record(spool.pendingBytes)
    }

    public func run() async throws {
        var initial = Set(targetNames())
        do {
            initial.formUnion(try await spool.pendingTargets())
        } catch {
            logger.error("Cannot list the spool's pending targets", metadata: ["error": "\(error)"])
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for name in initial.sorted() {
                    startWorker(name, in: &group)
                }
                group.addTask { await self.tick() }
                while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
                    await newTargets.wait()
                    let names = pendingNew.withLock { names -> Set<String> in
                        defer { names.removeAll() }
                        return names
                    }
                    for name in names.sorted() {
                        startWorker(name, in: &group)
                    }
                }
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.newTargets.signal()
            let all = self.workers.withLock { Array($0.values) }
            for worker in all { worker.signal.signal() }
        }
        logger.info("Delivery stopped; undelivered rows stay in the spool")
    }

    /// Wakes each worker whose wait has reached its deadline: one timer for all workers, not one per wait.
    private func tick() async {
        while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(25))
            let now = ContinuousClock.now
            let all = workers.withLock { Array($0.values) }
            for worker in all {
                worker.signal.fireIfDue(now: now)
            }
        }
    }

    private func startWorker(_ name: String, in group: inout DiscardingTaskGroup) {
        let worker = workers.withLock { workers -> TargetWorker? in
            guard workers[name] == nil else { return nil }
            let worker = TargetWorker(name: name, breaker: breakerConfiguration)
            workers[name] = worker
            return worker
        }
        guard let worker else { return }
        group.addTask { await self.runWorker(worker) }
    }

    /// One target's loop: claim due rows up to the target's `maxInFlight`, attempt each in a child task, sleep until
    /// the next row is due or a wake-up arrives.
    private func runWorker(_ worker: TargetWorker) async {
        await withDiscardingTaskGroup { group in
            while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
                var sleep: Duration = .seconds(5)
                guard let target = targets(worker.name) else {
                    if await deadLetterOrphans(worker) < Self.orphanBatch {
                        await worker.signal.wait(timeout: .seconds(30))
                    }
                    continue
                }
                let claimed = worker.claimed.withLock { $0 }
                var room = max(target.maxInFlight, 1) - claimed.count
                let permission = worker.breaker.withLock { $0.permission(now: self.now()) }
                switch permission {
                case .flow:
                    break
                case .probe:
                    room = min(room, 1)
                case .wait(let until):
                    room = 0
                    sleep = .milliseconds(min(max(until - self.now(), 1), 5000))
                }
                if room > 0 {
                    let now = self.now()
                    do {
                        let rows = try await spool.due(target: worker.name, now: now, limit: room, excluding: claimed)
                        if !rows.isEmpty {
                            worker.claimed.withLock { claimed in
                                for row in rows { claimed.insert(row.rowID) }
                            }
                        }
                        for row in rows {
                            group.addTask { await self.attempt(row, target: target, worker: worker) }
                        }
                        if permission == .probe && rows.isEmpty {
                            // Nothing is due to probe with: stay open and probe when a row comes due.
                            worker.breaker.withLock { $0.probeNotSent(now: now) }
                        }
                        if rows.count < room {
                            let excluding = worker.claimed.withLock { $0 }
                            if let next = try await spool.nextAttemptTime(target: worker.name, excluding: excluding) {
                                sleep = .milliseconds(min(max(next - self.now(), 1), 5000))
                            }
                        } else {
                            // Full: completions wake the worker.
                            sleep = .seconds(5)
                        }
                    } catch {
                        logger.error(
                            "Cannot read due deliveries from the spool",
                            metadata: ["target.name": "\(worker.name)", "error": "\(error)"]
                        )
                        sleep = .seconds(1)
                    }
                }
                await worker.signal.wait(timeout: sleep)
            }
        }
    }

    /// Rows dead-lettered per pass for a target that is no longer in the rules.
    private static let orphanBatch = 256

    /// Rows of a target that is no longer in the rules go to the dead-letter file, so nothing waits forever unseen.
    /// - Returns: how many rows it dead-lettered (at most `orphanBatch`).
    private func deadLetterOrphans(_ worker: TargetWorker) async -> Int {
        do {
            let claimed = worker.claimed.withLock { $0 }
            let rows = try await spool.due(
                target: worker.name,
                now: Int64.max,
                limit: Self.orphanBatch,
                excluding: claimed
            )
            for row in rows {
                let letter = DeadLetter(
                    time: DeadLetter.timestamp(millisecondsSince1970: now()),
                    reason: "unknown_target",
                    rule: row.rule,
                    target: row.target,
                    deliveryID: row.deliveryID,
                    attempts: row.attempts,
                    lastStatus: row.lastStatus,
                    lastError: row.lastError,
                    detail: "target \"\(row.target)\" is not in the rules in force",
                    payload: String(decoding: row.payload, as: UTF8.self)
                )
                try await deadLetters.append([letter])
                try await spool.removeDeadLettered(rowID: row.rowID)
                metrics.outcome(target: row.target, "dead_letter")
            }
            if !rows.isEmpty {
                logger.warning(
                    "Dead-lettered deliveries of a target that is no longer in the rules",
                    metadata: ["target.name": "\(worker.name)", "deliveries": "\(rows.count)"]
                )
            }
            return rows.count
        } catch {
            logger.error(
                "Cannot dead-letter deliveries of an unknown target",
                metadata: ["target.name": "\(worker.name)", "error": "\(error)"]
            )
            return 0
        }
    }

    /// One attempt of one delivery, and the spool update its outcome calls for.
    private func attempt(_ row: SpooledDelivery, target: Target, worker: TargetWorker) async {
        let attemptNumber = row.attempts + 1
        let headers = DeliveryHeaders.make(
            target: target,
            deliveryID: row.deliveryID,
            rule: row.rule,
            attempt: attemptNumber,
            body: row.payload,
            now: now() / 1000
        )
        let request = HTTPRequest(
            method: "POST",
            url: target.url,
            headers: headers,
            body: row.payload,
            timeout: target.timeout,
            connectTimeout: min(target.timeout, .seconds(5))
        )
        let started = ContinuousClock.now
        let outcome: AttemptOutcome
        do {
            outcome = .response(try await client.execute(request))
        } catch let error as TransportError where error.code != .shutdown {
            outcome = .transportError(error)
        } catch {
            // `.shutdown`: the client stopped before asking the target, so this was not an attempt.
            // Cancelled (shutdown): the row stays in the spool as it was and is attempted after the restart.
            release(row, worker)
            return
        }
        metrics.latency(target: target.name, ContinuousClock.now - started)
        let configuration = RetryConfiguration(
            attempts: target.retry.attempts,
            initialBackoff: target.retry.initialBackoff,
            maxBackoff: target.retry.maxBackoff
        )
        var random = SystemRandomNumberGenerator()
        let nowMs = now()
        let decision = RetryPolicy(configuration: configuration).decide(
            outcome,
            attempts: attemptNumber,
            now: Double(nowMs) / 1000,
            using: &random
        )
        let status = outcome.status
        let errorText = outcome.errorDescription
        recordHealth(outcome, decision: decision, target: target.name, worker: worker, now: nowMs)
        var logMetadata: Logger.Metadata = [
            "target.name": "\(target.name)", "rule.name": "\(row.rule)", "delivery.id": "\(row.deliveryID)",
            "delivery.attempt": "\(attemptNumber)",
        ]
        if let status { logMetadata["http.response.status_code"] = "\(status)" }
        if let errorText { logMetadata["error"] = "\(errorText)" }
        switch decision {
        case .delivered:
            await persist("complete", logMetadata) { try await self.spool.complete(rowID: row.rowID) }
            metrics.outcome(target: target.name, "delivered")
            logger.info("Delivered", metadata: logMetadata)
        case .retry(let after):
            let delay = after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000
            await persist("reschedule", logMetadata) {
                try await self.spool.reschedule(
                    rowID: row.rowID,
                    attempts: attemptNumber,
                    nextAttemptAt: nowMs + delay,
                    lastStatus: status,
                    lastError: errorText
                )
            }
            metrics.outcome(target: target.name, "retry")
            logMetadata["delivery.retry_in_ms"] = "\(delay)"
            logger.warning("Delivery attempt failed, will retry", metadata: logMetadata)
        case .deadLetter(let reason):
            let letter = DeadLetter(
                time: DeadLetter.timestamp(millisecondsSince1970: nowMs),
                reason: reason.rawValue,
                rule: row.rule,
                target: target.name,
                url: target.url,
                deliveryID: row.deliveryID,
                attempts: attemptNumber,
                lastStatus: status,
                lastError: errorText,
                payload: String(decoding: row.payload, as: UTF8.self)
            )
            // The line first: if the process dies between the two, the row is dead-lettered twice, never lost.
            if await persist("dead-letter", logMetadata, { try await self.deadLetters.append([letter]) }) {
                await persist("remove", logMetadata) { try await self.spool.removeDeadLettered(rowID: row.rowID) }
            }
            metrics.outcome(target: target.name, "dead_letter")
            logMetadata["dead_letter.reason"] = "\(reason.rawValue)"
            logger.error("Delivery dead-lettered", metadata: logMetadata)
        }
        release(row, worker)
    }

    /// Records an attempt's outcome durably, retrying (1 s, doubling to 30 s) while the spool or the dead-letter file
    /// cannot be written (a full disk): the row stays claimed meanwhile, so a delivered event is not sent again and
    /// again while its completion cannot be recorded. Gives up only when the service stops; the row then stays as it
    /// was, and is attempted again after the restart (a duplicate at worst, never a loss).
    /// - Returns: whether the operation succeeded.
    @discardableResult
    private func persist(
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
                    metadata["spool.operation"] = "\(operation)"
                    metadata["spool.error"] = "\(error)"
                    metadata["spool.failures"] = "\(failures)"
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

    /// Feeds the target's circuit breaker: an answer that is not a retryable failure shows the target is alive.
    private func recordHealth(
        _ outcome: AttemptOutcome,
        decision: DeliveryDecision,
        target: String,
        worker: TargetWorker,
        now: Int64
    ) {
        let failed: Bool
        switch decision {
        case .delivered, .deadLetter(.rejected): failed = false
        case .retry, .deadLetter(.exhausted): failed = true
        }
        let (opened, closed, failures) = worker.breaker.withLock { breaker in
            failed
                ? (breaker.recordFailure(now: now), false, breaker.consecutiveFailures)
                : (false, breaker.recordSuccess(), 0)
        }
        if opened {
            logger.warning(
                "Target failing, holding deliveries back (circuit open); probing it once per interval",
                metadata: ["target.name": "\(target)", "target.consecutive_failures": "\(failures)"]
            )
            metrics.breaker(target: target, "opened")
        }
        if closed {
            logger.notice("Target answering again (circuit closed)", metadata: ["target.name": "\(target)"])
            metrics.breaker(target: target, "closed")
        }
    }

    private func release(_ row: SpooledDelivery, _ worker: TargetWorker) {
        worker.claimed.withLock { _ = $0.remove(row.rowID) }
        worker.signal.signal()
    }
}

/// The state of one target's worker shared with its attempt tasks.
final class TargetWorker: Sendable {
    let name: String
    let signal = WakeSignal()
    /// Row ids read from the spool and not yet settled: in flight, or waiting for their outcome's commit.
    let claimed = Mutex<Set<Int64>>([])
    /// Holds the target back after consecutive failures.
    let breaker: Mutex<CircuitBreaker>

    init(name: String, breaker: CircuitBreaker.Configuration) {
        self.name = name
        self.breaker = Mutex(CircuitBreaker(configuration: breaker))
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
