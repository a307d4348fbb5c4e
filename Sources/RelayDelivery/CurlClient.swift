#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP client over one libcurl multi handle, driven by a thread of its own.
///
/// Many transfers run at once on that thread; connections are kept alive and reused across requests (the connection
/// cache belongs to the multi handle). Every transfer ignores proxy environment variables, never waits for
/// `100 Continue`, does not follow redirects, and speaks only http and https.
///
/// Call ``shutdown()`` when done: it ends the thread and fails requests still in flight. Dropping the last reference
/// also shuts the client down.
public final class CurlClient: @unchecked Sendable {
    private let driver: CurlDriver
    #if canImport(Darwin)
    private let thread: pthread_t?
    #else
    private let thread: pthread_t
    #endif

    /// Creates the multi handle and starts the driver thread.
    /// - Parameter configuration: connection and response limits.
    /// - Throws: ``TransportError`` (code `other`) if libcurl cannot be initialised or the thread cannot start.
    public init(configuration: CurlClientConfiguration = .init()) throws {
        let driver = try CurlDriver(configuration: configuration)
        self.driver = driver
        let context = Unmanaged.passRetained(driver).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let rc = pthread_create(&thread, nil, { runDriver($0) }, context)
        guard rc == 0 else {
            Unmanaged<CurlDriver>.fromOpaque(context).release()
            throw TransportError(code: .other, message: "could not start the curl driver thread (pthread_create \(rc))")
        }
        self.thread = thread
    }

    deinit {
        shutdown()
    }

    /// Sends one request and waits for its response.
    ///
    /// Any HTTP status, 4xx and 5xx included, is a response. The body of the response is capped at
    /// ``CurlClientConfiguration/maxResponseBodyBytes``.
    /// - Parameter request: method, URL, headers, body and timeouts.
    /// - Returns: the status, header fields and (capped) body of the final response.
    /// - Throws: ``TransportError`` when no response arrived (timeout, connection refused, ..., or after
    ///   ``shutdown()``); `CancellationError` when the calling task is cancelled, which abandons the transfer at once.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Task.checkCancellation()
        let headerList = try Transfer.makeHeaderList(for: request)
        let driver = self.driver
        let id = driver.makeID()
        let transfer = Transfer(id: id, request: request, headerList: headerList, configuration: driver.configuration)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                driver.submit(transfer)
            }
        } onCancel: {
            driver.cancel(id)
        }
    }

    /// New connections opened so far, summed over finished transfers (`CURLINFO_NUM_CONNECTS`). With keep-alive
    /// working, this stays near the number of concurrent transfers per host, not the number of requests.
    public var connectionsOpened: Int { driver.connectionsOpened }

    /// Stops the driver thread: requests in flight and any sent later fail with ``TransportError`` code `shutdown`.
    /// Waits for the thread to finish (it closes its connections), so it may block for a moment. Safe to call twice.
    public func shutdown() {
        guard driver.requestShutdown() else { return }
        #if canImport(Darwin)
        guard let thread, pthread_equal(thread, pthread_self()) == 0 else { return }
        #else
        guard pthread_equal(thread, pthread_self()) == 0 else { return }
        #endif
        pthread_join(thread, nil)
    }
}

/// The driver thread's entry point: takes over the reference passed to `pthread_create`.
private func runDriver(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    let driver = Unmanaged<CurlDriver>.fromOpaque(context).takeRetainedValue()
    driver.run()
    return nil
}
