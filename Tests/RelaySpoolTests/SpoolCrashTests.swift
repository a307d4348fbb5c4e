import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kill -9 durability: a child process (this test binary, running only `crashChildEnqueuesUntilKilled`) enqueues
/// and completes rows from 8 concurrent tasks, logs each acknowledged write (and each delete before it starts), and
/// SIGKILLs itself while writes are in flight. The parent then checks that every acknowledged write is in the spool.
@Suite(.timeLimit(.minutes(1)))
struct SpoolCrashTests {
    static let childDirectoryKey = "RELAY_SPOOL_CRASH_CHILD_DIR"
    static let childDirectory = ProcessInfo.processInfo.environment[childDirectoryKey]

    @Test func acknowledgedWritesSurviveKill9() async throws {
        try await TemporaryDirectory.with { directory in
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            var environment = ProcessInfo.processInfo.environment
            environment[Self.childDirectoryKey] = directory
            let process = try ChildProcess.spawn(
                executable,
                ["--testing-library", "swift-testing", "--filter", "crashChildEnqueuesUntilKilled"],
                environment: environment,
                output: .discard
            )
            await process.finished()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(process.terminationStatus == SIGKILL)

            let log = try String(contentsOfFile: directory + "/acknowledged.log", encoding: .utf8)
            var inserted = Set<Int64>()
            var deleting = Set<Int64>()
            var deleted = Set<Int64>()
            for line in log.split(separator: "\n") {
                if line.hasPrefix("-") {
                    deleted.insert(try #require(Int64(line.dropFirst())))
                } else if line.hasPrefix("~") {
                    deleting.insert(try #require(Int64(line.dropFirst())))
                } else {
                    inserted.insert(try #require(Int64(line)))
                }
            }
            #expect(inserted.count >= 8 * 3 * 20)
            #expect(!deleted.isEmpty)

            let spool = try Spool(directory: directory, logger: .quiet)
            let rows = try await spool.due(target: "crash", now: .distantFuture, limit: .max, excluding: [])
            let present = Set(rows.map(\.sequence))
            #expect(rows.count == spool.pendingCount)
            // A row whose delete was in flight at the kill may be either present or gone.
            let missing = inserted.subtracting(deleting).subtracting(present)
            #expect(missing.isEmpty, "acknowledged inserts missing: \(missing.sorted())")
            let resurrected = present.intersection(deleted)
            #expect(resurrected.isEmpty, "acknowledged deletes came back: \(resurrected.sorted())")
            for row in rows { #expect(row.payload == NewDelivery.sample("", payloadSize: 64).payload) }
            #expect(await spool.isWritable())
            await spool.close()
        }
    }

    /// The child's body; disabled unless the parent test starts this binary with `RELAY_SPOOL_CRASH_CHILD_DIR`.
    @Test(.enabled(if: Self.childDirectory != nil, "runs only as the child of acknowledgedWritesSurviveKill9"))
    func crashChildEnqueuesUntilKilled() async throws {
        let directory = try #require(Self.childDirectory)
        let spool = try Spool(directory: directory, logger: .quiet)
        let log = open(directory + "/acknowledged.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        try #require(log >= 0)
        @Sendable func record(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var round = 0
                    while true {
                        round += 1
                        let rows = try await spool.enqueue(
                            (0..<3).map { .sample("w\(worker)-\(round)-\($0)", target: "crash", payloadSize: 64) }
                        )
                        record(rows.map { String($0.sequence) }.joined(separator: "\n"))
                        record("~\(rows[0].sequence)")
                        try await spool.complete(rowID: rows[0].sequence)
                        record("-\(rows[0].sequence)")
                        if worker == 0 && round == 40 {
                            // Other workers' writes are in flight now.
                            kill(getpid(), SIGKILL)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
