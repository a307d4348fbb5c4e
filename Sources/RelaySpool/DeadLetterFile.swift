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

/// The dead-letter file, `<data-dir>/dead-letter.jsonl`: JSON Lines, one ``DeadLetter`` per line, appended and
/// fsync'd.
///
/// Concurrency between processes (a running relay appends while `replay` removes lines): every access takes an
/// `flock` on the file — exclusive to append or rewrite, shared to read — and, once it holds the lock, checks that
/// its descriptor still designates the file at `path` (same device and inode). A rewrite replaces the file by
/// `rename`, so an appender that waited on the old file's lock sees the inode change, reopens `path` and appends
/// to the new file. A rewrite re-reads the file under its exclusive lock and removes only the lines it is given,
/// so lines appended after `replay` read the file are kept.
public final class DeadLetterFile: Sendable {
    /// The name of the file inside the data directory.
    public static let fileName = "dead-letter.jsonl"

    /// The path of the file.
    public let path: String

    /// The open descriptor (`O_RDWR | O_APPEND`), -1 once closed or while it must be reopened.
    private let descriptor: Mutex<Int32>
    private let queue: DispatchQueue

    /// Opens `path` for appending, creating it (mode 0600) and its parent directories (0700) if missing; a symbolic
    /// link at `path` is refused (``DataDirectoryFiles``).
    ///
    /// - Throws: ``SpoolError`` `.io` (or `.diskFull`) if the file cannot be created or opened.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try DataDirectoryFiles.createDirectory(directory)
        }
        let fd = try FileIO.openForAppend(path)
        FileIO.syncDirectory(of: path)
        self.path = path
        self.descriptor = Mutex(fd)
        self.queue = DispatchQueue(label: "RelaySpool.DeadLetterFile")
    }

    /// Opens `<directory>/dead-letter.jsonl`; see ``init(path:)``.
    public convenience init(directory: String) throws {
        try self.init(path: (directory as NSString).appendingPathComponent(Self.fileName))
    }

    deinit {
        descriptor.withLock { fd in
            if fd >= 0 { FileIO.release(fd) }
            fd = -1
        }
    }

    /// Appends one line per letter in one `write`, then fsyncs. Blocks the calling thread for the write and the
    /// fsync: from async code prefer the `async` overload, which runs on a dispatch queue of its own.
    ///
    /// If the write or the fsync fails, the file is truncated back to its previous size, so that no partial line
    /// stays, and the error is thrown. If the previous content ends without `\n` (a crash in the middle of a
    /// write), a `\n` is written first so that the new lines stay whole.
    ///
    /// - Throws: ``SpoolError`` `.diskFull` on ENOSPC or EDQUOT, `.io` on other errors, `.closed` after
    ///   ``close()``.
    public func append(_ letters: [DeadLetter]) throws {
        if letters.isEmpty { return }
        let bytes = try Self.encode(letters)
        let path = self.path
        try descriptor.withLock { (fd: inout Int32) throws(SpoolError) in
            if fd == Self.closedDescriptor {
                throw SpoolError(code: .closed, message: "the dead-letter file \(path) is closed")
            }
            try FileIO.lockCurrent(&fd, path: path, exclusive: true)
            defer { FileIO.unlock(fd) }
            try FileIO.appendLines(bytes, to: fd, path: path)
        }
    }

    /// Appends like the synchronous `append(_:)`, on a dispatch queue of this file, so that the write and
    /// the fsync never block a thread of the Swift concurrency pool.
    ///
    /// - Throws: ``SpoolError`` `.diskFull`, `.io` or `.closed`.
    public func append(_ letters: [DeadLetter]) async throws {
        if letters.isEmpty { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                do {
                    try self.append(letters)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Closes the descriptor; later appends throw ``SpoolError`` `.closed`.
    public func close() {
        descriptor.withLock { fd in
            if fd >= 0 { FileIO.release(fd) }
            fd = Self.closedDescriptor
        }
    }

    /// Encodes letters as JSON Lines: sorted keys, slashes not escaped, each line ending in `\n`. A line never
    /// holds a raw `\n` (JSON escapes control characters inside strings).
    ///
    /// - Throws: ``SpoolError`` `.io` if a letter cannot be encoded.
    public static func encode(_ letters: [DeadLetter]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        do {
            for letter in letters {
                bytes.append(contentsOf: try encoder.encode(letter))
                bytes.append(FileIO.newline)
            }
        } catch {
            throw SpoolError(code: .io, message: "cannot encode a dead letter as JSON: \(error)")
        }
        return bytes
    }

    /// Reads every line of the file, under a shared lock. A line that is not a valid dead letter is returned with
    /// ``DeadLetterEntry/problem`` set, never dropped. Empty lines are skipped. A missing file reads as no lines.
    /// Lines are split on `\n` only (U+2028 inside a payload is not a line break). Loads the whole file in memory.
    ///
    /// - Throws: ``SpoolError`` `.io` if the file exists but cannot be read.
    public static func read(path: String) throws -> [DeadLetterEntry] {
        guard var fd = try FileIO.openExisting(path, flags: O_RDONLY) else { return [] }
        defer { if fd >= 0 { FileIO.release(fd) } }
        try FileIO.lockCurrent(&fd, path: path, exclusive: false, createIfMissing: false)
        defer { FileIO.unlock(fd) }
        if fd < 0 { return [] }
        let content = try FileIO.readAll(fd, path: path)

        let decoder = JSONDecoder()
        var entries: [DeadLetterEntry] = []
        var lineNumber = 0
        for line in FileIO.lines(content) {
            lineNumber += 1
            if line.isEmpty { continue }
            let rawLine = String(decoding: line, as: UTF8.self)
            do {
                let letter = try decoder.decode(DeadLetter.self, from: Data(line))
                entries.append(DeadLetterEntry(lineNumber: lineNumber, rawLine: rawLine, letter: letter, problem: nil))
            } catch {
                entries.append(
                    DeadLetterEntry(
                        lineNumber: lineNumber,
                        rawLine: rawLine,
                        letter: nil,
                        problem: "line \(lineNumber) is not a dead letter: \(Self.describe(error))"
                    )
                )
            }
        }
        return entries
    }

    /// Removes lines from the file atomically, keeping every other line as it is, in order — including lines
    /// appended by a running relay after the caller read the file, and lines that are not valid dead letters.
    ///
    /// Under an exclusive lock on the file: re-reads it, drops one occurrence of each line given (compared with
    /// ``DeadLetterEntry/rawLine``), writes the rest to a new temporary file, fsyncs it, renames it over `path`, fsyncs the
    /// directory. Nothing is written when no line matches. Empty lines are dropped.
    ///
    /// - Parameters:
    ///   - path: The dead-letter file.
    ///   - rawLines: The lines to remove, as read by ``read(path:)``.
    /// - Returns: The number of lines removed.
    /// - Throws: ``SpoolError`` `.diskFull` or `.io`; the file is then unchanged.
    @discardableResult
    public static func rewrite(path: String, removing rawLines: [String]) throws -> Int {
        if rawLines.isEmpty { return 0 }
        guard var fd = try FileIO.openExisting(path, flags: O_RDWR) else { return 0 }
        defer { if fd >= 0 { FileIO.release(fd) } }
        try FileIO.lockCurrent(&fd, path: path, exclusive: true, createIfMissing: false)
        defer { FileIO.unlock(fd) }
        if fd < 0 { return 0 }
        let content = try FileIO.readAll(fd, path: path)

        var toRemove: [String: Int] = [:]
        for line in rawLines { toRemove[line, default: 0] += 1 }
        var kept: [UInt8] = []
        kept.reserveCapacity(content.count)
        var removed = 0
        var dropped = false
        for line in FileIO.lines(content) {
            if line.isEmpty {
                dropped = true
                continue
            }
            let rawLine = String(decoding: line, as: UTF8.self)
            if let count = toRemove[rawLine], count > 0 {
                toRemove[rawLine] = count - 1
                removed += 1
                continue
            }
            kept.append(contentsOf: line)
            kept.append(FileIO.newline)
        }
        if removed == 0 && !dropped { return 0 }

        var status = stat()
        let mode = fstat(fd, &status) == 0 ? mode_t(status.st_mode & 0o7777) : mode_t(0o644)
        try FileIO.replace(path: path, with: kept, mode: mode)
        return removed
    }

    private static let closedDescriptor: Int32 = -2

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type for field \(field)"
        case DecodingError.dataCorrupted:
            return "not valid JSON"
        default:
            return "\(error)"
        }
    }
}
