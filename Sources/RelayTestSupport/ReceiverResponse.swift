/// What a ``Receiver`` answers to one request.
public struct ReceiverResponse: Sendable {
    /// The HTTP status, default 200.
    public var status: Int
    /// Header fields to send; names that are not valid HTTP field names are skipped.
    public var headers: [(name: String, value: String)]
    /// The body to send (not sent for `HEAD`).
    public var body: [UInt8]
    /// Wait this long before answering, to play a slow target; cut short when the receiver stops.
    public var delay: Duration?

    /// Creates a response.
    public init(
        status: Int = 200,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        delay: Duration? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    /// 200 with no body.
    public static let ok = ReceiverResponse()
}
