import Dispatch
import Foundation
import Synchronization

/// Runs the progress acks that keep held deliveries from going to another relay, on a thread of its own.
///
/// A held delivery is redelivered elsewhere once JetStream has heard nothing of it for the target's ack wait, and a
/// delivery may be held for minutes (parked until its next attempt). The acks therefore must not queue behind blocking
/// fetches on the shared libnats queue or behind a busy cooperative pool: a late tick gives a held delivery to a
/// second relay, which sends it twice (docs/architecture.md, "The delivery log").
final class ProgressAckThread: Sendable {
    private let stopRequested = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the thread: it calls `tick` every `interval` until ``stop()``.
    /// - Parameters:
    ///   - interval: the time between two calls of `tick`; slices of at most 100 ms are slept so that a stop is quick.
    ///   - tick: sends the progress acks that are due; runs on the thread, never concurrently with itself.
    init(interval: Duration, _ tick: @escaping @Sendable () -> Void) {
        let interval = max(interval, .milliseconds(10))
        let thread = Thread { [self] in
            defer { self.finished.signal() }
            var slept = Duration.zero
            while !self.stopRequested.withLock({ $0 }) {
                let slice = min(.milliseconds(100), interval - slept)
                Thread.sleep(forTimeInterval: slice / .seconds(1))
                slept += slice
                guard slept >= interval else { continue }
                slept = .zero
                if self.stopRequested.withLock({ $0 }) { break }
                tick()
            }
        }
        thread.name = "bucket-relay.progress-acks"
        thread.start()
    }

    /// Stops the thread and waits for it: no tick runs after this returns. Call once.
    func stop() {
        stopRequested.withLock { $0 = true }
        finished.wait()
    }
}
