import Foundation
import Synchronization

/// The built `bucket-relay` executable, run as a child process (for CLI and crash tests).
public final class RelayProcess: Sendable {
    /// The child (spawned with `posix_spawn`, see ``ChildProcess``).
    public let process: ChildProcess

    /// The executable next to the test bundle (built by `swift build --build-tests`), else `.build/debug`.
    public static let executable: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("bucket-relay").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        // Sources/RelayTestSupport/RelayProcess.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.path + "/.build/debug/bucket-relay"
    }()

    private init(process: ChildProcess) {
        self.process = process
    }

    /// Starts `bucket-relay ARGUMENTS` with `environment` added to a minimal environment; stdout and stderr are
    /// captured together.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> RelayProcess {
        var env = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        env.merge(environment) { _, new in new }
        return RelayProcess(process: try ChildProcess.spawn(executable, arguments, environment: env))
    }

    /// Runs `bucket-relay ARGUMENTS` to completion.
    /// - Returns: the exit status and everything it printed.
    public static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> (status: Int32, output: String) {
        let relay = try start(arguments, environment: environment)
        let deadline = ContinuousClock.now + timeout
        while relay.process.isRunning {
            if ContinuousClock.now > deadline {
                relay.kill()
                throw ReceiverError("bucket-relay \(arguments.joined(separator: " ")) did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await relay.process.finished()  // the pipe's last bytes
        return (relay.process.terminationStatus, relay.text)
    }

    /// Everything the relay has printed so far (stdout and stderr together).
    public var text: String { process.outputText }

    /// Waits for the "Relay listening" log line and returns the port it names.
    public func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let range = text.range(of: "server.port=") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), port > 0 { return port }
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ReceiverError("the relay did not report its port; output:\n\(text)")
    }

    /// Sends `signal` to the child (only ever this process, by its PID).
    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// SIGKILL, then waits (at most 10 s, polling) for the process to be gone. Never `waitUntilExit`: called from
    /// async tests, it would hold one of the cooperative pool's threads (2 on a 2-core machine) for as long as the
    /// child takes to be reaped, and two such waits at once leave nothing to run the receivers the child talks to.
    public func kill() {
        signal(SIGKILL)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline {
            usleep(2_000)
        }
    }

    /// Waits for the process to exit; returns its status.
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { throw ReceiverError("the relay did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }
}
