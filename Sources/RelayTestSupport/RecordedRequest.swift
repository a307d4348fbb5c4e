/// One request as a ``Receiver`` saw it.
public struct RecordedRequest: Sendable {
    /// The method, e.g. `POST`.
    public var method: String
    /// The path without the query, e.g. `/events`.
    public var path: String
    /// The query without `?`, or `nil` if the target had none.
    public var query: String?
    /// Header fields in arrival order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body bytes exactly as received.
    public var body: [UInt8]
    /// When the request head and body had fully arrived.
    public var arrival: ContinuousClock.Instant
    /// The client's TCP port: requests that share a port came over one (kept-alive) connection.
    public var clientPort: Int?

    /// Creates a record.
    public init(
        method: String,
        path: String,
        query: String? = nil,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        arrival: ContinuousClock.Instant = .now,
        clientPort: Int? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.arrival = arrival
        self.clientPort = clientPort
    }

    /// The first value of header `name` (ASCII case-insensitive), or `nil`.
    public func header(_ name: String) -> String? {
        headers(named: name).first
    }

    /// Every value of header `name` (ASCII case-insensitive), in order.
    public func headers(named name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
