import ArgumentParser

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
}
