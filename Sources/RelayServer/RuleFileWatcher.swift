import Foundation
import RelayCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches the rule files with inotify and reports changes, debounced (docs/operations.md, "Reloading rules").
///
/// Watches the directory of `--rules` (the directory itself, or the parent of a single file), so that editors that
/// write a new file and rename it over the old one are seen too. A change is reported once no further change arrived
/// for ``debounce``. The blocking `poll` runs on a thread of its own, never on the Swift concurrency pool; ``stop()``
/// wakes it through a pipe.
final class RuleFileWatcher: Sendable {
    /// How long the files must stay unchanged before a change is reported.
    let debounce: Duration
    private let directory: String
    /// The file watched inside `directory`, or `nil` for every `*.json` of it.
    private let fileName: String?
    private let inotify: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    /// Starts watching `path` (a rule file or a directory of them).
    /// - Throws: ``RuleWatchError`` when inotify is not available (then only SIGHUP reloads).
    init(path: String, debounce: Duration = .milliseconds(300)) throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue {
            self.directory = path
            self.fileName = nil
        } else {
            let url = URL(fileURLWithPath: path)
            self.directory = url.deletingLastPathComponent().path
            self.fileName = url.lastPathComponent
        }
        self.debounce = debounce
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            throw RuleWatchError(message: "inotify_init1: \(String(cString: strerror(errno)))")
        }
        let mask =
            UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_CREATE)
            | UInt32(IN_DELETE) | UInt32(IN_ATTRIB)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RuleWatchError(message: "inotify_add_watch \(directory): \(reason)")
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(fd)
            throw RuleWatchError(message: "pipe2: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.inotify = fd
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
    }

    deinit {
        close(inotify)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Calls `onChange` (on the watcher's thread) after each debounced change, until ``stop()``.
    func start(_ onChange: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in self.loop(onChange) }
        thread.name = "bucket-relay rule watcher"
        started.store(true, ordering: .releasing)
        thread.start()
    }

    /// Tells the thread to end; it returns without waiting (the thread holds the watcher until it has ended, so
    /// the descriptors stay open for it).
    func stop() {
        guard started.load(ordering: .acquiring) else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Whether the thread has ended.
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    private func loop(_ onChange: @Sendable () -> Void) {
        defer { finished.store(true, ordering: .releasing) }
        var pending = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let debounceMilliseconds = Int32(clamping: debounce.wholeMilliseconds)
        while true {
            var fds = [
                pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, pending ? debounceMilliseconds : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            if ready == 0 {
                // Quiet for the debounce interval after a change.
                pending = false
                onChange()
                continue
            }
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count > 0 && relevant(buffer[0..<count]) { pending = true }
        }
    }

    /// Whether a batch of inotify events touches a watched file.
    private func relevant(_ events: ArraySlice<UInt8>) -> Bool {
        let headerSize = MemoryLayout<inotify_event>.size
        var offset = events.startIndex
        while offset + headerSize <= events.endIndex {
            let (length, overflow) = events.withUnsafeBytes { raw -> (Int, Bool) in
                let base = raw.baseAddress!.advanced(by: offset - events.startIndex)
                let length = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                return (length, mask & UInt32(IN_Q_OVERFLOW) != 0)
            }
            if overflow { return true }
            let nameStart = offset + headerSize
            let nameEnd = min(nameStart + length, events.endIndex)
            let nameBytes = events[nameStart..<nameEnd].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if let fileName {
                if name == fileName { return true }
            } else if (name.hasSuffix(".json") && !name.hasPrefix(".")) || name.hasPrefix("..") {
                // `..data` and `..<timestamp>` are how a Kubernetes ConfigMap volume swaps its files atomically.
                return true
            }
            offset = nameEnd
        }
        return false
    }
}

/// Why the rule files cannot be watched (SIGHUP still reloads).
struct RuleWatchError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
