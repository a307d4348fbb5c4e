/// A transfer that produced no HTTP response: it could not connect, timed out, broke off, or was never started.
///
/// ``code`` is bounded (a metric label and a dead-letter field); ``curlCode`` and ``message`` carry the detail.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String {
            case timeout
            case connectionRefused = "connection_refused"
            case couldNotResolveHost = "could_not_resolve_host"
            case sendFailed = "send_failed"
            case receiveFailed = "receive_failed"
            case invalidRequest = "invalid_request"
            case shutdown
            case other
        }

        let base: Base

        /// The transfer (or its connect phase) took longer than its timeout (curl 28).
        public static let timeout = Code(base: .timeout)
        /// No connection could be made: refused, unreachable, or reset while connecting (curl 7).
        public static let connectionRefused = Code(base: .connectionRefused)
        /// The host name did not resolve (curl 5, 6).
        public static let couldNotResolveHost = Code(base: .couldNotResolveHost)
        /// Sending the request failed, e.g. the connection was closed while sending (curl 55, 65).
        public static let sendFailed = Code(base: .sendFailed)
        /// Receiving the response failed or the server closed without answering (curl 18, 52, 56).
        public static let receiveFailed = Code(base: .receiveFailed)
        /// The request cannot be sent as given: a malformed URL, a scheme other than http/https, a header with CR
        /// or LF (curl 1, 3). Retrying cannot help.
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The client was shut down before the transfer finished (or it was submitted after ``CurlClient/shutdown()``).
        public static let shutdown = Code(base: .shutdown)
        /// Any other libcurl failure, e.g. TLS errors.
        public static let other = Code(base: .other)

        /// A short, stable name such as `timeout` or `connectionRefused`, usable as a metric label.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The libcurl `CURLcode` (e.g. 28 for a timeout), or 0 when libcurl was not involved.
    public var curlCode: Int
    /// What went wrong, from `curl_easy_strerror` and libcurl's error buffer, or from the client itself.
    public var message: String

    /// Creates an error.
    public init(code: Code, curlCode: Int = 0, message: String) {
        self.code = code
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        curlCode == 0 ? "TransportError(\(code)): \(message)" : "TransportError(\(code), curl \(curlCode)): \(message)"
    }
}
