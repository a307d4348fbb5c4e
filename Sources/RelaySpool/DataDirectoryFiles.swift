import Foundation
import RelayLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the relay creates and opens the files of its data directory (`relay.lock`, `spool.sqlite` and its `-wal`
/// and `-shm`, `dead-letter.jsonl` and its temporary rewrites), so that a symbolic link planted there can never make
/// it write, truncate or change the mode of a file elsewhere (docs/security.md).
///
/// - Every file is opened with `O_NOFOLLOW`: a symbolic link is refused (`ELOOP`), never followed.
/// - A file the relay creates is created exclusively (`O_CREAT | O_EXCL`) with mode 0600, set again with `fchmod`
///   whatever the umask; temporary files get an unpredictable name.
/// - The directory is created 0700 (whatever the umask), and a directory that is not owned by the relay's user, or
///   that group or others may write to, is refused: whoever can write it could replace the relay's files.
///
/// Every error is a ``SpoolError`` (`.io`, or `.diskFull` on ENOSPC/EDQUOT) whose message names the path and the fix.
public enum DataDirectoryFiles {
    /// The mode of every file the relay creates in its data directory.
    public static let fileMode: mode_t = 0o600
    /// The mode of a data directory the relay creates.
    public static let directoryMode: mode_t = 0o700

    /// Creates `directory` and its missing parents (each new one 0700, whatever the umask), then checks it with
    /// ``checkDirectory(_:)``.
    /// - Throws: ``SpoolError`` `.io` when it cannot be created or is refused.
    public static func prepare(_ directory: String) throws(SpoolError) {
        try createDirectory(directory)
        try checkDirectory(directory)
    }

    /// Creates `directory` and its missing parents, each new one with mode 0700 (`chmod` after `mkdir`, so the umask
    /// does not matter). An existing directory is left as it is.
    /// - Throws: ``SpoolError`` `.io` when a component cannot be created or exists and is not a directory.
    public static func createDirectory(_ directory: String) throws(SpoolError) {
        if directory.isEmpty { return }
        var status = stat()
        if stat(directory, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else {
                throw SpoolError(
                    code: .io,
                    message: "the data directory \(directory) exists and is not a directory; give --data-dir a "
                        + "directory"
                )
            }
            return
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != directory { try createDirectory(parent) }
        if mkdir(directory, directoryMode) != 0 {
            if errno == EEXIST { return }
            throw error(errno, "cannot create the data directory \(directory)")
        }
        _ = chmod(directory, directoryMode)
    }

    /// Refuses a data directory that is not owned by the relay's (effective) user, or that group or others may write
    /// to: either could replace `relay.lock`, the spool or the dead-letter file with links to other files.
    /// - Throws: ``SpoolError`` `.io`, naming the directory, its owner or mode, and the command that fixes it.
    public static func checkDirectory(_ directory: String) throws(SpoolError) {
        let path = directory.isEmpty ? "." : directory
        var status = stat()
        guard stat(path, &status) == 0 else { throw error(errno, "cannot read the data directory \(path)") }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw SpoolError(code: .io, message: "the data directory \(path) is not a directory; check --data-dir")
        }
        let user = geteuid()
        guard status.st_uid == user else {
            throw SpoolError(
                code: .io,
                message: "the data directory \(path) is owned by uid \(status.st_uid), not by this user (uid "
                    + "\(user)); its owner could replace the relay's files: run chown \(user) \(path), or give "
                    + "--data-dir a directory of this user"
            )
        }
        let mode = status.st_mode & 0o7777
        guard mode & 0o022 == 0 else {
            throw SpoolError(
                code: .io,
                message: "the data directory \(path) is writable by "
                    + (mode & 0o002 != 0 ? "others" : "its group") + " (mode \(String(mode, radix: 8))); "
                    + "another user could replace the relay's files with links: run chmod 700 \(path)"
            )
        }
    }

    /// Opens `path` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` added), creating it first, exclusively and 0600,
    /// when it does not exist. A file that exists and is readable by group or others is set to 0600.
    /// - Parameter what: names the file in errors, e.g. "the dead-letter file".
    /// - Returns: the descriptor.
    /// - Throws: ``SpoolError``; a symbolic link at `path` is refused with a message saying to remove it.
    public static func openOrCreate(_ path: String, flags: Int32, what: String) throws(SpoolError) -> Int32 {
        let access = flags & ~(O_CREAT | O_EXCL | O_TRUNC)
        while true {
            var fd = open(path, access | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
            if fd >= 0 {
                _ = fchmod(fd, fileMode)
                return fd
            }
            if errno == EINTR { continue }
            guard errno == EEXIST else { throw error(errno, "cannot create \(what) \(path)") }
            fd = open(path, access | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                tighten(fd)
                return fd
            }
            if errno == EINTR || errno == ENOENT { continue }  // removed in between: create it again
            throw error(errno, "cannot open \(what) \(path)")
        }
    }

    /// Opens an existing file without following a symbolic link; nil when there is none.
    /// - Throws: ``SpoolError``; a symbolic link at `path` is refused.
    public static func openExisting(_ path: String, flags: Int32, what: String) throws(SpoolError) -> Int32? {
        while true {
            let fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            if errno == ENOENT { return nil }
            throw error(errno, "cannot open \(what) \(path)")
        }
    }

    /// Creates a new, empty temporary file beside `path`, `<path>.tmp-<16 random hex digits>`, exclusively and 0600
    /// (write only): nothing already at that name, a symbolic link included, is ever opened.
    /// - Returns: its descriptor and its path.
    public static func createTemporary(beside path: String) throws(SpoolError) -> (descriptor: Int32, path: String) {
        while true {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let temporary = path + ".tmp-" + String(repeating: "0", count: 16 - suffix.count) + suffix
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
            if fd >= 0 {
                _ = fchmod(fd, fileMode)
                return (fd, temporary)
            }
            if errno == EINTR || errno == EEXIST { continue }
            throw error(errno, "cannot create \(temporary)")
        }
    }

    /// Before SQLite opens `path` (it follows links and creates with the umask): refuses a symbolic link at `path`,
    /// `path-wal` or `path-shm`, creates `path` empty and 0600 when missing (SQLite gives its `-wal` and `-shm` the
    /// mode of the database file) and sets existing ones readable by group or others to 0600.
    /// - Throws: ``SpoolError`` `.io` naming the link and saying to remove it.
    public static func prepareDatabase(_ path: String) throws(SpoolError) {
        for name in [path, path + "-wal", path + "-shm"] {
            var status = stat()
            if lstat(name, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK {
                throw symbolicLink(name)
            }
        }
        let fd = try openOrCreate(path, flags: O_RDWR, what: "the spool")
        _ = close(fd)
        for name in [path + "-wal", path + "-shm"] {
            if let fd = try openExisting(name, flags: O_RDWR, what: "the spool's") {
                tighten(fd)
                _ = close(fd)
            }
        }
    }

    /// Sets a file of this user that group or others may read to 0600.
    private static func tighten(_ fd: Int32) {
        var status = stat()
        if fstat(fd, &status) == 0, status.st_uid == geteuid(), status.st_mode & 0o077 != 0 {
            _ = fchmod(fd, status.st_mode & 0o700)
        }
    }

    static func symbolicLink(_ path: String) -> SpoolError {
        SpoolError(
            code: .io,
            message: "\(path) is a symbolic link; the relay never follows links in its data directory (one could "
                + "point at any file of this user): remove it (rm \(path))"
        )
    }

    static func error(_ code: Int32, _ what: String) -> SpoolError {
        if code == ELOOP {
            return SpoolError(
                code: .io,
                message: "\(what): it is a symbolic link; the relay never follows links in its data directory (one "
                    + "could point at any file of this user): remove the link"
            )
        }
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return SpoolError(code: .diskFull, message: "\(what): \(reason); free disk space")
        }
        return SpoolError(code: .io, message: "\(what): \(reason); check the disk and the permissions of --data-dir")
    }
}
