import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

@Suite(.timeLimit(.minutes(1)))
struct SpoolTests {
    @Test func enqueueDueRescheduleCompleteRoundTrip() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let allBytes = [UInt8]((0...255).map { UInt8($0) }) + Array("{\"Records\":[]}\n".utf8)
            let stored = try await spool.enqueue([
                NewDelivery(
                    deliveryID: "d1",
                    target: "thumbnailer",
                    rule: "new-images",
                    payload: allBytes,
                    createdAt: 1_000,
                    nextAttemptAt: 1_000
                ),
                .sample("d2", at: 1_001),
            ])
            #expect(stored.count == 2)
            #expect(stored[0].sequence != stored[1].sequence)
            #expect(stored[0].payload == allBytes)
            #expect(spool.pendingCount == 2)
            #expect(spool.pendingBytes == Int64(allBytes.count + 16))

            let due = try await spool.due(target: "thumbnailer", now: 2_000, limit: 10, excluding: [])
            #expect(due == stored)

            try await spool.reschedule(
                rowID: stored[0].sequence,
                attempts: 1,
                nextAttemptAt: 5_000,
                lastStatus: 503,
                lastError: "Service Unavailable"
            )
            let dueNow = try await spool.due(target: "thumbnailer", now: 2_000, limit: 10, excluding: [])
            #expect(dueNow.map(\.deliveryID) == ["d2"])
            let dueLater = try await spool.due(target: "thumbnailer", now: 5_000, limit: 10, excluding: [])
            #expect(dueLater.map(\.deliveryID) == ["d2", "d1"])
            let rescheduled = try #require(dueLater.last)
            #expect(rescheduled.attempts == 1)
            #expect(rescheduled.nextAttemptAt == 5_000)
            #expect(rescheduled.lastStatus == 503)
            #expect(rescheduled.lastError == "Service Unavailable")
            #expect(rescheduled.payload == allBytes)
            #expect(rescheduled.createdAt == 1_000)

            try await spool.complete(rowID: stored[0].sequence)
            try await spool.removeDeadLettered(rowID: stored[1].sequence)
            #expect(try await spool.due(target: "thumbnailer", now: 10_000, limit: 10, excluding: []).isEmpty)
            #expect(try await spool.nextAttemptTime(target: "thumbnailer", excluding: []) == nil)
            #expect(spool.pendingCount == 0)
            #expect(spool.pendingBytes == 0)
            await spool.close()
        }
    }

    @Test func completingAGoneRowChangesNothing() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let stored = try await spool.enqueue([.sample("d1"), .sample("d2")])
            try await spool.complete(rowID: stored[0].sequence)
            try await spool.complete(rowID: stored[0].sequence)
            try await spool.complete(rowID: 9_999)
            try await spool.reschedule(rowID: 9_999, attempts: 1, nextAttemptAt: 1, lastStatus: nil, lastError: nil)
            #expect(spool.pendingCount == 1)
            #expect(spool.pendingBytes == 16)
            await spool.close()
        }
    }

    @Test func rowIDsAreNeverReused() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let first = try await spool.enqueue([.sample("d1")])[0]
            try await spool.complete(rowID: first.sequence)
            let second = try await spool.enqueue([.sample("d2")])[0]
            #expect(second.sequence > first.sequence)
            await spool.close()
        }
    }

    @Test func pendingRowsSurviveCloseAndReopen() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let stored = try await spool.enqueue([
                .sample("a1", target: "a", payloadSize: 100),
                .sample("b1", target: "b", payloadSize: 50),
                .sample("b2", target: "b", payloadSize: 7),
            ])
            try await spool.reschedule(
                rowID: stored[1].sequence,
                attempts: 3,
                nextAttemptAt: 9_000,
                lastStatus: nil,
                lastError: "Connection refused"
            )
            try await spool.complete(rowID: stored[2].sequence)
            await spool.close()

            let reopened = try Spool(directory: directory, logger: .quiet)
            #expect(reopened.pendingCount == 2)
            #expect(reopened.pendingBytes == 150)
            #expect(try await reopened.pendingTargets() == ["a", "b"])
            #expect(try await reopened.due(target: "a", now: 9_000, limit: 10, excluding: []) == [stored[0]])
            let b = try await reopened.due(target: "b", now: 9_000, limit: 10, excluding: [])
            #expect(b.map(\.sequence) == [stored[1].sequence])
            #expect(b.first?.attempts == 3)
            #expect(b.first?.lastError == "Connection refused")
            // New rows after a reopen get fresh ids.
            let next = try await reopened.enqueue([.sample("a2", target: "a")])
            #expect(next[0].sequence > stored[2].sequence)
            await reopened.close()
        }
    }

    @Test func committedRowsAreVisibleToAnIndependentConnectionBeforeClose() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let stored = try await spool.enqueue([.sample("d1"), .sample("d2", target: "other")])
            // A second pool on the same file: its own connections, no shared state with `spool`.
            let second = try Spool(directory: directory, logger: .quiet)
            #expect(second.pendingCount == 2)
            #expect(try await second.due(target: "thumbnailer", now: 1_000, limit: 10, excluding: []) == [stored[0]])
            #expect(try await second.pendingTargets() == ["other", "thumbnailer"])
            await second.close()
            await spool.close()
        }
    }

    @Test func databaseIsInWALModeWithFullSynchronous() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            _ = try await spool.enqueue([.sample("d1")])
            #expect(spool.path == directory + "/spool.sqlite")
            // SQLite header bytes 18 and 19 (file format write/read versions) are 2 in WAL mode.
            let header = try #require(FileManager.default.contents(atPath: spool.path))
            #expect(header.count >= 100)
            #expect(Array(header[18...19]) == [2, 2])
            #expect(FileManager.default.fileExists(atPath: spool.path + "-wal"))
            #expect(try await spool.writerPragma("journal_mode") == "wal")
            #expect(try await spool.writerPragma("synchronous") == "2")  // FULL: fsync at every commit
            await spool.close()
        }
    }

    /// A commit of deletes alone runs at NORMAL (no fsync of its own); the next append is back at FULL. The level is
    /// set only when it changes (a PRAGMA is compiled anew at each execution).
    @Test func deletesCommitWithoutAnFsyncAndTheNextAppendIsFullAgain() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let stored = try await spool.enqueue([.sample("d1"), .sample("d2")])
            #expect(try await spool.writerPragma("synchronous") == "2")
            try await spool.complete(rowID: stored[0].sequence)
            #expect(try await spool.writerPragma("synchronous") == "1")  // NORMAL
            try await spool.complete(rowID: stored[1].sequence)
            #expect(try await spool.writerPragma("synchronous") == "1")
            _ = try await spool.enqueue([.sample("d3")])
            #expect(try await spool.writerPragma("synchronous") == "2")
            #expect(try await spool.pendingCount(target: "thumbnailer") == 1)
            await spool.close()
        }
    }

    @Test func opensInANewNestedDirectory() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory + "/data/nested", logger: .quiet)
            #expect(FileManager.default.fileExists(atPath: directory + "/data/nested/spool.sqlite"))
            await spool.close()
        }
    }

    @Test func openingAFileThatIsNotASpoolThrowsIO() async throws {
        try await TemporaryDirectory.with { directory in
            try Data(repeating: 0x41, count: 8_192).write(to: URL(fileURLWithPath: directory + "/spool.sqlite"))
            #expect {
                _ = try Spool(directory: directory, logger: .quiet)
            } throws: { error in
                (error as? SpoolError)?.code == .io
            }
        }
    }

    @Test func concurrentEnqueuesShareGroupCommits() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let before = spool.commitCount
            let rowIDs = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await spool.enqueue([.sample("d\(index)", payloadSize: 100)]).map(\.sequence)
                    }
                }
                var all: [Int64] = []
                for try await ids in group { all += ids }
                return all
            }
            let commits = spool.commitCount - before
            #expect(Set(rowIDs).count == 200)
            #expect(spool.pendingCount == 200)
            #expect(spool.pendingBytes == 20_000)
            #expect(commits < 50, "200 enqueues took \(commits) commits")
            #expect(try await spool.due(target: "thumbnailer", now: 1_000, limit: 500, excluding: []).count == 200)
            await spool.close()
        }
    }

    @Test func maxBatchBoundsTheOperationsPerTransaction() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, configuration: .init(maxBatch: 2), logger: .quiet)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { _ = try await spool.enqueue([.sample("d\(index)")]) }
                }
                try await group.waitForAll()
            }
            #expect(spool.commitCount >= 10)
            #expect(spool.pendingCount == 20)
            await spool.close()
        }
    }

    enum Cap: String, CaseIterable {
        case count
        case bytes

        var configuration: SpoolConfiguration {
            switch self {
            case .count: SpoolConfiguration(maxPendingCount: 3)
            case .bytes: SpoolConfiguration(maxPendingBytes: 300)
            }
        }
    }

    @Test(arguments: Cap.allCases)
    func capThrowsFullAndLeavesTheSpoolUnchanged(cap: Cap) async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, configuration: cap.configuration, logger: .quiet)
            let stored = try await spool.enqueue([
                .sample("d1", payloadSize: 100),
                .sample("d2", payloadSize: 100),
            ])
            let commits = spool.commitCount
            await #expect {
                _ = try await spool.enqueue([.sample("d3", payloadSize: 100), .sample("d4", payloadSize: 100)])
            } throws: { error in
                (error as? SpoolError)?.code == .full
            }
            #expect(spool.commitCount == commits)
            #expect(spool.pendingCount == 2)
            #expect(spool.pendingBytes == 200)
            #expect(try await spool.due(target: "thumbnailer", now: 1_000, limit: 10, excluding: []) == stored)

            // Exactly at the cap is allowed; one more is not.
            _ = try await spool.enqueue([.sample("d3", payloadSize: 100)])
            await #expect(throws: SpoolError.self) {
                _ = try await spool.enqueue([.sample("d4", payloadSize: 100)])
            }

            // Draining makes room again.
            try await spool.complete(rowID: stored[0].sequence)
            _ = try await spool.enqueue([.sample("d4", payloadSize: 100)])
            #expect(spool.pendingCount == 3)
            await spool.close()
        }
    }

    @Test func concurrentEnqueuesNeverExceedTheCap() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(
                directory: directory,
                configuration: .init(maxPendingCount: 20),
                logger: .quiet
            )
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        do {
                            _ = try await spool.enqueue([.sample("d\(index)")])
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                var outcomes: [Bool] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 }.count == 20)
            #expect(spool.pendingCount == 20)
            await spool.close()
            let reopened = try Spool(directory: directory, logger: .quiet)
            #expect(reopened.pendingCount == 20)
            await reopened.close()
        }
    }

    @Test func dueHonoursNextAttemptLimitExclusionAndTarget() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let a = try await spool.enqueue([
                .sample("a-300", target: "a", at: 300),
                .sample("a-100", target: "a", at: 100),
                .sample("a-200", target: "a", at: 200),
                .sample("a-900", target: "a", at: 900),
            ])
            _ = try await spool.enqueue([.sample("b-50", target: "b", at: 50)])

            func ids(now: Timestamp, limit: Int, excluding: Set<Int64> = []) async throws -> [String] {
                try await spool.due(target: "a", now: now, limit: limit, excluding: excluding).map(\.deliveryID)
            }
            #expect(try await ids(now: 500, limit: 10) == ["a-100", "a-200", "a-300"])
            #expect(try await ids(now: 200, limit: 10) == ["a-100", "a-200"])
            #expect(try await ids(now: 99, limit: 10) == [])
            #expect(try await ids(now: 1_000, limit: 2) == ["a-100", "a-200"])
            #expect(try await ids(now: 1_000, limit: 2, excluding: [a[1].sequence]) == ["a-200", "a-300"])
            #expect(
                try await ids(now: 1_000, limit: 10, excluding: [a[0].sequence, a[2].sequence]) == ["a-100", "a-900"]
            )
            #expect(try await ids(now: 1_000, limit: 0) == [])
            #expect(
                try await spool.due(target: "b", now: 1_000, limit: 10, excluding: []).map(\.deliveryID) == ["b-50"]
            )
            #expect(try await spool.due(target: "c", now: 1_000, limit: 10, excluding: []).isEmpty)

            #expect(try await spool.nextAttemptTime(target: "a", excluding: []) == 100)
            #expect(try await spool.nextAttemptTime(target: "a", excluding: [a[1].sequence, a[2].sequence]) == 300)
            #expect(try await spool.nextAttemptTime(target: "b", excluding: []) == 50)
            #expect(try await spool.nextAttemptTime(target: "c", excluding: []) == nil)
            await spool.close()
        }
    }

    @Test func equalNextAttemptTimesComeOutInInsertionOrder() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let stored = try await spool.enqueue((0..<10).map { .sample("d\($0)", at: 500) })
            let due = try await spool.due(target: "thumbnailer", now: 500, limit: 10, excluding: [])
            #expect(due.map(\.sequence) == stored.map(\.sequence))
            await spool.close()
        }
    }

    @Test func dueAndNextAttemptTimeUseTheTargetIndex() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let duePlan = try await spool.queryPlan(Spool.readySQL, arguments: ["a"]).joined(separator: "; ")
            // The partial index of the rows not queued behind their key's head (docs/delivery.md, "Ordering").
            #expect(duePlan.contains("USING INDEX deliveries_ready"), "\(duePlan)")
            #expect(!duePlan.contains("TEMP B-TREE"), "\(duePlan)")
            let nextPlan = try await spool.queryPlan(Spool.nextAttemptSQL, arguments: ["a"]).joined(separator: "; ")
            #expect(nextPlan.contains("USING INDEX deliveries_ready"), "\(nextPlan)")
            #expect(!nextPlan.contains("TEMP B-TREE"), "\(nextPlan)")
            await spool.close()
        }
    }

    @Test func pendingTargetsListsEachTargetOnceSorted() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            #expect(try await spool.pendingTargets() == [])
            _ = try await spool.enqueue([
                .sample("1", target: "zeta"), .sample("2", target: "alpha"), .sample("3", target: "zeta"),
                .sample("4", target: "mid"),
            ])
            #expect(try await spool.pendingTargets() == ["alpha", "mid", "zeta"])
            await spool.close()
        }
    }

    @Test func closedSpoolRejectsOperations() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            #expect(await spool.isWritable())
            await spool.close()
            await spool.close()
            #expect(await !spool.isWritable())
            await #expect {
                _ = try await spool.enqueue([.sample("d1")])
            } throws: { error in
                (error as? SpoolError)?.code == .closed
            }
            await #expect {
                _ = try await spool.due(target: "thumbnailer", now: 1, limit: 1, excluding: [])
            } throws: { error in
                (error as? SpoolError)?.code == .closed
            }
        }
    }

    @Test func closeWaitsForSubmittedWrites() async throws {
        try await TemporaryDirectory.with { directory in
            let spool = try Spool(directory: directory, logger: .quiet)
            let results = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        (try? await spool.enqueue([.sample("d\(index)")])) != nil
                    }
                }
                group.addTask {
                    await spool.close()
                    return false
                }
                var succeeded = 0
                for await ok in group where ok { succeeded += 1 }
                return succeeded
            }
            let reopened = try Spool(directory: directory, logger: .quiet)
            // Every enqueue that returned successfully was committed before the close.
            #expect(reopened.pendingCount == results)
            await reopened.close()
        }
    }
}
