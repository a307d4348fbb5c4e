import RelayCore
import RelayDelivery
import RelayLog
import RelayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CurlClient against a real Hummingbird receiver on 127.0.0.1. Serialized: timing assertions share 2 cores.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct CurlClientTests {
    private func withClient<T>(
        _ configuration: CurlClientConfiguration = .init(),
        _ body: (CurlClient) async throws -> T
    ) async throws -> T {
        let client = try CurlClient(configuration: configuration)
        defer { client.shutdown() }
        return try await body(client)
    }

    private func transportError(_ body: () async throws -> HTTPResponse) async -> TransportError? {
        do {
            let response = try await body()
            Issue.record("expected a TransportError, got status \(response.status)")
            return nil
        } catch let error as TransportError {
            return error
        } catch {
            Issue.record("expected a TransportError, got \(error)")
            return nil
        }
    }

    @Test func postDeliversBodyAndHeadersExactly() async throws {
        let body = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await Receiver.withReceiver { _, _ in
            .init(status: 202, headers: [(name: "X-Reply", value: "yes")], body: Array("accepted".utf8))
        } _: { receiver in
            try await withClient { client in
                let response = try await client.execute(
                    HTTPRequest(
                        url: receiver.url(path: "/events?x=1"),
                        headers: [
                            (name: "Content-Type", value: "application/json"),
                            (name: "Authorization", value: "Bearer s3cret"),
                            (name: "X-Empty", value: ""),
                        ],
                        body: body
                    )
                )
                #expect(response.status == 202)
                #expect(response.header("x-reply") == "yes")
                #expect(response.body == Array("accepted".utf8))
                #expect(!response.isBodyTruncated)
            }
            let seen = receiver.requests
            #expect(seen.count == 1)
            let request = try #require(seen.first)
            #expect(request.method == "POST")
            #expect(request.path == "/events")
            #expect(request.query == "x=1")
            #expect(request.body == body)
            #expect(request.header("content-type") == "application/json")
            #expect(request.header("authorization") == "Bearer s3cret")
            #expect(request.headers(named: "x-empty") == [""])
            #expect(request.header("content-length") == "4096")
            #expect(request.header("expect") == nil)
        }
    }

    @Test func sendsNoFormContentTypeUnlessGiven() async throws {
        try await Receiver.withReceiver { receiver in
            try await withClient { client in
                _ = try await client.execute(HTTPRequest(url: receiver.url(path: "/plain"), body: Array("x=1".utf8)))
            }
            let request = try #require(receiver.requests.first)
            #expect(request.header("content-type") == nil)
            #expect(request.bodyText == "x=1")
        }
    }

    @Test func largeBodyArrivesWithoutExpectContinueStall() async throws {
        let body = [UInt8](repeating: 0x61, count: 1_100_000)
        try await Receiver.withReceiver { receiver in
            try await withClient { client in
                // Warm up the connection so the measurement is of the transfer itself.
                _ = try await client.execute(HTTPRequest(method: "GET", url: receiver.url(path: "/warm")))
                let started = ContinuousClock.now
                let response = try await client.execute(HTTPRequest(url: receiver.url(path: "/big"), body: body))
                let elapsed = ContinuousClock.now - started
                #expect(response.status == 200)
                // libcurl waits 1 s for "100 Continue" before sending a body over 1 MiB unless `Expect:` is empty.
                #expect(elapsed < .milliseconds(950), "took \(elapsed)")
            }
            let request = try #require(receiver.requests(path: "/big").first)
            #expect(request.body.count == body.count)
            #expect(request.body == body)
            #expect(request.header("expect") == nil)
        }
    }

    @Test(arguments: [400, 404, 429, 500, 503])
    func returnsErrorStatusesAsResponses(status: Int) async throws {
        try await Receiver.withReceiver { _, _ in
            .init(status: status, body: Array("status \(status)".utf8))
        } _: { receiver in
            try await withClient { client in
                let response = try await client.execute(HTTPRequest(url: receiver.url(path: "/s"), body: [1, 2, 3]))
                #expect(response.status == status)
                #expect(response.body == Array("status \(status)".utf8))
            }
        }
    }

    @Test func returnsRetryAfterHeader() async throws {
        try await Receiver.withReceiver { _, index in
            index == 0
                ? .init(status: 503, headers: [(name: "Retry-After", value: "7")])
                : .init(status: 429, headers: [(name: "Retry-After", value: "Wed, 21 Oct 2015 07:28:00 GMT")])
        } _: { receiver in
            try await withClient { client in
                let first = try await client.execute(HTTPRequest(url: receiver.url(path: "/r")))
                #expect(first.status == 503)
                #expect(first.header("Retry-After") == "7")
                #expect(first.header("RETRY-AFTER") == "7")
                let second = try await client.execute(HTTPRequest(url: receiver.url(path: "/r")))
                #expect(second.status == 429)
                #expect(second.header("retry-after") == "Wed, 21 Oct 2015 07:28:00 GMT")
            }
        }
    }

    @Test func supportsGetHeadPutAndDelete() async throws {
        try await Receiver.withReceiver { request, _ in
            .init(status: 200, headers: [(name: "X-Method", value: request.method)], body: Array("payload".utf8))
        } _: { receiver in
            try await withClient { client in
                let get = try await client.execute(HTTPRequest(method: "GET", url: receiver.url(path: "/m")))
                #expect(get.body == Array("payload".utf8))
                let head = try await client.execute(HTTPRequest(method: "HEAD", url: receiver.url(path: "/m")))
                #expect(head.status == 200)
                #expect(head.body.isEmpty)
                #expect(head.header("x-method") == "HEAD")
                let put = try await client.execute(
                    HTTPRequest(method: "PUT", url: receiver.url(path: "/m"), body: [9, 8])
                )
                #expect(put.header("x-method") == "PUT")
                let delete = try await client.execute(HTTPRequest(method: "DELETE", url: receiver.url(path: "/m")))
                #expect(delete.header("x-method") == "DELETE")
            }
            let seen = receiver.requests(path: "/m")
            #expect(seen.map(\.method) == ["GET", "HEAD", "PUT", "DELETE"])
            #expect(seen[2].body == [9, 8])
            #expect(seen[0].body.isEmpty && seen[3].body.isEmpty)
        }
    }

    @Test func capsTheResponseBodyWithoutFailing() async throws {
        let big = [UInt8](repeating: 0x62, count: 100_000)
        var configuration = CurlClientConfiguration()
        configuration.maxResponseBodyBytes = 1000
        try await Receiver.withReceiver { _, _ in
            .init(body: big)
        } _: { receiver in
            try await withClient(configuration) { client in
                let response = try await client.execute(HTTPRequest(method: "GET", url: receiver.url(path: "/big")))
                #expect(response.status == 200)
                #expect(response.body == Array(big.prefix(1000)))
                #expect(response.isBodyTruncated)
                // The connection stays usable after a truncated body.
                let next = try await client.execute(HTTPRequest(method: "GET", url: receiver.url(path: "/big")))
                #expect(next.body.count == 1000)
            }
        }
    }

    @Test func timesOutAgainstASlowReceiver() async throws {
        try await Receiver.withReceiver { _, _ in
            .init(delay: .seconds(20))
        } _: { receiver in
            try await withClient { client in
                let started = ContinuousClock.now
                let error = await transportError {
                    try await client.execute(HTTPRequest(url: receiver.url(path: "/slow"), timeout: .milliseconds(300)))
                }
                let elapsed = ContinuousClock.now - started
                #expect(error?.code == .timeout)
                #expect(error?.curlCode == 28)
                #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(2), "took \(elapsed)")
            }
        }
    }

    @Test func connectionRefusedOnAClosedPort() async throws {
        try await withClient { client in
            // Port 1 needs root to listen on, so nothing does.
            let error = await transportError {
                try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/", timeout: .seconds(5)))
            }
            #expect(error?.code == .connectionRefused)
            #expect(error?.curlCode == 7)
            #expect(error?.message.contains("Couldn't connect") == true)
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url"])
    func refusesNonHTTPURLs(url: String) async throws {
        try await withClient { client in
            let error = await transportError { try await client.execute(HTTPRequest(method: "GET", url: url)) }
            #expect(error?.code == .invalidRequest)
        }
    }

    @Test func refusesHeaderInjection() async throws {
        try await withClient { client in
            let error = await transportError {
                try await client.execute(
                    HTTPRequest(url: "http://127.0.0.1:1/", headers: [(name: "X-A", value: "1\r\nX-B: 2")])
                )
            }
            #expect(error?.code == .invalidRequest)
            let badMethod = await transportError {
                try await client.execute(HTTPRequest(method: "GET /x", url: "http://127.0.0.1:1/"))
            }
            #expect(badMethod?.code == .invalidRequest)
        }
    }

    @Test func cancellationEndsTheCallPromptly() async throws {
        try await Receiver.withReceiver { request, _ in
            request.path == "/slow" ? .init(delay: .seconds(20)) : .ok
        } _: { receiver in
            try await withClient { client in
                let task = Task {
                    try await client.execute(HTTPRequest(url: receiver.url(path: "/slow"), timeout: .seconds(30)))
                }
                _ = try await receiver.waitForRequests(count: 1, path: "/slow")
                let cancelled = ContinuousClock.now
                task.cancel()
                let result = await task.result
                let elapsed = ContinuousClock.now - cancelled
                #expect(throws: CancellationError.self) { try result.get() }
                #expect(elapsed < .milliseconds(500), "took \(elapsed)")
                // The client keeps working after a cancellation.
                let fast = try await client.execute(HTTPRequest(method: "HEAD", url: receiver.url(path: "/fast")))
                #expect(fast.status == 200)
            }
        }
    }

    @Test func aCancelledTaskSendsNothing() async throws {
        try await Receiver.withReceiver { receiver in
            try await withClient { client in
                let task = Task {
                    while !Task.isCancelled { await Task.yield() }
                    return try await client.execute(HTTPRequest(url: receiver.url(path: "/never")))
                }
                task.cancel()
                let result = await task.result
                #expect(throws: CancellationError.self) { try result.get() }
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(receiver.requests.isEmpty)
        }
    }

    @Test func reusesConnectionsForSequentialRequests() async throws {
        try await Receiver.withReceiver { receiver in
            try await withClient { client in
                for index in 0..<200 {
                    let response = try await client.execute(
                        HTTPRequest(url: receiver.url(path: "/seq"), body: Array("event \(index)".utf8))
                    )
                    #expect(response.status == 200)
                }
                #expect(client.connectionsOpened <= 2, "opened \(client.connectionsOpened) connections")
            }
            let seen = receiver.requests(path: "/seq")
            #expect(seen.count == 200)
            let ports = Set(seen.compactMap(\.clientPort))
            #expect(ports.count >= 1 && ports.count <= 2, "client ports: \(ports.sorted())")
        }
    }

    @Test func completes500ConcurrentRequests() async throws {
        try await Receiver.withReceiver { receiver in
            try await withClient { client in
                let statuses = try await withThrowingTaskGroup(of: Int.self, returning: [Int].self) { group in
                    for index in 0..<500 {
                        group.addTask {
                            let request = HTTPRequest(
                                url: receiver.url(path: "/many"),
                                body: Array("event \(index)".utf8),
                                timeout: .seconds(30)
                            )
                            return try await client.execute(request).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.count == 500)
                #expect(statuses.allSatisfy { $0 == 200 })
                #expect(client.connectionsOpened <= 64, "opened \(client.connectionsOpened) connections")
            }
            let bodies = Set(receiver.requests(path: "/many").map(\.bodyText))
            #expect(bodies.count == 500)
        }
    }

    @Test func shutdownFailsRequestsInFlightAndLater() async throws {
        try await Receiver.withReceiver { _, _ in
            .init(delay: .seconds(20))
        } _: { receiver in
            let client = try CurlClient()
            let task = Task {
                try await client.execute(HTTPRequest(url: receiver.url(path: "/slow"), timeout: .seconds(30)))
            }
            _ = try await receiver.waitForRequests(count: 1, path: "/slow")
            client.shutdown()
            let inFlight = await transportError { try await task.value }
            #expect(inFlight?.code == .shutdown)
            let later = await transportError { try await client.execute(HTTPRequest(url: receiver.url(path: "/late"))) }
            #expect(later?.code == .shutdown)
            client.shutdown()
        }
    }

    @Test func receiverIndexesRequestsPerPath() async throws {
        try await Receiver.withReceiver { _, index in
            .init(status: 500 + index)
        } _: { receiver in
            let a0 = try await TestHTTP.post(receiver.url(path: "/a"), body: "1")
            let b0 = try await TestHTTP.get(receiver.url(path: "/b"))
            let a1 = try await TestHTTP.post(receiver.url(path: "/a"), body: "2")
            #expect([a0.status, b0.status, a1.status] == [500, 500, 501])
            let seen = try await receiver.waitForRequests(count: 2, path: "/a", timeout: .seconds(1))
            #expect(seen.map(\.bodyText) == ["1", "2"])
            await #expect(throws: ReceiverError.self) {
                try await receiver.waitForRequests(count: 3, path: "/a", timeout: .milliseconds(50))
            }
        }
    }
}
