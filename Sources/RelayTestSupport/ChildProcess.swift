import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, for tests: the relay, nats-server, a shell, the test binary itself.
///
/// Foundation's `Process.run()` on Swift 6.3.1 sometimes crashes the whole test process (a `memmove` past the end of
/// a `readdir` buffer in its `findMaximumOpenFromProcSelfFD`, fixed upstream in swift-corelibs-foundation #5472 after
/// this toolchain), and one crash loses every test's result. This type spawns directly: standard input is
/// `/dev/null`; standard output and error go together to `/dev/null` or to a pipe read on a thread of its own; every
/// other descriptor is closed in the child; signal dispositions and the signal mask start at their defaults. A
/// thread of its own waits for the child (`waitpid` on its PID only), so no wait ever holds a cooperative-pool thread.
public final class ChildProcess: Sendable {
    /// Where the child's standard output and error go.
    public enum Output: Sendable {
        /// `/dev/null`.
        case discard
        /// A pipe: everything written is kept in ``output``.
        case capture
    }

    /// The child's PID.
    public let processIdentifier: Int32

    private struct State {
        /// The raw `waitpid` status, once the child has exited.
        var waitStatus: Int32?
        /// Whether the output pipe has reached its end (at once for ``Output/discard``).
        var outputEnded: Bool
        var output: [UInt8] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        var finished: Bool { waitStatus != nil && outputEnded }
    }

    private let state: Mutex<State>

    private init(processIdentifier: Int32, capturing: Bool) {
        self.processIdentifier = processIdentifier
        self.state = Mutex(State(outputEnded: !capturing))
    }

    /// Starts `executable ARGUMENTS`.
    /// - Parameters:
    ///   - executable: an absolute path (no `PATH` search).
    ///   - arguments: the arguments after the program name.
    ///   - environment: the child's whole environment; `nil` passes this process's.
    ///   - output: where standard output and error go.
    /// - Throws: ``ReceiverError`` when the pipe or the spawn fails (the `errno` is in the message).
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        output: Output = .capture
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        switch output {
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .capture:
            guard pipe(&pipeEnds) == 0 else { throw ReceiverError("pipe() failed: errno \(errno)") }
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        }
        _ = closeFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, Int32(signal)) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        if output == .capture { close(pipeEnds[1]) }
        guard rc == 0 else {
            if output == .capture { close(pipeEnds[0]) }
            throw ReceiverError("cannot start \(executable): posix_spawn errno \(rc)")
        }
        let child = ChildProcess(processIdentifier: pid, capturing: output == .capture)
        if output == .capture {
            let readEnd = pipeEnds[0]
            let reader = Thread { child.readToEnd(readEnd) }
            reader.name = "test-child-output"
            reader.start()
        }
        let waiter = Thread { child.reap() }
        waiter.name = "test-child-wait"
        waiter.start()
        return child
    }

    /// Starts `executable ARGUMENTS` (see ``spawn(_:_:environment:output:)``).
    public static func spawn(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String]? = nil,
        output: Output = .capture
    ) throws -> ChildProcess {
        try spawn(executable.path, arguments, environment: environment, output: output)
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later), looked up at run time: the Glibc module
    /// does not declare it.
    private static let closeFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
            else { return nil }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self
            )
        }()

    private func readToEnd(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                state.withLock { $0.output.append(contentsOf: buffer[..<count]) }
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(descriptor)
        finish { $0.outputEnded = true }
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) == -1 && errno == EINTR {}
        finish { $0.waitStatus = status }
    }

    private func finish(_ update: (inout State) -> Void) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            update(&state)
            guard state.finished else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether the child has not yet been reaped.
    public var isRunning: Bool { state.withLock { $0.waitStatus == nil } }

    /// How the child ended (valid once ``isRunning`` is false).
    public var terminationReason: Process.TerminationReason {
        let status = state.withLock { $0.waitStatus } ?? 0
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }

    /// The exit code, or the number of the signal that ended the child (valid once ``isRunning`` is false).
    public var terminationStatus: Int32 {
        let status = state.withLock { $0.waitStatus } ?? 0
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// Everything the child has written so far (``Output/capture``).
    public var output: [UInt8] { state.withLock { $0.output } }

    /// ``output`` as UTF-8 text.
    public var outputText: String { String(decoding: output, as: UTF8.self) }

    /// Waits until the child has exited and its output pipe has ended, without holding a thread.
    public func finished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Blocks the calling thread until the child has exited and its output has ended. Only for synchronous callers
    /// off the cooperative pool, or for a child known to be gone (just SIGKILLed).
    public func waitUntilExit() {
        while !state.withLock({ $0.finished }) { usleep(1_000) }
    }

    /// Sends `signal` to the child while it has not been reaped (only ever this PID).
    public func signal(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }
}
