/// An error of a delivery log (the SQLite spool, the dead-letter file, a stream).
///
/// `code` is bounded and doubles as a metric label; `message` says what went wrong and how to fix it.
/// The ingress answers 503 for every code: the sender keeps the event and sends it again later.
public struct DeliveryLogError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. Its `description` (`full`, `disk_full`, `io`, `closed`, `unavailable`) is a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case full
            case diskFull = "disk_full"
            case io
            case closed
            case unavailable
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The log holds `--spool-max` deliveries (count or bytes): nothing was written.
        public static let full = Code(.full)
        /// The file system is full (SQLITE_FULL, ENOSPC, EDQUOT): nothing was written.
        public static let diskFull = Code(.diskFull)
        /// Any other I/O or SQLite failure (SQLITE_IOERR, SQLITE_CANTOPEN, a corrupt file, a permission problem).
        public static let io = Code(.io)
        /// The log was closed; no further operation is accepted.
        public static let closed = Code(.closed)
        /// The log's store cannot be reached (a stream server down): nothing was written.
        public static let unavailable = Code(.unavailable)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong and how to fix it.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
