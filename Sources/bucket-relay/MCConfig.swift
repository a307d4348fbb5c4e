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
    @Option(help: "The mc alias of the MinIO server.")
    var alias: String = "minio"
    @Option(help: "The ARN of MinIO's webhook target for the relay (see `mc admin info --json`).")
    var arn: String = "arn:minio:sqs::RELAY:webhook"

    func run() throws {
        let path = ProcessEnvironment.twin(rules, "RULES") ?? "rules"
        switch RuleFiles.load(path: path, environment: ProcessEnvironment.values) {
        case .success(let ruleSet):
            for line in MinioConfigGenerator.lines(for: ruleSet, alias: alias, arn: arn) {
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
