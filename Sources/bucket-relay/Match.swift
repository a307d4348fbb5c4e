import ArgumentParser
import Foundation
import RelayCore
import RelayServer

/// `bucket-relay match`: which rules and targets each record of an event body reaches.
struct Match: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which rules and targets each record of EVENT.json reaches (and, with --explain, why not)."
    )

    @OptionGroup var rules: RulesOptions
    @Flag(help: "Also say why each other rule did not match.")
    var explain = false
    @Argument(
        help: ArgumentHelp(
            "Request bodies as a sender POSTs them (MinIO, AWS, RGW, EventBridge, B2, GCS push or versitygw JSON); "
                + "- reads standard input."
        )
    )
    var events: [String]

    func run() throws {
        let ruleSet = try rules.load()
        var failed = false
        for event in events {
            if events.count > 1 { print("== \(event)") }
            if !show(event, ruleSet: ruleSet) { failed = true }
        }
        if failed { throw ExitCode(1) }
    }

    /// Prints where the records of one body go. - Returns: false when the file is unreadable or not JSON.
    private func show(_ event: String, ruleSet: RuleSet) -> Bool {
        let contents =
            event == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: event)
        guard let data = contents else {
            printError("\(event): cannot read file")
            return false
        }
        switch EventDecoder.decode([UInt8](data)) {
        case .empty:
            print("\(event): empty body (answered 200, routed nowhere)")
        case .notJSON(let error):
            print("\(event): not JSON (answered 400): \(error)")
            return false
        case .testEvent(let name):
            print("\(event): \(name) (answered 200, routed nowhere)")
        case .undecodable(let problem):
            print(
                "\(event): not a routable S3 event (dead-lettered as undecodable): \(problem.field): \(problem.reason)"
            )
        case .events(let events):
            for (index, result) in events.records.enumerated() {
                switch result {
                case .undecodable(_, let problem):
                    print("record \(index): undecodable (dead-lettered): \(problem.field): \(problem.reason)")
                case .record(let record):
                    describe(index: index, record: record, origin: events.origin, ruleSet: ruleSet)
                }
            }
        }
        return true
    }

    private func describe(index: Int, record: EventRecord, origin: DecodedEvents.Origin, ruleSet: RuleSet) {
        print(
            "record \(index): \(LogText.escaped(record.eventName)) bucket=\(LogText.escaped(record.bucket)) "
                + "key=\(LogText.escaped(record.key)) source=\(Self.sourceName(record: record, origin: origin))"
        )
        let matches = ruleSet.matcher.match(record)
        if matches.isEmpty {
            print("  no rule matched")
        }
        for match in matches {
            print("  -> target \(ruleSet.targets[match.targetIndex].name) (rule \"\(match.rule)\")")
        }
        guard explain else { return }
        for explanation in ruleSet.matcher.explain(record) {
            if explanation.matched {
                print("  rule \"\(explanation.rule)\": matched")
            } else {
                print("  rule \"\(explanation.rule)\": no: \(LogText.escaped(explanation.reason ?? ""))")
            }
        }
    }

    /// Which sender a record came from, for people: the shape of the body and, for records, their `eventSource`.
    static func sourceName(record: EventRecord, origin: DecodedEvents.Origin) -> String {
        if origin != .records { return origin.rawValue }
        switch record.eventSource {
        case "minio:s3": return "minio"
        case "aws:s3": return "aws"
        case "ceph:s3": return "rgw"
        default: return LogText.escaped(record.eventSource)
        }
    }
}
