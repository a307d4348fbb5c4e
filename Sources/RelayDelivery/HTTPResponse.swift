import RelayCore

/// The answer to one ``HTTPRequest``: any status, 4xx and 5xx included (they are not errors at this level).
public struct HTTPResponse: Sendable {
    /// The HTTP status code, e.g. `200`, `503`.
    public var status: Int
    /// Response header fields of the final response, in order, names as sent, values trimmed.
    public var headers: [(name: String, value: String)]
    /// The response body, at most ``CurlClientConfiguration/maxResponseBodyBytes`` bytes: the rest is dropped
    /// (see ``isBodyTruncated``). Empty for `HEAD`.
    public var body: [UInt8]
    /// `true` when the receiver sent more than ``CurlClientConfiguration/maxResponseBodyBytes`` and the excess
    /// was dropped.
    public var isBodyTruncated: Bool

    /// Creates a response.
    public init(
        status: Int,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        isBodyTruncated: Bool = false
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.isBodyTruncated = isBodyTruncated
    }

    /// The value of the first header field called `name` (ASCII case-insensitive), or `nil`.
    public func header(_ name: String) -> String? {
        for field in headers where ASCII.equalsIgnoringCase(field.name, name) {
            return field.value
        }
        return nil
    }
}
