import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A real HTTP server on 127.0.0.1 for tests: it records every request and answers each from a responder closure.
///
/// ```swift
/// try await Receiver.withReceiver { request, index in index == 0 ? .init(status: 503) : .ok } { receiver in
///     // send to receiver.url(path: "/events"), then:
///     let seen = try await receiver.waitForRequests(count: 2, path: "/events")
/// }
/// ```
public struct Receiver: Sendable {
    /// Decides the answer to a request; the `Int` is the 0-based index of the request among those on its path.
    public typealias Responder = @Sendable (RecordedRequest, Int) async -> ReceiverResponse

    /// The port the server listens on (chosen by the system).
    public let port: Int
    let log: RequestLog
    let group: ServiceGroup

    /// Stops the server before `body` ends: from then on nothing listens on ``port`` (connections are refused).
    public func stopListening() async throws {
        await group.triggerGracefulShutdown()
        // Wait until the port really refuses connections.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await TestHTTP.get(url(path: "/"))) == nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ReceiverError("the receiver on port \(port) still answers after stopListening()")
    }

    /// `http://127.0.0.1:<port><path>`; `path` should start with `/`.
    public func url(path: String = "/") -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    /// Every request so far, in arrival order.
    public var requests: [RecordedRequest] { log.all() }

    /// The requests so far whose path is `path`, in arrival order.
    public func requests(path: String) -> [RecordedRequest] {
        log.all().filter { $0.path == path }
    }

    /// Waits until at least `count` requests have arrived (on `path`, or on any path if `nil`).
    /// - Returns: those requests, in arrival order.
    /// - Throws: ``ReceiverError`` if they have not all arrived within `timeout`.
    public func waitForRequests(
        count: Int,
        path: String? = nil,
        timeout: Duration = .seconds(10)
    ) async throws -> [RecordedRequest] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = path.map { requests(path: $0) } ?? requests
            if seen.count >= count { return seen }
            guard ContinuousClock.now < deadline else {
                throw ReceiverError(
                    "waited \(timeout) for \(count) request(s) on \(path ?? "any path") but \(seen.count) arrived"
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Starts a receiver on 127.0.0.1 (port chosen by the system, or `port`), runs `body`, then shuts the server down
    /// gracefully (answers still delayed are cut short).
    /// - Parameters:
    ///   - port: the port to listen on; 0 (the default) lets the system choose.
    ///   - responder: the answer to each request; default 200 with no body.
    ///   - body: the test, given the running receiver.
    /// - Returns: what `body` returns.
    /// - Throws: ``ReceiverError`` if the server cannot start; any error `body` throws.
    public static func withReceiver<T>(
        isolation: isolated (any Actor)? = #isolation,
        port: Int = 0,
        responder: @escaping Responder = { _, _ in .ok },
        _ body: (Receiver) async throws -> T
    ) async throws -> T {
        let log = RequestLog()
        let logger = Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: CallbackResponder<ReceiverContext> { request, context in
                try await respond(to: request, context: context, log: log, responder: responder)
            },
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        )
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { tasks in
            tasks.addTask {
                defer { portContinuation.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                try await tasks.waitForAll()
                throw ReceiverError("the test receiver did not start listening on 127.0.0.1")
            }
            let receiver = Receiver(port: port, log: log, group: group)
            do {
                let result = try await body(receiver)
                log.stop()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                log.stop()
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    private static func respond(
        to request: Request,
        context: ReceiverContext,
        log: RequestLog,
        responder: Responder
    ) async throws -> Response {
        let buffer = try await request.body.collect(upTo: .max)
        let recorded = RecordedRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query,
            headers: request.headers.map { (name: $0.name.rawName, value: $0.value) },
            body: Array(buffer.readableBytesView),
            arrival: .now,
            clientPort: context.clientPort
        )
        let index = log.record(recorded)
        let reply = await responder(recorded, index)
        if let delay = reply.delay {
            await log.sleep(for: delay)
        }
        var fields = HTTPFields()
        for field in reply.headers {
            guard let name = HTTPField.Name(field.name) else { continue }
            fields.append(HTTPField(name: name, value: field.value))
        }
        let body = request.method == .head ? ByteBuffer() : ByteBuffer(bytes: reply.body)
        return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: body))
    }
}

/// The request context of a ``Receiver``: records the client's port.
struct ReceiverContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let clientPort: Int?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientPort = source.channel.remoteAddress?.port
    }
}

/// The thread-safe request log of a ``Receiver``.
final class RequestLog: Sendable {
    private struct State {
        var requests: [RecordedRequest] = []
        var countByPath: [String: Int] = [:]
        var isStopping = false
    }

    private let state = Mutex(State())

    /// Appends a request; returns its 0-based index among requests on its path.
    func record(_ request: RecordedRequest) -> Int {
        state.withLock { state in
            state.requests.append(request)
            let index = state.countByPath[request.path, default: 0]
            state.countByPath[request.path] = index + 1
            return index
        }
    }

    func all() -> [RecordedRequest] {
        state.withLock { $0.requests }
    }

    func stop() {
        state.withLock { $0.isStopping = true }
    }

    /// Sleeps for `duration`, or until ``stop()``.
    func sleep(for duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        while !state.withLock({ $0.isStopping }) {
            let left = deadline - .now
            guard left > .zero else { return }
            try? await Task.sleep(for: min(left, .milliseconds(10)))
        }
    }
}
