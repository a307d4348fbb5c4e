/// The result of one delivery attempt: a response with any status, or no response at all.
public enum AttemptOutcome: Sendable {
    /// The target answered (any status).
    case response(HTTPResponse)
    /// No response: timeout, refused connection, broken transfer, ...
    case transportError(TransportError)
}
