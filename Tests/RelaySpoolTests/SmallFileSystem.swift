import Foundation
import RelayCore
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// A size-limited tmpfs mounted under /tmp, to fill a disk for real. Needs root (CAP_SYS_ADMIN).
enum SmallFileSystem {
    /// Whether this process can mount a tmpfs (checked once by mounting and unmounting one).
    static let isAvailable: Bool = {
        #if os(Linux)
        guard geteuid() == 0 else { return false }
        let path = "/tmp/relay-spool-mount-check-\(UUID().uuidString)"
        guard mkdir(path, 0o755) == 0 else { return false }
        defer { rmdir(path) }
        guard mountTmpfs(at: path, size: "64k") else { return false }
        umount2(path, Int32(MNT_DETACH))
        return true
        #else
        return false
        #endif
    }()

    struct MountError: Error {}

    /// Mounts a tmpfs of `size` (e.g. `4m`) on a fresh directory, runs `body` with its path, then unmounts it.
    static func with<T>(size: String, _ body: (String) async throws -> T) async throws -> T {
        let path = "/tmp/relay-spool-full-\(UUID().uuidString)"
        guard mkdir(path, 0o755) == 0 else { throw MountError() }
        defer { rmdir(path) }
        guard mountTmpfs(at: path, size: size) else { throw MountError() }
        defer { umount2(path, Int32(MNT_DETACH)) }
        return try await body(path)
    }

    /// Fills the file system holding `directory` with a file written until ENOSPC; returns the file's path.
    static func fill(_ directory: String) -> String {
        let path = directory + "/filler"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x46, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        // Fill the last partial page too.
        while [UInt8(0)].withUnsafeBytes({ write(fd, $0.baseAddress, 1) }) > 0 {}
        return path
    }

    private static func mountTmpfs(at path: String, size: String) -> Bool {
        "size=\(size),mode=0755".withCString { options in
            mount("tmpfs", path, "tmpfs", 0, options) == 0
        }
    }
}
