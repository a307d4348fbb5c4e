import Benchmark
import RelayBenchmarkSupport
import RelayCore

/// Decode + match from raw bytes, as a request does: `EventDecoder.decode` of the MinIO body (the scanner's fast
/// path), then `RuleSet.match` for each record; against the full parse (`EventDecoder.decodeByFullParse`, the path
/// before the scanner) with the same matcher, and against the full parse with the naive per-rule scan
/// (`NaiveMatcher`). At 1, 100, 1,000 and 10,000 generated rules (`GeneratedRules`), with one matching rule per
/// record (`hit`) and, from 100 rules on, with 50 (`hits50`).
enum DecodeMatchBenchmarks {
    static func register(_ fixtures: Fixtures) {
        let body = fixtures.minioPutImage.bytes
        guard let scanned = EventDecoder.decodeByScanner(body), scanned == EventDecoder.decodeByFullParse(body),
            case .events(let events) = scanned, let record = events.decodedRecords.first
        else {
            registerFailure("decode+match", "the scanner does not take minio-put-image, or differs from the full parse")
            return
        }
        for count in [1, 100, 1_000, 10_000] {
            for hits in count >= 100 ? [1, 50] : [1] {
                let prefix = "decode+match/\(count) rules/\(hits == 1 ? "hit" : "hits\(hits)")/"
                let ruleSet: RuleSet
                switch RuleSetCompiler.compile([GeneratedRules.source(count: count, hits: hits)], environment: [:]) {
                case .success(let compiled):
                    ruleSet = compiled
                case .failure(let diagnostics):
                    registerFailure(prefix + "check", "generated rules do not compile:\n\(diagnostics)")
                    continue
                }
                let expected = GeneratedRules.hitIndices(count: count, hits: hits)
                let naive = NaiveMatcher(rules: ruleSet.rules)
                let compiled = ruleSet.matcher.matchingRules(record)
                guard expected.count == hits, compiled == expected, naive.matchingRules(record) == expected else {
                    registerFailure(
                        prefix + "check",
                        "expected rules \(expected); compiled \(compiled), naive \(naive.matchingRules(record))"
                    )
                    continue
                }
                Benchmark(prefix + "scanner + RuleSet.match", configuration: .fast) { benchmark in
                    for _ in benchmark.scaledIterations {
                        blackHole(decodeAndMatch(body, ruleSet))
                    }
                }
                Benchmark(prefix + "baseline full parse + RuleSet.match", configuration: .slow) { benchmark in
                    for _ in benchmark.scaledIterations {
                        blackHole(fullParseAndMatch(body, ruleSet))
                    }
                }
                Benchmark(prefix + "baseline full parse + naive scan", configuration: .slow) { benchmark in
                    for _ in benchmark.scaledIterations {
                        blackHole(fullParseAndNaive(body, naive))
                    }
                }
            }
        }
    }

    /// The targets of every record of `body`, decoded as the relay decodes it.
    static func decodeAndMatch(_ body: [UInt8], _ ruleSet: RuleSet) -> Int {
        guard case .events(let events) = EventDecoder.decode(body) else { return -1 }
        var targets = 0
        for case .record(let record) in events.records { targets += ruleSet.match(record).count }
        return targets
    }

    static func fullParseAndMatch(_ body: [UInt8], _ ruleSet: RuleSet) -> Int {
        guard case .events(let events) = EventDecoder.decodeByFullParse(body) else { return -1 }
        var targets = 0
        for case .record(let record) in events.records { targets += ruleSet.match(record).count }
        return targets
    }

    static func fullParseAndNaive(_ body: [UInt8], _ naive: NaiveMatcher) -> Int {
        guard case .events(let events) = EventDecoder.decodeByFullParse(body) else { return -1 }
        var rules = 0
        for case .record(let record) in events.records { rules += naive.matchingRules(record).count }
        return rules
    }
}
