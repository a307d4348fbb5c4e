import RelayDelivery

/// One-line HTTP calls for tests, over a process-wide ``CurlClient``.
///
/// Each returns the response (status, headers, body up to 64 KiB) or throws `TransportError`.
public enum TestHTTP {
    private static let shared = Result { try CurlClient() }

    /// The shared client (created on first use, never shut down).
    public static func client() throws -> CurlClient {
        try shared.get()
    }

    /// Sends `POST url` with `body` and `headers`.
    public static func post(
        _ url: String,
        body: [UInt8],
        headers: [(name: String, value: String)] = [],
        timeout: Duration = .seconds(10)
    ) async throws -> HTTPResponse {
        try await client().execute(
            HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: timeout)
        )
    }

    /// Sends `POST url` with the UTF-8 bytes of `body` and `headers`.
    public static func post(
        _ url: String,
        body: String,
        headers: [(name: String, value: String)] = [],
        timeout: Duration = .seconds(10)
    ) async throws -> HTTPResponse {
        try await post(url, body: Array(body.utf8), headers: headers, timeout: timeout)
    }

    /// Sends `GET url`.
    public static func get(
        _ url: String,
        headers: [(name: String, value: String)] = [],
        timeout: Duration = .seconds(10)
    ) async throws -> HTTPResponse {
        try await client().execute(HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout))
    }

    /// Sends `HEAD url`.
    public static func head(
        _ url: String,
        headers: [(name: String, value: String)] = [],
        timeout: Duration = .seconds(10)
    ) async throws -> HTTPResponse {
        try await client().execute(HTTPRequest(method: "HEAD", url: url, headers: headers, timeout: timeout))
    }
}
