import Foundation
import RelayCore
import RelayDelivery
import RelayServer
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Defects of a hostile-input review, each checked on the real `bucket-relay` executable: forged log lines, a data
/// directory that follows symbolic links, slow senders that locked everyone out, and the token options.
@Suite(.timeLimit(.minutes(3)))
struct HostileInputTests {
    static let idleRules = """
        { "targets": { "hook": { "url": "http://127.0.0.1:1/hook", "retry": { "attempts": 1 } } },
          "rules": [ { "name": "none", "match": { "bucket": ["no-such-bucket"] }, "to": ["hook"] } ] }
        """

    /// Starts `serve` on port 0 with the idle rules in `root`; returns the process and its port.
    static func serve(
        _ root: String,
        _ extra: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> (RelayProcess, Int) {
        let rules = root + "/rules.json"
        if !FileManager.default.fileExists(atPath: rules) {
            try Data(idleRules.utf8).write(to: URL(fileURLWithPath: rules))
        }
        let relay = try RelayProcess.start(
            ["serve", "--rules", rules, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"] + extra,
            environment: environment
        )
        return (relay, try await relay.waitForPort())
    }

    static func mode(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o7777 : nil
    }

    // MARK: - Forged log lines (text format)

    @Test func aNewlineOrEscapeInAnEventNameAddsNoLogLineAndNoRawEscape() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        // Each event's line is at debug (info has the periodic summary).
        let (relay, port) = try await Self.serve(root, ["--log-level", "debug"])
        defer { relay.kill() }
        let forged = "s3:ObjectCreated:Put\n2026-01-01T00:00:00+0000 error bucket-relay: FORGED\u{1b}[31m"
        let body: [String: Any] = [
            "EventName": forged,
            "Key": "photos/a\nFORGED-KEY",
            "Records": [
                [
                    "eventName": forged,
                    "s3": [
                        "bucket": ["name": "photos\u{1b}[2J"],
                        "object": ["key": "a%0AFORGED-KEY", "size": 1],
                    ],
                ]
            ],
        ]
        let bytes = Array(try JSONSerialization.data(withJSONObject: body))
        let response = try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: bytes)
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        try await Task.sleep(for: .milliseconds(300))
        relay.kill()
        let output = relay.text
        #expect(output.contains("FORGED"), "the event was logged: \(output)")
        #expect(!output.unicodeScalars.contains("\u{1b}"), "a raw ESC reached the log:\n\(output)")
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) where line.contains("FORGED") {
            #expect(line.contains(" bucket-relay:") && !line.hasPrefix("2026-01-01"), "a forged line: \(line)")
        }
    }

    // MARK: - The data directory

    @Test func symbolicLinksInTheDataDirectoryAreNeverFollowed() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try Data(Self.idleRules.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
        let victim = root + "/victim.txt"
        let original = Array("precious, mode 0644\n".utf8)
        for name in ["relay.lock", "dead-letter.jsonl", "spool.sqlite-wal"] {
            let data = root + "/data"
            try? FileManager.default.removeItem(atPath: data)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try Data(original).write(to: URL(fileURLWithPath: victim))
            chmod(victim, 0o644)
            #expect(symlink(victim, data + "/" + name) == 0)
            let result = try await RelayProcess.run(
                ["serve", "--rules", root + "/rules.json", "--data-dir", data, "--host", "127.0.0.1", "--port", "0"]
            )
            #expect(result.status == 1, "\(name): \(result.output)")
            #expect(result.output.contains("symbolic link"), "\(name): \(result.output)")
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: victim))) == original, "\(name): victim written")
            #expect(Self.mode(victim) == 0o644, "\(name): victim's mode changed")
        }
    }

    @Test func replayNeverFollowsALinkAtTheTemporaryFile() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let data = root + "/data"
        let accepting = Mutex(false)
        let body = try Fixtures.bytes("minio/put-image.json")
        let victim = root + "/victim.txt"
        let original = Array("precious\n".utf8)
        try Data(original).write(to: URL(fileURLWithPath: victim))
        chmod(victim, 0o644)
        try await Receiver.withReceiver { _, _ in
            accepting.withLock { $0 } ? ReceiverResponse(status: 204) : ReceiverResponse(status: 400)
        } _: { receiver in
            let rules = """
                { "targets": { "hook": { "url": "\(receiver.url(path: "/hook"))" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["hook"] } ] }
                """
            try await TestRelay.with(rules: ["rules.json": rules], dataDirectory: data) { relay in
                #expect(try await relay.post(body).status == 200)
                _ = try await relay.waitForDeadLetters(count: 1)
            }
            let rulesPath = root + "/rules.json"
            try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
            #expect(symlink(victim, data + "/dead-letter.jsonl.tmp") == 0)
            accepting.withLock { $0 = true }
            let replayed = try await RelayProcess.run(["replay", "--data-dir", data, "--rules", rulesPath])
            #expect(replayed.status == 0, "\(replayed.output)")
            #expect(try DeadLetterFile.read(path: data + "/dead-letter.jsonl").isEmpty, "the line was removed")
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: victim))) == original, "victim overwritten")
            #expect(Self.mode(victim) == 0o644, "victim's mode changed")
            #expect(Self.mode(data + "/dead-letter.jsonl") == 0o600, "the rewritten file is 0600")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        }
    }

    @Test func aDataDirectoryOthersCanWriteIsRefusedAndANewOneIsPrivate() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try Data(Self.idleRules.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
        let shared = root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        chmod(shared, 0o777)
        let refused = try await RelayProcess.run(
            ["serve", "--rules", root + "/rules.json", "--data-dir", shared, "--host", "127.0.0.1", "--port", "0"]
        )
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains(shared) && refused.output.contains("chmod 700"), "\(refused.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty, "nothing created in it")

        // Under the usual umask 022 the defaults would be 0755 and 0644 (tests/hostile runs it under umask 0 too; a
        // test here cannot change the umask of a process whose other tests run in parallel).
        let (relay, _) = try await Self.serve(root)
        defer { relay.kill() }
        let data = root + "/data"
        #expect(Self.mode(data) == 0o700)
        for name in ["relay.lock", "dead-letter.jsonl", "spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm"] {
            #expect(
                Self.mode(data + "/" + name) == 0o600,
                "\(name): \(String(Self.mode(data + "/" + name) ?? 0, radix: 8))"
            )
        }
    }

    // MARK: - Slow senders

    @Test func sixtyFourOneByteChunkedSendersLockNobodyOut() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let (relay, port) = try await Self.serve(root)
        defer { relay.kill() }
        var slow: [RawConnection] = []
        for _ in 0..<64 {
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /minio-event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
            )
            slow.append(connection)
        }
        try await Task.sleep(for: .milliseconds(300))
        let body = try Fixtures.bytes("minio/put-image.json")
        // The legitimate requests go out from a thread of their own on blocking sockets: the latency measured is the
        // relay's, not this test process's (its cooperative pool is shared with the whole parallel suite).
        let posts = await LegitimatePosts.run(port: port, body: body, for: .seconds(8))  // past the 5 s stall cut
        #expect(!posts.isEmpty)
        #expect(posts.allSatisfy { (200..<300).contains($0.status) }, "statuses: \(posts.map(\.status))")
        // The whole suite runs in parallel on two cores beside a debug relay: judge the typical answer within a
        // second and the worst one loosely (the old behaviour was 503 for 30 s, which the statuses above catch).
        // Tests/hostile measures it alone, with tight bounds.
        let sorted = posts.map(\.latency).sorted()
        let median = sorted.isEmpty ? .zero : sorted[sorted.count / 2]
        let slowest = posts.max { $0.latency < $1.latency }
        #expect(median < .seconds(1), "median legitimate request \(median) of \(posts.count)")
        #expect(
            (slowest?.latency ?? .zero) < .seconds(3),
            "slowest legitimate request \(slowest.map { "\($0.latency), sent \($0.sentAfter) in" } ?? "") of \(posts.count)"
        )
        // The stalled senders were answered 408 and their connections closed.
        let cut = slow[0]
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            Thread {
                continuation.resume(
                    returning: String(decoding: cut.readUntilClosed(timeout: .seconds(5)), as: UTF8.self)
                )
            }
            .start()
        }
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(slow[0].closedByPeer, "the connection of a stalled body is closed")
    }

    // MARK: - Tokens

    @Test func theTokenCanComeFromAFileAndGuardMetrics() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let tokenFile = root + "/token"
        try Data("s3cr3t-token\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        let (relay, port) = try await Self.serve(root, ["--auth-token-file", tokenFile, "--metrics-auth"])
        defer { relay.kill() }
        let url = "http://127.0.0.1:\(port)"
        let body = try Fixtures.bytes("minio/put-image.json")
        #expect(try await TestHTTP.post(url + "/minio-event", body: body).status == 401)
        let good = [(name: "Authorization", value: "Bearer s3cr3t-token")]
        #expect(try await TestHTTP.post(url + "/minio-event", body: body, headers: good).status == 200)
        #expect(try await TestHTTP.get(url + "/metrics").status == 401)
        #expect(try await TestHTTP.get(url + "/metrics", headers: good).status == 200)
        #expect(try await TestHTTP.get(url + "/healthz").status == 200)

        let empty = root + "/empty"
        try Data("\n".utf8).write(to: URL(fileURLWithPath: empty))
        for (arguments, fragment) in [
            (["--auth-token-file", empty], "is empty"),
            (["--auth-token-file", root + "/missing"], "cannot read"),
            (["--auth-token-file", tokenFile, "--auth-token", "x"], "exclusive"),
            (["--metrics-auth"], "needs a token"),
        ] {
            let result = try await RelayProcess.run(
                ["serve", "--rules", root + "/rules.json", "--data-dir", root + "/data2", "--port", "0"] + arguments
            )
            #expect(result.status != 0, "\(arguments): \(result.output)")
            #expect(result.output.contains(fragment), "\(arguments): \(result.output)")
        }
    }

    @Test func listeningBeyondLoopbackWithoutATokenIsWarned() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try Data(Self.idleRules.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes before the bind fails, and nothing
        // ever listens beyond loopback.
        let result = try await RelayProcess.run(
            [
                "serve", "--rules", root + "/rules.json", "--data-dir", root + "/data", "--host", "192.0.2.1", "--port",
                "0",
            ]
        )
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("without a token"), "\(result.output)")
        let (quiet, _) = try await Self.serve(root, ["--log-level", "info"])
        defer { quiet.kill() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!quiet.text.contains("without a token"), "127.0.0.1 is not warned about: \(quiet.text)")
    }
}

/// Legitimate POSTs one after another, 100 ms apart, from a thread of its own (blocking sockets, `Connection: close`).
enum LegitimatePosts {
    struct Post: Sendable {
        /// The status code, 0 when the request failed.
        let status: Int
        let latency: Duration
        /// When it was sent, from the start of the run.
        let sentAfter: Duration
    }

    static func run(port: Int, body: [UInt8], for duration: Duration) async -> [Post] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[Post], Never>) in
            let thread = Thread {
                continuation.resume(returning: posts(port: port, body: body, for: duration))
            }
            thread.start()
        }
    }

    private static func posts(port: Int, body: [UInt8], for duration: Duration) -> [Post] {
        let head =
            "POST /minio-event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let request = Array(head.utf8) + body
        let clock = ContinuousClock()
        let start = clock.now
        var out: [Post] = []
        while clock.now - start < duration {
            let sent = clock.now
            var status = 0
            if let connection = try? RawConnection(port: port) {
                connection.send(request)
                let answer = connection.readUntilClosed(timeout: .seconds(10))
                // "HTTP/1.1 200 OK": the three digits after the first space.
                if answer.count >= 12 { status = Int(String(decoding: answer[9..<12], as: UTF8.self)) ?? 0 }
            }
            out.append(Post(status: status, latency: clock.now - sent, sentAfter: sent - start))
            usleep(100_000)
        }
        return out
    }
}

/// A client connection on a raw socket, for requests no HTTP client library sends. Its calls block: use it from a
/// thread of its own, or for calls that return at once. (Unchecked: one thread uses it at a time.)
final class RawConnection: @unchecked Sendable {
    let descriptor: Int32
    private(set) var closedByPeer = false

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw ReceiverError("cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Everything the peer sends until it closes the connection or `timeout` passes.
    func readUntilClosed(timeout: Duration) -> [UInt8] {
        var out: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 {
                closedByPeer = true
                break
            }
            out.append(contentsOf: buffer[0..<count])
        }
        return out
    }
}
