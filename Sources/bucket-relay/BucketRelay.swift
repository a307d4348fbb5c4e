import ArgumentParser
import Foundation

/// `bucket-relay`: receives S3 bucket events, matches them against JSON rules and delivers them to HTTP targets.
@main
struct BucketRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bucket-relay",
        abstract:
            "Relay S3 bucket events (MinIO, AWS S3 direct or via SNS and EventBridge, Ceph RGW, Backblaze B2, Google "
            + "Cloud Storage, versitygw) to HTTP targets by JSON rules.",
        version: "0.1.0",
        subcommands: [Serve.self, Validate.self, Match.self, Replay.self, DeadLetters.self, MCConfig.self, Tap.self],
        defaultSubcommand: Serve.self
    )

    /// ArgumentParser's own main, except for a `ValidationError` thrown while a command runs (a flag's value found
    /// wrong once read): that prints its message and where the command's help is, not the top-level usage, and
    /// exits 64 as a parse error does.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            let words = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }
            let help = (["bucket-relay"] + words + ["--help"]).joined(separator: " ")
            FileHandle.standardError.write(Data("Error: \(error.message)\n  See '\(help)'.\n".utf8))
            exit(withError: ExitCode.validationFailure)
        } catch {
            exit(withError: error)
        }
    }
}
