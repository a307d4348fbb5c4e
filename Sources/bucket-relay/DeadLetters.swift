import ArgumentParser
import Foundation
import Logging
import RelayJetStream
import RelayLog
import RelaySpool

#if canImport(Glibc)
import Glibc
#endif

/// `bucket-relay dead-letters`: tools for the dead letters (docs/interface.md, "Commands").
struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Work with the dead letters: export them as JSON lines.",
        subcommands: [Export.self]
    )

    /// `bucket-relay dead-letters export`: every dead letter, oldest first, one JSON line each (the fields of a line of
    /// dead-letter.jsonl), from JetStream's RELAY_DEADLETTERS or from the data directory's file. Reads only.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every dead letter as one JSON line, oldest first; nothing is removed.",
            discussion: """
                With --jetstream, from the stream RELAY_DEADLETTERS that relays serving with --jetstream write; \
                otherwise from dead-letter.jsonl in --data-dir. Each line has the fields of a dead-letter line \
                (time, reason, target, rule, deliveryID, attempts, lastStatus, lastError, field, detail, payload).
                """
        )

        @OptionGroup var jetStream: JetStreamOptions
        @OptionGroup var dataDirectory: DataDirectoryOptions
        @Option(
            help: ArgumentHelp(
                "Write the lines to FILE (created 0600, replaced if it exists) instead of standard output.",
                valueName: "file"
            )
        )
        var output: String?

        func run() async throws {
            let sink: FileHandle
            if let output {
                let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    printError("error: --output: cannot create \(output): \(String(cString: strerror(errno)))")
                    throw ExitCode(1)
                }
                sink = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            } else {
                sink = FileHandle.standardOutput
            }
            var count = 0
            func write(_ line: [UInt8]) {
                sink.write(Data(line + [UInt8(ascii: "\n")]))
                count += 1
            }
            if let configuration = try jetStream.configuration() {
                let log: JetStreamDeliveryLog
                do {
                    log = try await JetStreamDeliveryLog.open(
                        configuration,
                        logger: Logger(label: "bucket-relay", factory: { _ in SwiftLogNoOpLogHandler() })
                    )
                } catch {
                    printError("error: cannot open the dead letters on JetStream: \(error)")
                    throw ExitCode(1)
                }
                do {
                    var next: UInt64? = 0
                    while let from = next {
                        let page = try await log.deadLetters(from: from, limit: 256)
                        for entry in page.letters { write(entry.line) }
                        next = page.next
                    }
                } catch {
                    await log.close()
                    printError("error: cannot read the dead letters on JetStream: \(error)")
                    throw ExitCode(1)
                }
                await log.close()
            } else {
                let path = (dataDirectory.path as NSString).appendingPathComponent(DeadLetterFile.fileName)
                if FileManager.default.fileExists(atPath: path) {
                    do {
                        for entry in try DeadLetterFile.read(path: path) { write(Array(entry.rawLine.utf8)) }
                    } catch {
                        printError("error: cannot read \(path): \(error)")
                        throw ExitCode(1)
                    }
                }
            }
            if output != nil {
                try? sink.synchronize()
                printError("dead-letters export: \(count) dead letters written to \(output ?? "-")")
            }
        }
    }
}
