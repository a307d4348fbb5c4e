import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

/// A real full disk: a 4 MiB tmpfs filled up. Skipped where tmpfs cannot be mounted (not root, no
/// CAP_SYS_ADMIN).
@Suite(
    .enabled(if: SmallFileSystem.isAvailable, "needs root to mount a small tmpfs"),
    .timeLimit(.minutes(1))
)
struct DiskFullTests {
    @Test func spoolThrowsDiskFullThenRecoversWhenSpaceIsFreed() async throws {
        try await SmallFileSystem.with(size: "4m") { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let small = try await spool.enqueue([.sample("small")])
            let filler = SmallFileSystem.fill(directory)

            let big = NewDelivery.sample("big", payloadSize: 512 * 1024)
            await #expect {
                _ = try await spool.enqueue([big])
            } throws: { error in
                (error as? SpoolError)?.code == .diskFull
            }
            #expect(spool.pendingCount == 1)
            #expect(spool.pendingBytes == 16)
            #expect(try await spool.due(target: "thumbnailer", now: 1_000, limit: 10, excluding: []) == small)

            try FileManager.default.removeItem(atPath: filler)
            let stored = try await spool.enqueue([big])
            #expect(spool.pendingCount == 2)
            let due = try await spool.due(target: "thumbnailer", now: 1_000, limit: 10, excluding: [])
            #expect(due == small + stored)
            #expect(await spool.isWritable())
            await spool.close()
        }
    }

    @Test func deadLetterAppendThrowsDiskFullAndLeavesNoPartialLine() async throws {
        try await SmallFileSystem.with(size: "1m") { directory in
            let file = try DeadLetterFile(directory: directory)
            let first = DeadLetter(time: "2026-01-01T00:00:00.000Z", reason: .exhausted, payload: "{}")
            try await file.append([first])
            let filler = SmallFileSystem.fill(directory)

            let big = DeadLetter(
                time: "2026-01-01T00:00:01.000Z",
                reason: .exhausted,
                payload: String(repeating: "x", count: 256 * 1024)
            )
            await #expect {
                try await file.append([big])
            } throws: { error in
                (error as? SpoolError)?.code == .diskFull
            }
            let afterFailure = try DeadLetterFile.read(path: file.path)
            #expect(afterFailure.map(\.letter) == [first])

            try FileManager.default.removeItem(atPath: filler)
            try await file.append([big])
            #expect(try DeadLetterFile.read(path: file.path).map(\.letter) == [first, big])
        }
    }
}
