import ArgumentParser
import RelayCore
import RelayServer

/// `bucket-relay mc-config`: the `mc event add` lines that let MinIO pre-filter what it sends.
struct MCConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mc-config",
        abstract: "Print the `mc event add` lines that make MinIO send only what the rules can match."
    )

    @Option(help: "Rule file or directory of *.json rule files (RELAY_RULES). Default rules.")
    var rules: String?
    @Option(
        help: ArgumentHelp(
            "The mc alias of the MinIO server, as set with `mc alias set ALIAS URL KEY SECRET`.",
            discussion: "Each line reads `mc event add ALIAS/BUCKET ARN …`."
        )
    )
    var alias: String = MinioConfigGenerator.defaultAlias
    @Option(
        help: ArgumentHelp(
            "The ARN of the relay's webhook target in MinIO: arn:minio:sqs::ID:webhook, where ID is the name after "
                + "`notify_webhook:` (the default is for `notify_webhook:relay`).",
            discussion: "`mc admin info --json ALIAS` lists the ARNs MinIO knows (under `sqsARN`)."
        )
    )
    var arn: String = MinioConfigGenerator.defaultARN
    @Option(
        name: .customLong("bucket"),
        help: ArgumentHelp(
            "A bucket for the rules without a bucket condition (repeatable). Default: every bucket, through a shell "
                + "loop over `mc ls --json ALIAS`.",
            valueName: "bucket"
        )
    )
    var buckets: [String] = []

    func run() throws {
        let path = ProcessEnvironment.twin(rules, "RULES") ?? "rules"
        switch RuleFiles.load(path: path, environment: ProcessEnvironment.values) {
        case .success(let ruleSet):
            for line in MinioConfigGenerator.lines(for: ruleSet, alias: alias, arn: arn, buckets: buckets) {
                print(line)
            }
        case .failure(let diagnostics):
            for diagnostic in diagnostics.diagnostics {
                printError(diagnostic.description)
            }
            throw ExitCode(1)
        }
    }
}
