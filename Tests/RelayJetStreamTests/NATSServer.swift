import Foundation
import Logging
import RelayTestSupport

/// A real `nats-server -js` for one test: on a free loopback port, with its store in a fresh directory under /tmp,
/// stopped (by its PID) and removed after the test body.
final class NATSServer: @unchecked Sendable {
    /// `nats://127.0.0.1:PORT`.
    let url: String
    let directory: String
    private var process: ChildProcess

    private init(url: String, directory: String, process: ChildProcess) {
        self.url = url
        self.directory = directory
        self.process = process
    }

    /// Runs `body` with a started server; the server is stopped whatever `body` does.
    static func with<T>(_ body: (NATSServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// The nats-server binary: `$NATS_SERVER`, else Debian's /usr/sbin/nats-server, else the first on `PATH`.
    static var executable: String? {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [environment["NATS_SERVER"], "/usr/sbin/nats-server", "/usr/bin/nats-server"].compactMap { $0 }
        candidates += (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/nats-server" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func start() async throws -> NATSServer {
        let directory = "/tmp/relay-jetstream-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (url, process) = try await launch(directory: directory, port: -1)
        return NATSServer(url: url, directory: directory, process: process)
    }

    /// Kills the server (SIGKILL, as a crash would) and starts it again on the same port and store.
    func crashAndRestart() async throws {
        kill(process.processIdentifier, SIGKILL)
        await process.finished()
        let port = url.split(separator: ":").last.flatMap { Int($0) } ?? -1
        let (_, process) = try await Self.launch(directory: directory, port: port)
        self.process = process
    }

    /// Starts nats-server on `port` (-1: a free one, which the server writes to its ports file).
    private static func launch(directory: String, port: Int) async throws -> (String, ChildProcess) {
        guard let executable else { throw NATSServerError("nats-server not found: apt-get install nats-server") }
        let process = try ChildProcess.spawn(
            executable,
            [
                "-js", "-a", "127.0.0.1", "-p", "\(port)", "-sd", "\(directory)/store", "--ports_file_dir", directory,
                "-l", "\(directory)/nats-server.log",
            ],
            output: .discard
        )
        let portsFile =
            "\(directory)/\(URL(fileURLWithPath: executable).lastPathComponent)_\(process.processIdentifier).ports"
        for _ in 0..<200 {
            if let data = FileManager.default.contents(atPath: portsFile),
                let ports = try? JSONDecoder().decode(Ports.self, from: data), let url = ports.nats.first
            {
                return (url, process)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        await process.finished()
        let log = (try? String(contentsOfFile: "\(directory)/nats-server.log", encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: directory)
        throw NATSServerError("nats-server did not start: \(log.suffix(2_000))")
    }

    private struct Ports: Decodable {
        var nats: [String]
    }

    /// The server's PID.
    var pid: Int32 { process.processIdentifier }

    /// Stops the server (SIGTERM to its PID, SIGKILL after 5 s) and removes its directory. It waits without holding
    /// a thread: a JetStream server can take seconds to stop, and the suite's cooperative pool has two.
    func stop() async {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(5)
            while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            await process.finished()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct NATSServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Logger {
    /// A logger that drops everything: the tests assert behaviour, not log lines.
    static let quiet = Logger(label: "RelayJetStreamTests", factory: { _ in SwiftLogNoOpLogHandler() })
}
