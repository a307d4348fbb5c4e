/// Limits of one ``CurlClient`` (one libcurl multi handle).
public struct CurlClientConfiguration: Sendable {
    /// Most connections open to one host at a time (`CURLMOPT_MAX_HOST_CONNECTIONS`). Transfers beyond this wait
    /// in libcurl's queue; their timeout runs while they wait. 0 means no limit. Default 64.
    public var maxHostConnections: Int = 64
    /// Most idle connections kept in the connection cache for reuse (`CURLMOPT_MAXCONNECTS`). Default 256.
    public var maxConnections: Int = 256
    /// Most response body bytes kept per transfer; the rest is dropped and flagged with
    /// ``HTTPResponse/isBodyTruncated``, not an error. Default 65536 (64 KiB).
    public var maxResponseBodyBytes: Int = 65536
    /// Most response header fields kept per transfer; further fields are dropped. Default 100.
    public var maxResponseHeaders: Int = 100

    /// Creates a configuration with the defaults above.
    public init() {}
}
