import CNats
import CNatsShim
import Dispatch
import RelayCore
import RelayLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs libnats's blocking calls on threads of our own, never on the Swift cooperative pool.
enum Blocking {
    /// Calls that may run side by side (publishes, acks, lookups): libnats is thread-safe.
    static let queue = DispatchQueue(label: "bucket-relay.jetstream", qos: .utility, attributes: .concurrent)

    /// Runs `body` on `queue` and resumes the caller with its result.
    static func run<T: Sendable>(
        on queue: DispatchQueue = Blocking.queue,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// One NATS connection and its JetStream context; destroyed when the last user lets go.
final class NatsConnection: @unchecked Sendable {
    let connection: OpaquePointer
    let jetStream: OpaquePointer
    private let options: OpaquePointer

    /// Connects (blocking), retrying nothing: a server that cannot be reached is `.unavailable` now.
    init(_ configuration: JetStreamConfiguration) throws(DeliveryLogError) {
        guard cnats_check_compatibility() else {
            throw DeliveryLogError(
                code: .io,
                message: "the libnats the process loaded is not the one it was built with; reinstall libnats-dev"
            )
        }
        var options: OpaquePointer?
        guard natsOptions_Create(&options) == NATS_OK, let options else {
            throw NatsFailure.error(NATS_NO_MEMORY, nil, "cannot create NATS connection options")
        }
        var ok = true
        var servers = configuration.servers.map { strdup($0) }
        defer { for server in servers { free(server) } }
        servers.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pointers in
                ok = ok && natsOptions_SetServers(options, pointers.baseAddress, Int32(pointers.count)) == NATS_OK
            }
        }
        ok = ok && natsOptions_SetName(options, configuration.connectionName) == NATS_OK
        ok = ok && natsOptions_SetTimeout(options, configuration.requestTimeout.wholeMilliseconds) == NATS_OK
        // Reconnect for ever: while NATS is away every call fails with `.unavailable`, and the log comes back by itself.
        ok = ok && natsOptions_SetMaxReconnect(options, -1) == NATS_OK
        ok = ok && natsOptions_SetReconnectWait(options, 500) == NATS_OK
        // A request made while disconnected fails at once rather than after the timeout.
        ok = ok && natsOptions_SetFailRequestsOnDisconnect(options, true) == NATS_OK
        if let file = configuration.credentialsFile {
            ok = ok && natsOptions_SetUserCredentialsFromFiles(options, file, nil) == NATS_OK
        }
        guard ok else {
            natsOptions_Destroy(options)
            throw NatsFailure.error(NATS_INVALID_ARG, nil, "cannot set the NATS connection options")
        }
        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, options)
        guard status == NATS_OK, let connection else {
            natsOptions_Destroy(options)
            throw NatsFailure.error(
                status,
                nil,
                "cannot connect to NATS at \(configuration.servers.map(RedactedURL.redact).joined(separator: ","))"
            )
        }
        var jsOptions = jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = configuration.requestTimeout.wholeMilliseconds
        var jetStream: OpaquePointer?
        let jsStatus = natsConnection_JetStream(&jetStream, connection, &jsOptions)
        guard jsStatus == NATS_OK, let jetStream else {
            natsConnection_Destroy(connection)
            natsOptions_Destroy(options)
            throw NatsFailure.error(jsStatus, nil, "cannot open a JetStream context")
        }
        self.options = options
        self.connection = connection
        self.jetStream = jetStream
    }

    var isConnected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    /// The largest message the server accepts (its `max_payload`, default 1 MB), headers included.
    var maxPayload: Int64 { natsConnection_GetMaxPayload(connection) }

    /// Closes the connection: later calls fail at once (`NATS_CONNECTION_CLOSED`); memory goes with the last user.
    func close() { natsConnection_Close(connection) }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Destroy(connection)
        natsOptions_Destroy(options)
    }
}

/// A pull subscription bound to a durable consumer; its messages keep it alive.
final class NatsSubscription: @unchecked Sendable {
    let pointer: OpaquePointer
    let connection: NatsConnection

    init(_ pointer: OpaquePointer, _ connection: NatsConnection) {
        self.pointer = pointer
        self.connection = connection
    }

    deinit { natsSubscription_Destroy(pointer) }

    /// Messages that arrived after a fetch stopped waiting, queued for the next fetch.
    var queuedMessages: UInt64 {
        var count: UInt64 = 0
        return natsSubscription_QueuedMsgs(pointer, &count) == NATS_OK ? count : 0
    }
}

/// A message libnats handed us (fetched, or read by sequence): destroyed with the last reference.
final class NatsMessage: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The subscription it came from (acks go through it), kept alive as long as the message.
    let subscription: NatsSubscription?

    init(_ pointer: OpaquePointer, subscription: NatsSubscription? = nil) {
        self.pointer = pointer
        self.subscription = subscription
    }

    deinit { natsMsg_Destroy(pointer) }

    /// A message to publish.
    static func make(
        subject: String,
        payload: [UInt8],
        headers: [(String, String)]
    ) throws(DeliveryLogError)
        -> NatsMessage
    {
        var message: OpaquePointer?
        let status = payload.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                natsMsg_Create(&message, subject, nil, chars.baseAddress, Int32(chars.count))
            }
        }
        guard status == NATS_OK, let message else {
            throw NatsFailure.error(status, nil, "cannot create a NATS message on \(subject)")
        }
        let made = NatsMessage(message)
        for (key, value) in headers {
            let status = natsMsgHeader_Set(message, key, HeaderValue.clean(value))
            guard status == NATS_OK else { throw NatsFailure.error(status, nil, "cannot set header \(key)") }
        }
        return made
    }

    func header(_ key: String) -> String? {
        var value: UnsafePointer<CChar>?
        guard natsMsgHeader_Get(pointer, key, &value) == NATS_OK, let value else { return nil }
        return String(cString: value)
    }

    var data: [UInt8] {
        let count = Int(natsMsg_GetDataLength(pointer))
        guard count > 0, let data = natsMsg_GetData(pointer) else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }

    var subject: String { natsMsg_GetSubject(pointer).map { String(cString: $0) } ?? "" }

    /// The stream sequence of a message read with js_GetMsg / js_DirectGetMsg / js_GetLastMsg.
    var storedSequence: UInt64 { natsMsg_GetSequence(pointer) }

    /// The stream sequence and delivery count of a fetched message.
    func metadata() -> (streamSequence: UInt64, deliveries: UInt64)? {
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        guard natsMsg_GetMetaData(&meta, pointer) == NATS_OK, let meta else { return nil }
        defer { jsMsgMetaData_Destroy(meta) }
        return (meta.pointee.Sequence.Stream, meta.pointee.NumDelivered)
    }
}

/// Header values are one line of printable text: CR and LF become spaces.
enum HeaderValue {
    static func clean(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else { return value }
        return String(value.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}

/// Turns libnats statuses and JetStream error codes into ``DeliveryLogError``.
enum NatsFailure {
    /// JetStream refused to store a message because a stream limit is reached (discard new).
    static func isLimit(_ code: jsErrCode?, _ text: String) -> Bool {
        guard code?.rawValue == JSStreamStoreFailedErr.rawValue else { return false }
        return text.contains("maximum messages") || text.contains("maximum bytes")
            || text.contains("resource limits exceeded")
    }

    /// The error for a failed call; reads libnats's per-thread last error, so call it on the thread that failed.
    static func error(_ status: natsStatus, _ code: jsErrCode?, _ what: String) -> DeliveryLogError {
        let detail = String(cString: cnats_last_error())
        let statusText = natsStatus_GetText(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
        var message = "\(what): \(statusText)"
        if !detail.isEmpty && detail != statusText { message += " (\(detail))" }
        if let code, code.rawValue != 0 { message += " [JetStream error \(code.rawValue)]" }
        if isLimit(code, detail) {
            return DeliveryLogError(code: .full, message: message + "; the stream is at its limit")
        }
        if status == NATS_MAX_PAYLOAD {
            return DeliveryLogError(
                code: .io,
                message: message + "; raise max_payload in the NATS server configuration above the largest body"
            )
        }
        switch status {
        case NATS_NO_SERVER, NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED, NATS_TIMEOUT, NATS_NO_RESPONDERS,
            NATS_IO_ERROR, NATS_NOT_YET_CONNECTED, NATS_STALE_CONNECTION, NATS_CONNECTION_AUTH_FAILED:
            return DeliveryLogError(code: .unavailable, message: message)
        default:
            return DeliveryLogError(code: .io, message: message)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, rounded down (saturating).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : product + attoseconds / 1_000_000_000
    }
}
