import Foundation
import RelayBenchmarkSupport
import RelayCore

// Decode + match of `minio/put-image.json` N times, without the benchmark harness: for
// `valgrind --tool=callgrind` (instructions per event, see callgrind.sh) and for a quick look at records/s.
//
//   DecodeMatchLoop [--rules N] [--hits H] [--iterations I] [--path scanner|full|naive]
//
// Defaults: 10,000 rules, 1 matching rule, 100,000 iterations, the scanner's path (`EventDecoder.decode`). `full`
// decodes by the full parse (`EventDecoder.decodeByFullParse`), `naive` by the full parse with `NaiveMatcher`.
// Prints the targets (naive: rules) matched per record and the wall-clock rate (meaningless under valgrind); exits 1 when the paths
// disagree or the arguments are wrong.

/// Why the loop cannot run.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

func run() throws(UsageError) {
    var rules = 10_000
    var hits = 1
    var iterations = 100_000
    var path = "scanner"
    var arguments = CommandLine.arguments.dropFirst()
    while let name = arguments.popFirst() {
        guard let value = arguments.popFirst() else { throw UsageError(description: "\(name) needs a value") }
        switch name {
        case "--rules": rules = Int(value) ?? -1
        case "--hits": hits = Int(value) ?? -1
        case "--iterations": iterations = Int(value) ?? -1
        case "--path": path = value
        default: throw UsageError(description: "unknown option \(name)")
        }
    }
    guard rules >= 1, hits >= 1, hits <= rules, iterations >= 1, ["scanner", "full", "naive"].contains(path) else {
        throw UsageError(
            description: "usage: DecodeMatchLoop [--rules N] [--hits H] [--iterations I] [--path scanner|full|naive]"
        )
    }
    let fixtures: Fixtures
    do {
        fixtures = try Fixtures.load()
    } catch {
        throw UsageError(description: "\(error)")
    }
    let body = fixtures.minioPutImage.bytes
    let ruleSet: RuleSet
    switch RuleSetCompiler.compile([GeneratedRules.source(count: rules, hits: hits)], environment: [:]) {
    case .success(let compiled): ruleSet = compiled
    case .failure(let diagnostics): throw UsageError(description: "generated rules do not compile: \(diagnostics)")
    }
    guard EventDecoder.decodeByScanner(body) == EventDecoder.decodeByFullParse(body),
        case .events(let events) = EventDecoder.decode(body), let record = events.decodedRecords.first,
        ruleSet.matcher.matchingRules(record) == GeneratedRules.hitIndices(count: rules, hits: hits)
    else {
        throw UsageError(description: "the scanner and the full parse disagree, or the rules match otherwise")
    }
    let naive = NaiveMatcher(rules: ruleSet.rules)
    var matched = 0
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations {
        let decoded = path == "scanner" ? EventDecoder.decode(body) : EventDecoder.decodeByFullParse(body)
        guard case .events(let events) = decoded else { continue }
        for case .record(let record) in events.records {
            matched += path == "naive" ? naive.matchingRules(record).count : ruleSet.match(record).count
        }
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(
        "path \(path), \(rules) rules, \(matched / iterations) targets (naive: rules) per record, \(iterations) iterations: "
            + "\(Int(Double(iterations) / seconds)) records/s"
    )
}

do {
    try run()
} catch {
    print(error.description)
    exit(1)
}
