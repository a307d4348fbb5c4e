import RelayCore

/// One HTTP request for ``CurlClient/execute(_:)``.
///
/// The client sends exactly these headers (plus `Host`, `Content-Length` and `Accept: */*`, which libcurl adds).
/// It never sends `Expect: 100-continue` and never sends the form Content-Type libcurl would add to a POST on its
/// own: give `Content-Type` yourself if the receiver needs one.
public struct HTTPRequest: Sendable {
    /// The method: `POST` (default), `GET`, `HEAD`, `PUT`, `DELETE` or any other token.
    public var method: String
    /// Absolute `http://` or `https://` URL. Other schemes fail with ``TransportError/Code/invalidRequest``.
    public var url: String
    /// Header fields in order. A name or value containing CR or LF is refused with
    /// ``TransportError/Code/invalidRequest``; an empty value is sent as an empty field.
    public var headers: [(name: String, value: String)]
    /// The body bytes, sent with `Content-Length` (not chunked). Empty: no body (`Content-Length: 0` for POST).
    public var body: [UInt8]
    /// Limit for the whole transfer, connection included (libcurl `CURLOPT_TIMEOUT_MS`). Rounded up to whole
    /// milliseconds; at least 1 ms.
    public var timeout: Duration
    /// Limit for the TCP (and TLS) connect phase; `nil` means the same as ``timeout``.
    public var connectTimeout: Duration?
    /// For `https://`: the CA file to trust instead of the system's, a client certificate and key, or no
    /// verification at all. Nil: verified against the system's trust store. A file that cannot be read fails the
    /// request with the libcurl error naming it.
    public var tls: TargetTLS?

    /// Creates a request.
    /// - Parameters:
    ///   - method: HTTP method, default `POST`.
    ///   - url: absolute `http://` or `https://` URL.
    ///   - headers: header fields in order, default none.
    ///   - body: body bytes, default empty.
    ///   - timeout: limit for the whole transfer, default 10 s.
    ///   - connectTimeout: limit for connecting, default `nil` (same as `timeout`).
    ///   - tls: TLS settings for `https://`, default `nil` (the system's trust store, verified).
    public init(
        method: String = "POST",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(10),
        connectTimeout: Duration? = nil,
        tls: TargetTLS? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.tls = tls
    }
}
