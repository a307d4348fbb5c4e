import CCurl
import CCurlShim
import Foundation
import Synchronization

/// `curl_global_init` for the event-stream client (reference-counted by libcurl, so it may also run elsewhere).
private let eventStreamCurlInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// One server-sent event: its `event:` name (`message` when none was given) and its `data:` lines joined by `\n`.
public struct ServerSentEvent: Sendable, Equatable {
    public var name: String
    public var data: String

    public init(name: String, data: String) {
        self.name = name
        self.data = data
    }
}

/// The `text/event-stream` format, fed in pieces as they arrive (WHATWG HTML, "Server-sent events"): lines end in
/// LF, CR LF or CR; `event:` names the event, `data:` adds a line to it, a blank line dispatches it, a line starting
/// with `:` is a comment; one space after the colon is dropped.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var name = ""
    private var data: [String] = []
    private var hasData = false
    private var afterCR = false
    /// The longest line kept; the rest of a longer line is dropped (a stream cannot make the parser grow unbounded).
    public var maxLineBytes = 1 << 20

    public init() {}

    /// Parses `bytes`, returning the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            if byte == 0x0A || byte == 0x0D {
                afterCR = byte == 0x0D
                if let event = endLine() { events.append(event) }
            } else if line.count < maxLineBytes {
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else {
                name = ""
                return nil
            }
            let event = ServerSentEvent(name: name.isEmpty ? "message" : name, data: data.joined(separator: "\n"))
            name = ""
            data = []
            hasData = false
            return event
        }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "event": name = value
        case "data":
            data.append(value)
            hasData = true
        default: break
        }
        return nil
    }
}

/// A `GET` of a server-sent-events stream over libcurl, on a thread of its own (not the Swift concurrency pool):
/// events are handed to a callback on that thread as they arrive, until the server ends the stream, the connection
/// breaks, or ``stop()`` is called.
///
/// Used by `bucket-relay tap` (docs/interface.md, "`tap`").
public final class EventStreamClient: Sendable {
    /// How a stream ended.
    public enum End: Sendable, Equatable {
        /// ``stop()`` was called.
        case stopped
        /// The server ended the stream after a 2xx.
        case closed
        /// The server answered `status` (not 2xx) with `body` (at most 64 KiB).
        case refused(status: Int, body: String)
        /// No stream: the connection failed or broke (``TransportError/code`` says how).
        case failed(TransportError)

        public static func == (lhs: End, rhs: End) -> Bool {
            switch (lhs, rhs) {
            case (.stopped, .stopped), (.closed, .closed): true
            case (.refused(let a, let b), .refused(let c, let d)): a == c && b == d
            case (.failed(let a), .failed(let b)): a.code == b.code && a.message == b.message
            default: false
            }
        }
    }

    private let url: String
    private let headers: [(name: String, value: String)]
    private let connectTimeout: Duration
    private let stopping = Atomic<Bool>(false)
    /// The multi handle's address while the transfer runs (0 otherwise), for `curl_multi_wakeup` from ``stop()``.
    private let multi = Mutex<UInt>(0)

    /// - Parameters:
    ///   - url: an `http://` or `https://` URL.
    ///   - headers: request fields, e.g. `Authorization`; `Accept: text/event-stream` is added.
    ///   - connectTimeout: how long connecting may take.
    public init(url: String, headers: [(name: String, value: String)] = [], connectTimeout: Duration = .seconds(5)) {
        self.url = url
        self.headers = headers
        self.connectTimeout = connectTimeout
    }

    /// Starts the stream on a new thread. `onEvent` is called on that thread for each event, in order; `onEnd`
    /// once, last.
    public func start(
        onEvent: @escaping @Sendable (ServerSentEvent) -> Void,
        onEnd: @escaping @Sendable (End) -> Void
    ) {
        let thread = Thread { [self] in
            onEnd(self.perform(onEvent))
        }
        thread.name = "bucket-relay event stream"
        thread.start()
    }

    /// Ends the stream from any thread; `onEnd` then reports ``End/stopped``.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        multi.withLock { address in
            if let handle = UnsafeMutableRawPointer(bitPattern: address) { _ = curl_multi_wakeup(handle) }
        }
    }

    /// The state the write callback works on (only the stream's thread touches it).
    private final class Receiving {
        let easy: UnsafeMutableRawPointer
        let onEvent: (ServerSentEvent) -> Void
        var status = 0
        var parser = ServerSentEventParser()
        var errorBody: [UInt8] = []

        init(easy: UnsafeMutableRawPointer, onEvent: @escaping (ServerSentEvent) -> Void) {
            self.easy = easy
            self.onEvent = onEvent
        }
    }

    private static let writeCallback: curl_write_callback = { pointer, size, count, context in
        let total = size * count
        guard let pointer, let context else { return total }
        let receiving = Unmanaged<Receiving>.fromOpaque(context).takeUnretainedValue()
        if receiving.status == 0 {
            var status = 0
            _ = ccurl_getinfo_long(receiving.easy, CURLINFO_RESPONSE_CODE, &status)
            receiving.status = status
        }
        pointer.withMemoryRebound(to: UInt8.self, capacity: total) { base in
            let bytes = UnsafeBufferPointer(start: base, count: total)
            if (200..<300).contains(receiving.status) {
                for event in receiving.parser.feed(bytes) { receiving.onEvent(event) }
            } else if receiving.errorBody.count < 65_536 {
                receiving.errorBody.append(contentsOf: bytes.prefix(65_536 - receiving.errorBody.count))
            }
        }
        return total
    }

    private func perform(_ onEvent: @escaping @Sendable (ServerSentEvent) -> Void) -> End {
        guard eventStreamCurlInit == CURLE_OK, let multiHandle = curl_multi_init() else {
            return .failed(TransportError(code: .other, message: "libcurl could not be initialised"))
        }
        guard let easy = curl_easy_init() else {
            curl_multi_cleanup(multiHandle)
            return .failed(TransportError(code: .other, message: "curl_easy_init failed (out of memory)"))
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        var list: UnsafeMutablePointer<curl_slist>?
        for line in headers.map({ $0.name + ": " + $0.value }) + ["Accept: text/event-stream"] {
            list = curl_slist_append(list, line)
        }
        let receiving = Receiving(easy: easy, onEvent: onEvent)
        let context = Unmanaged.passUnretained(receiving).toOpaque()
        defer {
            curl_multi_remove_handle(multiHandle, easy)
            curl_easy_cleanup(easy)
            self.multi.withLock { $0 = 0 }
            curl_multi_cleanup(multiHandle)
            curl_slist_free_all(list)
            errorBuffer.deallocate()
            withExtendedLifetime(receiving) {}
        }
        _ = ccurl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        _ = ccurl_setopt_str(easy, CURLOPT_URL, url)
        _ = ccurl_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, CurlDriver.milliseconds(connectTimeout))
        _ = ccurl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_str(easy, CURLOPT_PROXY, "")
        _ = ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        _ = ccurl_setopt_write_cb(easy, CURLOPT_WRITEFUNCTION, Self.writeCallback)
        _ = ccurl_setopt_ptr(easy, CURLOPT_WRITEDATA, context)
        _ = ccurl_setopt_long(easy, CURLOPT_HTTPGET, 1)
        curl_multi_add_handle(multiHandle, easy)
        multi.withLock { $0 = UInt(bitPattern: multiHandle) }

        var result: CURLcode?
        while result == nil {
            if stopping.load(ordering: .relaxed) { return .stopped }
            var running: Int32 = 0
            let code = curl_multi_perform(multiHandle, &running)
            guard code == CURLM_OK else {
                return .failed(TransportError(code: .other, message: String(cString: curl_multi_strerror(code))))
            }
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multiHandle, &queued) {
                if message.pointee.msg == CURLMSG_DONE { result = message.pointee.data.result }
            }
            if result == nil {
                _ = curl_multi_poll(multiHandle, nil, 0, 1000, nil)
            }
        }
        if stopping.load(ordering: .relaxed) { return .stopped }
        guard let result, result == CURLE_OK else {
            return .failed(CurlDriver.error(for: result ?? CURLE_OK, errorBuffer: errorBuffer))
        }
        var status = receiving.status
        if status == 0 { _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status) }
        guard (200..<300).contains(status) else {
            return .refused(status: status, body: String(decoding: receiving.errorBody, as: UTF8.self))
        }
        return .closed
    }
}
