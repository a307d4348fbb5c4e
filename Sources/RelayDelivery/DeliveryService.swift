import Logging
import Metrics
import RelayCore
import RelayLog
import ServiceLifecycle
import Synchronization

/// Delivers the delivery log's pending deliveries to their targets: one worker per target, at most `maxInFlight`
/// attempts in flight per target, retries with backoff from ``RetryPolicy``, a circuit breaker per target, dead
/// letters when a delivery gives up (docs/delivery.md).
///
/// The log is the source of truth: a worker claims due deliveries from it, so the backlog lives on disk (or in a
/// stream) and a restart resumes where the last run stopped. A claimed delivery stays claimed until its outcome is
/// recorded, so no delivery is in flight twice in one process.
///
/// Attempts are counted only while the target is believed healthy (its circuit closed): a delivery held back by an
/// open circuit keeps its attempts, and a failed probe uses none, so a target down for an hour dead-letters nothing
/// that it would not have dead-lettered had it been down for a second.
public final class DeliveryService: Service, Sendable {
    let client: CurlClient
    let log: any DeliveryLog
    let targets: @Sendable (String) -> Target?
    private let targetNames: @Sendable () -> [String]
    let logger: Logger
    let now: @Sendable () -> Timestamp
    private let workers = Mutex<[String: TargetWorker]>([:])
    private let newTargets = WakeSignal()
    let stopping = Atomic<Bool>(false)
    let metrics = DeliveryMetrics()
    /// Attempts and failures of the last minutes per target, and each target's last error (the status page).
    public let history = AttemptHistory()
    private let breakerConfiguration: CircuitBreaker.Configuration
    private let pendingNew = Mutex<Set<String>>([])
    /// Delivery outcomes and (counted by ingress) records since the last activity summary.
    public let activity = ActivityCounts()
    /// Told each outcome as it is recorded (the live tap); nil: nobody.
    let observer: (any DeliveryObserver)?
    /// The spans of the attempts and the `traceparent` each sends (docs/operations.md, "Tracing").
    let tracing: EventTracing

    /// - Parameters:
    ///   - client: the HTTP client (libcurl).
    ///   - log: the delivery log to claim from and record outcomes in.
    ///   - targets: looks a target up by name in the rule set in force (rules can be reloaded).
    ///   - targetNames: the names of the targets in force, for the workers started at launch.
    ///   - breaker: the circuit breaker's threshold and probe intervals.
    ///   - tracing: records an `attempt` span per attempt (off: none; a `traceparent` is sent either way).
    ///   - now: the wall clock.
    ///   - observer: told each delivery's outcome as it is recorded (the live tap); nil for none.
    public init(
        client: CurlClient,
        log: any DeliveryLog,
        targets: @escaping @Sendable (String) -> Target?,
        targetNames: @escaping @Sendable () -> [String],
        logger: Logger,
        breaker: CircuitBreaker.Configuration = .init(),
        tracing: EventTracing = .off,
        now: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        observer: (any DeliveryObserver)? = nil
    ) {
        self.observer = observer
        self.breakerConfiguration = breaker
        self.tracing = tracing
        self.client = client
        self.log = log
        self.targets = targets
        self.targetNames = targetNames
        self.logger = logger
        self.now = now
    }

    /// Tells the workers of `targets` that new deliveries are due; starts a worker for a target seen for the first
    /// time.
    public func wake(targets names: some Sequence<String>) {
        var unknown: [String] = []
        workers.withLock { workers in
            for name in names {
                if let worker = workers[name] {
                    worker.signal.signal()
                } else {
                    unknown.append(name)
                }
            }
        }
        if !unknown.isEmpty {
            pendingNew.withLock { $0.formUnion(unknown) }
            newTargets.signal()
        }
    }

    /// Publishes the log's gauges (called before `/metrics` is rendered).
    public func updateGauges() {
        let totals = log.totals
        metrics.pending.record(totals.pendingCount)
        metrics.pendingBytes.record(totals.pendingBytes)
        metrics.resendIdentities.record(totals.resendIdentities)
    }

    /// The circuit state of each target with a worker: `closed`, `open` or `half_open`.
    public func circuitStates() -> [String: String] {
        let all = workers.withLock { $0 }
        var states: [String: String] = [:]
        for (name, worker) in all {
            states[name] = worker.breaker.withLock { breaker in
                switch breaker.state {
                case .closed: "closed"
                case .open: "open"
                case .halfOpen: "half_open"
                }
            }
        }
        return states
    }

    public func run() async throws {
        var initial = Set(targetNames())
        do {
            initial.formUnion(try await log.pendingTargets())
        } catch is CancellationError {
            return
        } catch {
            logger.error("Cannot list the pending targets of the delivery log", metadata: ["error": "\(error)"])
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
        logger.debug("Delivery stopped; undelivered deliveries stay in the delivery log")
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

    /// The longest a worker sleeps without a wake-up.
    private static let idleWait: Duration = .seconds(5)

    /// One target's loop: claim due deliveries up to the target's `maxInFlight` (one while probing), attempt each in
    /// a child task, sleep until the next is due or a wake-up arrives.
    ///
    /// With ordered deliveries (docs/delivery.md, "Ordering") the log hands out only each key's head while no
    /// delivery of that key is in flight, and `nextDue` counts only those: a backlog queued behind in-flight heads
    /// lets the worker sleep, and each settled attempt wakes it (``settle(_:)``) to claim its key's next delivery.
    private func runWorker(_ worker: TargetWorker) async {
        await withDiscardingTaskGroup { group in
            while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
                var sleep = Self.idleWait
                guard let target = targets(worker.name) else {
                    // A pass short of a batch may still leave work: of ordered deliveries, a claim hands out one per
                    // key, and the next of a key only once the one before it is dead-lettered.
                    if await deadLetterOrphans(worker) == 0 {
                        await worker.signal.wait(timeout: .seconds(30))
                    }
                    continue
                }
                var room = max(target.maxInFlight, 1) - worker.inFlight.load(ordering: .relaxed)
                let now = self.now()
                let permission = worker.breaker.withLock { $0.permission(now: now) }
                switch permission {
                case .flow:
                    break
                case .probe:
                    room = min(room, 1)
                case .wait(let until):
                    room = 0
                    sleep = min(max(until - now, .milliseconds(1)), Self.idleWait)
                }
                if room > 0, let policy = target.batch, log.supportsBatches {
                    do {
                        sleep = try await claimBatches(
                            worker,
                            target: target,
                            policy: policy,
                            room: room,
                            isProbe: permission == .probe,
                            now: now,
                            in: &group
                        )
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.error(
                            "Cannot claim due deliveries from the delivery log",
                            metadata: ["target.name": "\(worker.name)", "error": "\(error)"]
                        )
                        sleep = .seconds(1)
                    }
                } else if room > 0 {
                    if target.batch != nil { warnBatchesUnsupported(worker) }
                    do {
                        // One read of the log for what is due now and when to look again.
                        var (claimed, nextDue) = try await log.claimAndNextDue(
                            target: worker.name,
                            now: now,
                            limit: room
                        )
                        var isProbe = permission == .probe
                        if !worker.startChecked.exchange(true, ordering: .relaxed), !isProbe,
                            let failed = claimed.firstIndex(where: { $0.lastError != nil })
                        {
                            // Deliveries that were failing when the relay last stopped: the target is not believed
                            // healthy until one probe succeeds, so a restart uses up no attempt the circuit kept.
                            worker.breaker.withLock { $0.suspect() }
                            for (index, other) in claimed.enumerated() where index != failed { log.release(other) }
                            claimed = [claimed[failed]]
                            // The released ones. Never a throw here: the probe is claimed and must be attempted.
                            nextDue = (try? await log.nextDue(target: worker.name)) ?? now + .seconds(1)
                            isProbe = true
                        }
                        worker.inFlight.add(claimed.count, ordering: .relaxed)
                        let probing = isProbe
                        for delivery in claimed {
                            group.addTask { await self.attempt(delivery, target: target, worker: worker, probing) }
                        }
                        if probing && claimed.isEmpty {
                            // Nothing is due to probe with: stay open and probe when a delivery comes due.
                            worker.breaker.withLock { $0.probeNotSent(now: now) }
                        }
                        if claimed.count < room, let next = nextDue {
                            sleep = min(max(next - self.now(), .milliseconds(1)), Self.idleWait)
                        }
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.error(
                            "Cannot claim due deliveries from the delivery log",
                            metadata: ["target.name": "\(worker.name)", "error": "\(error)"]
                        )
                        sleep = .seconds(1)
                    }
                }
                await worker.signal.wait(timeout: sleep)
            }
        }
    }

    /// Deliveries dead-lettered per pass for a target that is no longer in the rules.
    static let orphanBatch = 256

    /// Deliveries of a target that is no longer in the rules go to the dead letters, so nothing waits forever unseen.
    /// - Returns: how many it dead-lettered (at most `orphanBatch`).
    private func deadLetterOrphans(_ worker: TargetWorker) async -> Int {
        do {
            let claimed = try await log.claim(target: worker.name, now: .distantFuture, limit: Self.orphanBatch)
            for delivery in claimed {
                let letter = DeadLetter(
                    time: now().iso8601,
                    reason: .unknownTarget,
                    rule: delivery.rule,
                    target: delivery.target,
                    deliveryID: delivery.deliveryID,
                    attempts: delivery.attempts,
                    lastStatus: delivery.lastStatus,
                    lastError: delivery.lastError,
                    detail: "target \"\(delivery.target)\" is not in the rules in force",
                    traceparent: delivery.traceparent,
                    payload: String(decoding: delivery.payload, as: UTF8.self)
                )
                var metadata: Logger.Metadata = [
                    "target.name": "\(delivery.target)", "rule.name": "\(delivery.rule)",
                    "delivery.id": "\(delivery.deliveryID)",
                    "dead_letter.reason": "\(DeadLetterReason.unknownTarget.rawValue)",
                ]
                if await persist("dead-letter", metadata, { try await self.log.deadLetter(delivery, letter) }) {
                    metrics.deadLetter(target: delivery.target, .unknownTarget)
                    report(delivery, attempt: delivery.attempts, nil, nil, .deadLetter(.unknownTarget))
                    metadata["delivery.attempts"] = "\(delivery.attempts)"
                    logger.error("Delivery dead-lettered", metadata: metadata)
                } else {
                    log.release(delivery)
                }
            }
            return claimed.count
        } catch is CancellationError {
            return 0
        } catch {
            logger.error(
                "Cannot dead-letter deliveries of a target that is no longer in the rules",
                metadata: ["target.name": "\(worker.name)", "error": "\(error)"]
            )
            return 0
        }
    }
}

/// The state of one target's worker shared with its attempt tasks.
final class TargetWorker: Sendable {
    let name: String
    let signal = WakeSignal()
    /// Deliveries claimed and not yet settled: in flight, or waiting for their outcome to be recorded.
    let inFlight = Atomic<Int>(0)
    /// Whether the first claim since start was checked for deliveries that were failing before.
    let startChecked = Atomic<Bool>(false)
    /// Whether the worker warned that its target's `batch` cannot be honoured by the delivery log.
    let batchWarned = Atomic<Bool>(false)
    /// Holds the target back after consecutive failures.
    let breaker: Mutex<CircuitBreaker>

    init(name: String, breaker: CircuitBreaker.Configuration) {
        self.name = name
        self.breaker = Mutex(CircuitBreaker(configuration: breaker))
    }
}
