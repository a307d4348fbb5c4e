import Dispatch
import Foundation
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct DeadLetterFileTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    static let trickyPayloads: [String] = [
        "{\"Records\":[{\"s3\":{\"object\":{\"key\":\"a%2Fb+c.jpg\"}}}]}",
        "line one\nline two\r\nline three\n",
        "quotes \" and 'single' and backslash \\ and \\n literally",
        "non-ASCII: é ü 日本語 🎉 \u{1F1EB}\u{1F1F7} e\u{301}",
        "separators: \u{2028} and \u{2029} inside",
        "controls: \u{0} \u{1} \u{1F} \t \u{7F} \u{85}",
        "slashes / and </script> and http://example.com/x",
        "",
        String(repeating: "{\"k\":\"v\\n\"}", count: 20_000),
    ]

    @Test(arguments: trickyPayloads)
    func appendAndReadRoundTripThePayloadByteForByte(payload: String) async throws {
        try await TemporaryDirectory.with { directory in
            let file = try DeadLetterFile(directory: directory)
            let letter = DeadLetter(
                time: Timestamp(millisecondsSince1970: 1_764_065_472_345).iso8601,
                reason: .exhausted,
                rule: "new-images",
                target: "thumbnailer",
                url: "http://thumbnailer:8080/events",
                deliveryID: "d-1",
                attempts: 8,
                lastStatus: 503,
                lastError: "HTTP 503\nretry",
                payload: payload
            )
            try await file.append([letter, letter])

            let raw = try Data(contentsOf: URL(fileURLWithPath: file.path))
            let lines = raw.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            #expect(lines.count == 3)  // two lines, each ending in "\n"
            #expect(lines.last?.isEmpty == true)

            let entries = try DeadLetterFile.read(path: file.path)
            #expect(entries.count == 2)
            #expect(entries.map(\.lineNumber) == [1, 2])
            let read = try #require(entries.first?.letter)
            #expect(read == letter)
            #expect(Array(read.payload.utf8) == Array(payload.utf8))
            #expect(entries.allSatisfy { $0.problem == nil })
        }
    }

    @Test func linesHaveSortedKeysUnescapedSlashesAndOmitAbsentFields() throws {
        let letter = DeadLetter(
            time: "2026-01-01T00:00:00.000Z",
            reason: .undecodable,
            field: "Records[0].s3.object.size",
            payload: "{\"a\":\"b/c\"}"
        )
        let line = String(decoding: try DeadLetterFile.encode([letter]), as: UTF8.self)
        #expect(
            line == #"{"field":"Records[0].s3.object.size","payload":"{\"a\":\"b/c\"}","reason":"undecodable","#
                + #""time":"2026-01-01T00:00:00.000Z"}"# + "\n"
        )
    }

    @Test func readKeepsAndReportsCorruptLines() async throws {
        try await TemporaryDirectory.with { directory in
            let file = try DeadLetterFile(directory: directory)
            let good = DeadLetter(time: "2026-01-01T00:00:00.000Z", reason: .rejected, payload: "{}")
            try await file.append([good])
            let handle = try #require(FileHandle(forWritingAtPath: file.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("not json at all\n\n{\"reason\":\"exhausted\"}\n{\"time\":".utf8))
            try handle.close()

            let entries = try DeadLetterFile.read(path: file.path)
            #expect(entries.map(\.lineNumber) == [1, 2, 4, 5])
            #expect(
                entries.map(\.rawLine) == [
                    String(decoding: try DeadLetterFile.encode([good]).dropLast(), as: UTF8.self),
                    "not json at all",
                    "{\"reason\":\"exhausted\"}",
                    "{\"time\":",
                ]
            )
            #expect(entries[0].letter == good)
            #expect(entries[1...].allSatisfy { $0.letter == nil && $0.problem != nil })
            #expect(entries[2].problem?.contains("payload") == true || entries[2].problem?.contains("time") == true)
        }
    }

    @Test func appendAfterATruncatedLineStartsANewLine() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/dead-letter.jsonl"
            try Data("{\"time\":\"2026".utf8).write(to: URL(fileURLWithPath: path))
            let file = try DeadLetterFile(path: path)
            let letter = DeadLetter(time: "2026-01-01T00:00:00.000Z", reason: .exhausted, payload: "x")
            try await file.append([letter])
            let entries = try DeadLetterFile.read(path: path)
            #expect(entries.count == 2)
            #expect(entries[0].rawLine == "{\"time\":\"2026")
            #expect(entries[0].letter == nil)
            #expect(entries[1].letter == letter)
        }
    }

    @Test func missingFileReadsAsEmptyAndRewriteIsANoOp() throws {
        let path = "/tmp/relay-spool-tests-missing-\(UUID().uuidString).jsonl"
        #expect(try DeadLetterFile.read(path: path).isEmpty)
        #expect(try DeadLetterFile.rewrite(path: path, removing: ["x"]) == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func rewriteRemovesExactlyTheGivenLines() async throws {
        try await TemporaryDirectory.with { directory in
            let file = try DeadLetterFile(directory: directory)
            let letters = (0..<5).map {
                DeadLetter(
                    time: "2026-01-01T00:00:0\($0).000Z",
                    reason: .exhausted,
                    target: "t\($0)",
                    payload: "p\($0)"
                )
            }
            // A duplicate of letter 1: removing it once must keep the other copy.
            try await file.append(letters + [letters[1]])
            let handle = try #require(FileHandle(forWritingAtPath: file.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("corrupt line\n".utf8))
            try handle.close()

            let before = try DeadLetterFile.read(path: file.path)
            #expect(before.count == 7)
            let removed = try DeadLetterFile.rewrite(
                path: file.path,
                removing: [before[1].rawLine, before[3].rawLine, "a line that is not in the file"]
            )
            #expect(removed == 2)
            let after = try DeadLetterFile.read(path: file.path)
            #expect(after.map(\.rawLine) == [before[0], before[2], before[4], before[5], before[6]].map(\.rawLine))
            #expect(after.map(\.letter) == [letters[0], letters[2], letters[4], letters[1], nil])
            let directory = (file.path as NSString).deletingLastPathComponent
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix(DeadLetterFile.fileName + ".tmp")
            }
            #expect(leftovers.isEmpty, "no temporary file left: \(leftovers)")

            let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o600 } == 0o600)
        }
    }

    @Test func rewriteKeepsLinesAppendedAfterTheReadAndTheRelayKeepsAppending() async throws {
        try await TemporaryDirectory.with { directory in
            let relay = try DeadLetterFile(directory: directory)
            func letter(_ index: Int) -> DeadLetter {
                DeadLetter(time: "2026-01-01T00:00:00.000Z", reason: .exhausted, deliveryID: "d\(index)", payload: "p")
            }
            try await relay.append([letter(0), letter(1), letter(2)])
            let replayed = try DeadLetterFile.read(path: relay.path)
            try await relay.append([letter(3), letter(4)])

            #expect(try DeadLetterFile.rewrite(path: relay.path, removing: replayed.map(\.rawLine)) == 3)
            #expect(try DeadLetterFile.read(path: relay.path).compactMap(\.letter) == [letter(3), letter(4)])

            // The relay's descriptor designated the replaced file: its next append must land in the new one.
            try await relay.append([letter(5)])
            #expect(
                try DeadLetterFile.read(path: relay.path).compactMap(\.letter) == [letter(3), letter(4), letter(5)]
            )
        }
    }

    @Test func concurrentAppendsAndRewritesLoseNoLine() async throws {
        try await TemporaryDirectory.with { directory in
            let relay = try DeadLetterFile(directory: directory)
            let appenders = 4
            let perAppender = 100
            let finished = Counter()
            let (removed, rewrites) = await withTaskGroup(of: (Int, Int).self) { group in
                for appender in 0..<appenders {
                    group.addTask {
                        for index in 0..<perAppender {
                            let letter = DeadLetter(
                                time: "2026-01-01T00:00:00.000Z",
                                reason: .exhausted,
                                deliveryID: "a\(appender)-\(index)",
                                payload: "p"
                            )
                            try? await relay.append([letter])
                        }
                        finished.value.add(1, ordering: .sequentiallyConsistent)
                        return (0, 0)
                    }
                }
                group.addTask {
                    // A replay running again and again while the relay appends: removes the even-numbered lines.
                    var removed = 0
                    var rewrites = 0
                    var last = false
                    while !last {
                        last = finished.value.load(ordering: .sequentiallyConsistent) == appenders
                        let entries = (try? DeadLetterFile.read(path: relay.path)) ?? []
                        let even = entries.filter { entry in
                            guard let id = entry.letter?.deliveryID, let number = id.split(separator: "-").last
                            else { return false }
                            return (Int(number) ?? 1) % 2 == 0
                        }
                        let count = (try? DeadLetterFile.rewrite(path: relay.path, removing: even.map(\.rawLine))) ?? 0
                        removed += count
                        if count > 0 { rewrites += 1 }
                        try? await Task.sleep(for: .milliseconds(1))
                    }
                    return (removed, rewrites)
                }
                var total = (0, 0)
                for await (removed, rewrites) in group {
                    total.0 += removed
                    total.1 += rewrites
                }
                return total
            }
            #expect(rewrites > 1, "the rewrites did not interleave with the appends")
            #expect(removed == appenders * perAppender / 2)
            let remaining = try DeadLetterFile.read(path: relay.path)
            #expect(remaining.allSatisfy { $0.letter != nil })
            var expected = Set<String>()
            for appender in 0..<appenders {
                for index in stride(from: 1, to: perAppender, by: 2) { expected.insert("a\(appender)-\(index)") }
            }
            #expect(remaining.compactMap(\.letter?.deliveryID).sorted() == expected.sorted())
        }
    }

    @Test func closedFileRejectsAppends() async throws {
        try await TemporaryDirectory.with { directory in
            let file = try DeadLetterFile(directory: directory)
            file.close()
            await #expect {
                try await file.append([DeadLetter(time: "t", reason: .exhausted, payload: "p")])
            } throws: { error in
                (error as? SpoolError)?.code == .closed
            }
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_764_065_472_345, "2025-11-25T10:11:12.345Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-2_203_845_903_211, "1900-03-01T12:34:56.789Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ])
    func timestampIsISO8601UTCWithMilliseconds(milliseconds: Int64, expected: String) {
        #expect(Timestamp(millisecondsSince1970: milliseconds).iso8601 == expected)
    }
}
