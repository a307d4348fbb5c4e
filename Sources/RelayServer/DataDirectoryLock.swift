import Foundation
import RelayLog
import RelaySpool

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<data-dir>/relay.lock`, held for the life of the relay.
///
/// Two relays on one data directory would both deliver every spooled row; the second one refuses to start instead.
/// The kernel releases the lock when the process dies, kill -9 included, so a crash never leaves it stale.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Checks the directory (``DataDirectoryFiles/checkDirectory(_:)``), then takes the lock, writing this process's
    /// PID into the file (created 0600; a symbolic link there is refused, never followed).
    /// - Throws: `RelayStartError(.dataDirectory)` when the directory is refused, or another process holds the lock
    ///   (naming that process's PID).
    init(directory: String) throws {
        let path = directory + "/relay.lock"
        let fd: Int32
        do {
            // Refuses a directory others could plant links in, and a link at relay.lock (docs/security.md).
            try DataDirectoryFiles.checkDirectory(directory)
            fd = try DataDirectoryFiles.openOrCreate(path, flags: O_RDWR, what: "the lock file")
        } catch {
            throw RelayStartError(code: .dataDirectory, message: error.message)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, buffer.count)
            let holder =
                count > 0
                ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(
                    in: .whitespacesAndNewlines
                ) : "unknown"
            close(fd)
            throw RelayStartError(
                code: .dataDirectory,
                message: "another bucket-relay (pid \(holder)) is using the data directory \(directory); "
                    + "stop it or give this one its own --data-dir"
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}
