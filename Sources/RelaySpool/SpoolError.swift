/// An error of the spool or of the dead-letter file.
///
/// `code` is bounded and doubles as a metric label; `message` says what went wrong and how to fix it.
/// The ingress answers 503 for every code: the sender keeps the event and sends it again later.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. Its `description` (`full`, `disk_full`, `io`, `closed`) is a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case full
            case diskFull = "disk_full"
            case io
            case closed
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The spool holds `--spool-max` deliveries (count or bytes): nothing was written.
        public static let full = Code(.full)
        /// The file system is full (SQLITE_FULL, ENOSPC, EDQUOT): nothing was written.
        public static let diskFull = Code(.diskFull)
        /// Any other I/O or SQLite failure (SQLITE_IOERR, SQLITE_CANTOPEN, a corrupt file, a permission problem).
        public static let io = Code(.io)
        /// The spool was closed; no further operation is accepted.
        public static let closed = Code(.closed)

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
