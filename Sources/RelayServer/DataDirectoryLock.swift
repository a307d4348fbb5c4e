import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<data-dir>/relay.lock`, held for the life of the relay.
///
/// Two relays on one data directory would both deliver every spooled row; the second one refuses to start instead.
/// The kernel releases the lock when the process dies, kill -9 included, so a crash never leaves it stale.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, writing this process's PID into the file.
    /// - Throws: `RelayStartError(.dataDirectory)` when another process holds it, naming that process's PID.
    init(directory: String) throws {
        let path = directory + "/relay.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RelayStartError(
                code: .dataDirectory,
                message: "cannot open \(path): \(String(cString: strerror(errno))); check --data-dir and permissions"
            )
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
