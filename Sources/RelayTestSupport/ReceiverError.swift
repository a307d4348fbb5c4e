/// A ``Receiver`` that could not start, or a wait that ran out.
public struct ReceiverError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and what to check.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "ReceiverError: \(message)" }
}
