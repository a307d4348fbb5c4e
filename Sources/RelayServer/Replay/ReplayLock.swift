import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<data-dir>/replay.lock`, held while one replay runs (docs/delivery.md, "Replay").
///
/// Replay works beside a running `serve` (which only appends to the dead-letter file, under the file's own lock);
/// two replays at once could each send the same line before either removed it, so the second one refuses. The
/// kernel releases the lock when the process dies, so a crash never leaves it stale.
public final class ReplayLock: Sendable {
    /// The name of the lock file inside the data directory.
    public static let fileName = "replay.lock"
    private let descriptor: Int32

    /// Takes the lock without waiting.
    /// - Throws: ``ReplayError`` `.busy` when another replay holds it, `.io` when the file cannot be opened (a
    ///   symlink is never followed).
    public init(directory: String) throws(ReplayError) {
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw ReplayError(
                code: .io,
                message: "cannot open \(path): \(String(cString: strerror(errno))); check --data-dir and permissions"
            )
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ReplayError(
                code: .busy,
                message: "another replay is running on \(directory); wait for it to finish"
            )
        }
        self.descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

/// Why a replay could not run.
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded.
    public enum Code: String, Sendable {
        /// Another replay holds the replay lock.
        case busy
        /// The rules could not be loaded, or are needed and missing.
        case rules
        /// A file could not be read or written.
        case io
        /// An option is invalid.
        case usage
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
