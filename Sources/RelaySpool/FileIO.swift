import Dispatch
import Foundation
import RelayLog
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking POSIX helpers of ``DeadLetterFile``. Every error is a ``SpoolError``.
enum FileIO {
    static let newline = UInt8(ascii: "\n")

    static func openForAppend(_ path: String) throws(SpoolError) -> Int32 {
        try DataDirectoryFiles.openOrCreate(path, flags: O_RDWR | O_APPEND, what: "the dead-letter file")
    }

    /// Opens an existing file; `nil` if it does not exist.
    static func openExisting(_ path: String, flags: Int32) throws(SpoolError) -> Int32? {
        try DataDirectoryFiles.openExisting(path, flags: flags, what: "the dead-letter file")
    }

    /// Takes the lock on `fd`, then makes sure `fd` still designates the file at `path`; if `path` was replaced
    /// (rename) or removed, reopens it and locks again. Sets `fd` to -1 when the file is gone and
    /// `createIfMissing` is false.
    static func lockCurrent(
        _ fd: inout Int32,
        path: String,
        exclusive: Bool,
        createIfMissing: Bool = true
    ) throws(SpoolError) {
        while true {
            if fd < 0 {
                if createIfMissing {
                    fd = try openForAppend(path)
                } else {
                    guard let reopened = try openExisting(path, flags: exclusive ? O_RDWR : O_RDONLY) else {
                        fd = -1
                        return
                    }
                    fd = reopened
                }
            }
            while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
                if errno == EINTR { continue }
                throw error(errno, "cannot lock the dead-letter file \(path)")
            }
            var opened = stat()
            var current = stat()
            if fstat(fd, &opened) == 0, lstat(path, &current) == 0, opened.st_dev == current.st_dev,
                opened.st_ino == current.st_ino
            {
                return
            }
            _ = flock(fd, LOCK_UN)
            FileIO.release(fd)
            fd = -1
        }
    }

    static func release(_ fd: Int32) {
        _ = close(fd)
    }

    static func unlock(_ fd: Int32) {
        if fd >= 0 { _ = flock(fd, LOCK_UN) }
    }

    /// Appends `bytes` (whole lines) to the locked `fd` and fsyncs; on failure truncates back and throws.
    static func appendLines(_ bytes: [UInt8], to fd: Int32, path: String) throws(SpoolError) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw error(errno, "cannot stat the dead-letter file \(path)") }
        let size = status.st_size
        var needsNewline = false
        if size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, size - 1) == 1 { needsNewline = last != newline }
        }
        do throws(SpoolError) {
            if needsNewline { try writeAll(fd, [newline], path: path) }
            try writeAll(fd, bytes, path: path)
            try sync(fd, path: path)
        } catch {
            // Leave no partial line behind: the caller was told nothing was written.
            if ftruncate(fd, size) == 0 { _ = fsync(fd) }
            throw error
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SpoolError) {
        // Returns 0 or the errno of the failed write.
        let failure = bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32 in
            guard let base = buffer.baseAddress else { return 0 }
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return 0
        }
        if failure != 0 { throw error(failure, "cannot write to \(path)") }
    }

    static func sync(_ fd: Int32, path: String) throws(SpoolError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw error(errno, "cannot fsync \(path)")
        }
    }

    static func readAll(_ fd: Int32, path: String) throws(SpoolError) -> [UInt8] {
        var content: [UInt8] = []
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > 0 { content.reserveCapacity(Int(status.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error(errno, "cannot read the dead-letter file \(path)")
            }
            if count == 0 { return content }
            content.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
        }
    }

    /// Splits on `\n` only; a last line without `\n` is returned too.
    static func lines(_ content: [UInt8]) -> [ArraySlice<UInt8>] {
        var result = content.split(separator: newline, omittingEmptySubsequences: false)
        if content.last == newline || content.isEmpty { result.removeLast() }
        return result
    }

    /// Writes `bytes` to a new temporary file beside `path` (created exclusively, 0600, unpredictable name), fsyncs
    /// it, renames it over `path` and fsyncs the directory.
    static func replace(path: String, with bytes: [UInt8], mode: mode_t) throws(SpoolError) {
        let created = try DataDirectoryFiles.createTemporary(beside: path)
        var fd = created.descriptor
        let temporary = created.path
        do throws(SpoolError) {
            _ = fchmod(fd, mode & DataDirectoryFiles.fileMode)
            try writeAll(fd, bytes, path: temporary)
            try sync(fd, path: temporary)
            FileIO.release(fd)
            fd = -1
            if rename(temporary, path) != 0 { throw error(errno, "cannot rename \(temporary) to \(path)") }
        } catch {
            if fd >= 0 { FileIO.release(fd) }
            _ = unlink(temporary)
            throw error
        }
        syncDirectory(of: path)
    }

    /// Fsyncs the directory holding `path` so that a created or renamed entry is durable. Best effort.
    static func syncDirectory(of path: String) {
        var directory = (path as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = "." }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            FileIO.release(fd)
        }
    }

    static func error(_ code: Int32, _ what: String) -> SpoolError {
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return SpoolError(code: .diskFull, message: "\(what): \(reason); free disk space")
        }
        return SpoolError(code: .io, message: "\(what): \(reason); check the disk and the permissions of --data-dir")
    }
}
