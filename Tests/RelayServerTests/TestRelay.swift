import Foundation
import Logging
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// A relay started in-process on 127.0.0.1 port 0, on a fresh data directory, for one test.
struct TestRelay {
    let relay: Relay
    let port: Int
    let dataDirectory: String

    func url(_ path: String = "/minio-event") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// POSTs `body` to `/minio-event`.
    func post(_ body: [UInt8], headers: [(name: String, value: String)] = []) async throws -> HTTPResponseSummary {
        let response = try await TestHTTP.post(url(), body: body, headers: headers)
        return HTTPResponseSummary(status: response.status, body: String(decoding: response.body, as: UTF8.self))
    }

    /// The dead letters written so far.
    func deadLetters() throws -> [DeadLetter] {
        let path = dataDirectory + "/dead-letter.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try DeadLetterFile.read(path: path).compactMap(\.letter)
    }

    /// Waits until `count` dead letters exist.
    func waitForDeadLetters(count: Int, timeout: Duration = .seconds(10)) async throws -> [DeadLetter] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let letters = try deadLetters()
            if letters.count >= count { return letters }
            if ContinuousClock.now > deadline {
                Issue.record("waited \(timeout) for \(count) dead letter(s), found \(letters.count)")
                return letters
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until the spool holds no pending delivery.
    func waitForEmptySpool(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while relay.log.totals.pendingCount > 0 {
            if ContinuousClock.now > deadline {
                Issue.record("spool still holds \(relay.log.totals.pendingCount) deliveries after \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Starts a relay with the rule files `rules` (file name → JSON text) written to a temporary directory,
    /// runs `body`, then stops the relay gracefully and removes the directories.
    static func with<T>(
        rules: [String: String],
        environment: [String: String] = [:],
        dataDirectory: String? = nil,
        _ body: (TestRelay) async throws -> T
    ) async throws -> T {
        try await configured(rules: rules, environment: environment, dataDirectory: dataDirectory, { _ in }, body)
    }

    /// Like `with(rules:environment:dataDirectory:_:)`, with `configure` adjusting the configuration first.
    static func configured<T>(
        rules: [String: String],
        environment: [String: String] = [:],
        dataDirectory: String? = nil,
        _ configure: (inout RelayConfiguration) -> Void,
        _ body: (TestRelay) async throws -> T
    ) async throws -> T {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesDirectory = root + "/rules"
        try FileManager.default.createDirectory(atPath: rulesDirectory, withIntermediateDirectories: true)
        for (name, text) in rules {
            try Data(text.utf8).write(to: URL(fileURLWithPath: rulesDirectory + "/" + name))
        }
        var configuration = RelayConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.rulesPath = rulesDirectory
        configuration.dataDirectory = dataDirectory ?? root + "/data"
        configuration.environment = environment
        configuration.shutdownGracePeriod = .seconds(2)
        configure(&configuration)
        var logger = Logger(label: "test-relay")
        logger.logLevel = ProcessInfo.processInfo.environment["RELAY_TEST_LOG"] != nil ? .debug : .critical
        let relay = try Relay(configuration: configuration, logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await relay.run { port in portContinuation.yield(port) }
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                try await group.waitForAll()
                throw ReceiverError("the relay did not start listening")
            }
            let running = TestRelay(relay: relay, port: port, dataDirectory: configuration.dataDirectory)
            do {
                let result = try await body(running)
                await relay.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                await relay.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}

struct HTTPResponseSummary: Sendable {
    var status: Int
    var body: String
}

/// Temporary directories under the system's temporary folder.
enum TemporaryDirectory {
    static func make() throws -> String {
        let path = NSTemporaryDirectory() + "bucket-relay-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The project's `Tests/Fixtures` folder: real request bodies (see its README.md).
enum Fixtures {
    static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            throw ReceiverError("fixture \(name) not found in \(directory)")
        }
        return [UInt8](data)
    }

    /// The package's root folder (for the built executable and shipped files).
    static let packageRoot: String = {
        URL(fileURLWithPath: directory).deletingLastPathComponent().deletingLastPathComponent().path
    }()
}
