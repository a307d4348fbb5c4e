import CCurl
import CCurlShim
import RelayCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `curl_global_init`, run once per process before the first multi handle.
private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// The libcurl multi handle and the thread that drives it.
///
/// Only the driver thread touches the multi handle, the easy handles and active transfers; other threads talk to it
/// through ``inbox`` (under a mutex) and `curl_multi_wakeup`, which libcurl allows from any thread. The thread holds
/// a strong reference until it exits, so the multi handle (freed in `deinit`) outlives every wakeup call.
final class CurlDriver: @unchecked Sendable {
    struct Inbox {
        var new: [Transfer] = []
        var cancelled: [UInt64] = []
        /// The driver is (about to be) blocked in `curl_multi_poll` and needs a wakeup to see new work.
        var sleeping = false
        var isShutdown = false
    }

    let inbox = Mutex(Inbox())
    let configuration: CurlClientConfiguration
    private let multi: UnsafeMutableRawPointer
    private let connectsOpened = Atomic<Int>(0)
    private let nextID = Atomic<UInt64>(0)

    // Driver-thread state.
    private var active: [UInt64: Transfer] = [:]
    private var pool: [EasyHandle] = []
    private var batch: [Transfer] = []
    private var cancelBatch: [UInt64] = []

    init(configuration: CurlClientConfiguration) throws(TransportError) {
        guard curlGlobalInit == CURLE_OK else {
            throw TransportError(
                code: .other,
                curlCode: Int(curlGlobalInit.rawValue),
                message: "curl_global_init failed; check that libcurl and its TLS library are installed"
            )
        }
        guard let multi = curl_multi_init() else {
            throw TransportError(code: .other, message: "curl_multi_init failed (out of memory)")
        }
        self.multi = multi
        self.configuration = configuration
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(0, configuration.maxHostConnections))
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, configuration.maxConnections))
    }

    deinit {
        curl_multi_cleanup(multi)
    }

    /// New connections libcurl has opened so far (sum of `CURLINFO_NUM_CONNECTS` over finished transfers).
    var connectionsOpened: Int { connectsOpened.load(ordering: .relaxed) }

    func makeID() -> UInt64 {
        nextID.add(1, ordering: .relaxed).newValue
    }

    // MARK: Any thread

    /// Queues a transfer, or fails it at once if the task is cancelled or the driver is shut down.
    func submit(_ transfer: Transfer) {
        enum Outcome { case queued, wake, cancelled, shutdown }
        let outcome = inbox.withLock { box -> Outcome in
            if box.isShutdown { return .shutdown }
            if Task.isCancelled { return .cancelled }
            box.new.append(transfer)
            guard box.sleeping else { return .queued }
            box.sleeping = false
            return .wake
        }
        switch outcome {
        case .queued: break
        case .wake: curl_multi_wakeup(multi)
        case .cancelled: transfer.complete(.failure(CancellationError()))
        case .shutdown: transfer.complete(.failure(Self.shutdownError))
        }
    }

    /// Asks the driver to abandon transfer `id` and end its call with `CancellationError`.
    func cancel(_ id: UInt64) {
        let wake = inbox.withLock { box -> Bool in
            guard !box.isShutdown else { return false }
            box.cancelled.append(id)
            defer { box.sleeping = false }
            return box.sleeping
        }
        if wake { curl_multi_wakeup(multi) }
    }

    /// Marks the driver shut down and wakes it. Returns `false` if it already was.
    func requestShutdown() -> Bool {
        let first = inbox.withLock { box -> Bool in
            guard !box.isShutdown else { return false }
            box.isShutdown = true
            return true
        }
        if first { curl_multi_wakeup(multi) }
        return first
    }

    static let shutdownError = TransportError(
        code: .shutdown,
        message: "the HTTP client was shut down; requests must be sent before CurlClient.shutdown()"
    )

    // MARK: Driver thread

    /// The loop: take new work, drive libcurl, hand back finished transfers, sleep in `curl_multi_poll`.
    func run() {
        while true {
            let isShutdown = inbox.withLock { box -> Bool in
                swap(&box.new, &batch)
                swap(&box.cancelled, &cancelBatch)
                box.sleeping = false
                return box.isShutdown
            }
            if isShutdown { break }
            for transfer in batch { start(transfer) }
            batch.removeAll(keepingCapacity: true)
            for id in cancelBatch { abandon(id) }
            cancelBatch.removeAll(keepingCapacity: true)

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()

            let sleep = inbox.withLock { box -> Bool in
                guard box.new.isEmpty, box.cancelled.isEmpty, !box.isShutdown else { return false }
                box.sleeping = true
                return true
            }
            if sleep {
                // libcurl shortens the wait to its own next timeout; a wakeup ends it at once.
                _ = curl_multi_poll(multi, nil, 0, 1000, nil)
            }
        }
        drainOnShutdown()
    }

    private func start(_ transfer: Transfer) {
        guard let easy = takeEasyHandle() else {
            transfer.complete(.failure(TransportError(code: .other, message: "curl_easy_init failed (out of memory)")))
            return
        }
        transfer.easy = easy
        let rc = configure(easy, for: transfer)
        guard rc == CURLE_OK else {
            recycle(easy)
            transfer.easy = nil
            transfer.complete(.failure(Self.error(for: rc, errorBuffer: easy.errorBuffer)))
            return
        }
        let mrc = curl_multi_add_handle(multi, easy.handle)
        guard mrc == CURLM_OK else {
            recycle(easy)
            transfer.easy = nil
            let message = "curl_multi_add_handle failed: " + String(cString: curl_multi_strerror(mrc))
            transfer.complete(.failure(TransportError(code: .other, message: message)))
            return
        }
        active[transfer.id] = transfer
    }

    /// Sets every option of one transfer; returns the first failing code.
    private func configure(_ easy: EasyHandle, for transfer: Transfer) -> CURLcode {
        let handle = easy.handle
        let request = transfer.request
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        easy.errorBuffer[0] = 0
        let total = Self.milliseconds(request.timeout)
        let connect = Self.milliseconds(request.connectTimeout ?? request.timeout)

        var rc = CURLE_OK
        func set(_ result: CURLcode) {
            if rc == CURLE_OK { rc = result }
        }
        set(ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(easy.errorBuffer)))
        set(ccurl_setopt_str(handle, CURLOPT_URL, request.url))
        set(ccurl_setopt_str(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, total))
        set(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connect))
        // Ignore http_proxy / HTTPS_PROXY / NO_PROXY from the environment.
        set(ccurl_setopt_str(handle, CURLOPT_PROXY, ""))
        set(ccurl_setopt_str(handle, CURLOPT_NOPROXY, "*"))
        if let tls = request.tls {
            // A handle is reset before reuse, so these never leak into another target's transfer; libcurl reuses a
            // cached connection only for a transfer with the same TLS settings.
            if let caFile = tls.caFile { set(ccurl_setopt_str(handle, CURLOPT_CAINFO, caFile)) }
            if let certFile = tls.certFile { set(ccurl_setopt_str(handle, CURLOPT_SSLCERT, certFile)) }
            if let keyFile = tls.keyFile { set(ccurl_setopt_str(handle, CURLOPT_SSLKEY, keyFile)) }
            if tls.insecureSkipVerify {
                set(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0))
                set(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0))
            }
        }
        set(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, transfer.headerList))
        set(ccurl_setopt_write_cb(handle, CURLOPT_WRITEFUNCTION, Transfer.writeCallback))
        set(ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, context))
        set(ccurl_setopt_write_cb(handle, CURLOPT_HEADERFUNCTION, Transfer.headerCallback))
        set(ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, context))
        set(ccurl_setopt_ptr(handle, CURLOPT_PRIVATE, UnsafeMutableRawPointer(bitPattern: UInt(transfer.id))))
        let method = request.method
        if method == "HEAD" {
            set(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        } else if method == "POST" || !request.body.isEmpty {
            set(ccurl_setopt_long(handle, CURLOPT_POST, 1))
            set(ccurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            set(ccurl_setopt_read_cb(handle, Transfer.readCallback))
            set(ccurl_setopt_ptr(handle, CURLOPT_READDATA, context))
            set(ccurl_setopt_seek_cb(handle, Transfer.seekCallback))
            set(ccurl_setopt_ptr(handle, CURLOPT_SEEKDATA, context))
            if method != "POST" { set(ccurl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method)) }
        } else {
            set(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            if method != "GET" { set(ccurl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method)) }
        }
        return rc
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var privateData: UnsafeMutableRawPointer?
            _ = ccurl_getinfo_ptr(handle, CURLINFO_PRIVATE, &privateData)
            let id = UInt64(UInt(bitPattern: privateData))
            guard let transfer = active.removeValue(forKey: id), let easy = transfer.easy else {
                curl_multi_remove_handle(multi, handle)
                continue
            }
            finish(transfer, easy: easy, result: result)
        }
    }

    private func finish(_ transfer: Transfer, easy: EasyHandle, result: CURLcode) {
        countConnects(easy)
        let outcome: Result<HTTPResponse, any Error>
        if result == CURLE_OK {
            var status = 0
            _ = ccurl_getinfo_long(easy.handle, CURLINFO_RESPONSE_CODE, &status)
            outcome = .success(
                HTTPResponse(
                    status: status,
                    headers: transfer.responseHeaders,
                    body: transfer.responseBody,
                    isBodyTruncated: transfer.isBodyTruncated
                )
            )
        } else {
            outcome = .failure(Self.error(for: result, errorBuffer: easy.errorBuffer))
        }
        curl_multi_remove_handle(multi, easy.handle)
        transfer.easy = nil
        recycle(easy)
        transfer.complete(outcome)
    }

    private func abandon(_ id: UInt64) {
        guard let transfer = active.removeValue(forKey: id) else { return }
        if let easy = transfer.easy {
            countConnects(easy)
            curl_multi_remove_handle(multi, easy.handle)
            transfer.easy = nil
            recycle(easy)
        }
        transfer.complete(.failure(CancellationError()))
    }

    private func countConnects(_ easy: EasyHandle) {
        var connects = 0
        _ = ccurl_getinfo_long(easy.handle, CURLINFO_NUM_CONNECTS, &connects)
        if connects > 0 { connectsOpened.add(connects, ordering: .relaxed) }
    }

    private func drainOnShutdown() {
        for transfer in batch { transfer.complete(.failure(Self.shutdownError)) }
        batch.removeAll()
        cancelBatch.removeAll()
        for transfer in active.values {
            if let easy = transfer.easy {
                curl_multi_remove_handle(multi, easy.handle)
                transfer.easy = nil
                release(easy)
            }
            transfer.complete(.failure(Self.shutdownError))
        }
        active.removeAll()
        for easy in pool { release(easy) }
        pool.removeAll()
    }

    // MARK: Easy handle pool

    private func takeEasyHandle() -> EasyHandle? {
        if let easy = pool.popLast() { return easy }
        guard let handle = curl_easy_init() else { return nil }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        return EasyHandle(handle: handle, errorBuffer: errorBuffer)
    }

    /// Clears the handle's options (its connection stays in the multi handle's cache) and keeps it for reuse.
    private func recycle(_ easy: EasyHandle) {
        guard pool.count < max(1, configuration.maxConnections) else {
            release(easy)
            return
        }
        curl_easy_reset(easy.handle)
        pool.append(easy)
    }

    private func release(_ easy: EasyHandle) {
        curl_easy_cleanup(easy.handle)
        easy.errorBuffer.deallocate()
    }

    // MARK: Helpers

    /// Whole milliseconds, rounded up, at least 1, clamped to what a C `long` holds.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0, seconds > 0 || attoseconds > 0 else { return 1 }
        let (wholeMs, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return Int.max }
        let partMs = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let (sum, overflow2) = wholeMs.addingReportingOverflow(partMs)
        guard !overflow2, sum <= Int64(Int.max) else { return Int.max }
        return max(1, Int(sum))
    }

    static func error(for code: CURLcode, errorBuffer: UnsafeMutablePointer<CChar>) -> TransportError {
        let kind: TransportError.Code
        switch code {
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_COULDNT_CONNECT: kind = .connectionRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolveHost
        case CURLE_SEND_ERROR, CURLE_SEND_FAIL_REWIND: kind = .sendFailed
        case CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: kind = .receiveFailed
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: kind = .invalidRequest
        default: kind = .other
        }
        var message = String(cString: curl_easy_strerror(code))
        if errorBuffer[0] != 0 {
            message += ": " + String(cString: errorBuffer)
        }
        return TransportError(code: kind, curlCode: Int(code.rawValue), message: message)
    }
}
