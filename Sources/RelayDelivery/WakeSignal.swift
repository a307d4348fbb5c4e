import Synchronization

/// A one-slot wake-up: `signal()` from anywhere, `wait(timeout:)` from one task.
///
/// A signal sent while nobody waits is kept (once), so a wake-up between a check and a wait is never lost. A timeout
/// is not a timer of its own: the waiter records its deadline and the owner's ticker calls `fireIfDue(now:)`
/// (a cancelled `Task.sleep` keeps its timer until the deadline, so one sleep per wait would pile up under load).
final class WakeSignal: Sendable {
    private struct State {
        var signaled = false
        var waiter: CheckedContinuation<Void, Never>?
        var deadline: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Wakes the waiter, or lets the next `wait` return at once.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.deadline = nil
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signaled = true
            return nil
        }
        waiter?.resume()
    }

    /// Signals if a waiter's deadline has passed.
    func fireIfDue(now: ContinuousClock.Instant) {
        let due = state.withLock { state -> Bool in
            guard let deadline = state.deadline, deadline <= now, state.waiter != nil else { return false }
            return true
        }
        if due { signal() }
    }

    /// Returns when signalled or when the task is cancelled; with `timeout`, also once the owner's ticker finds the
    /// deadline passed.
    func wait(timeout: Duration? = nil) async {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.signaled || Task.isCancelled {
                        state.signaled = false
                        return true
                    }
                    state.waiter = continuation
                    state.deadline = deadline
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
