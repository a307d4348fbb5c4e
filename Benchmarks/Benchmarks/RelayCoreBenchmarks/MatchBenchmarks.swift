import Benchmark
import RelayBenchmarkSupport
import RelayCore

/// Matching one record against 10, 100 and 1,000 generated rules (`GeneratedRules`): the compiled `RuleSet` against
/// a naive per-rule scan (`NaiveMatcher`) and against `MatchSpec.matches(_:)` called for every rule, for a record
/// that matches one rule and one that matches none. At 10,000 rules: the compiled `RuleSet` with a fifth of the rules
/// written as equivalent patterns against the same rules all written as `match` (the baseline).
enum MatchBenchmarks {
    static func register(_ fixtures: Fixtures) {
        guard case .events(let events) = EventDecoder.decode(fixtures.minioPutImage.bytes),
            let hitRecord = events.decodedRecords.first
        else {
            registerFailure("match", "minio-put-image does not decode into a record")
            return
        }
        // Same bucket as the hit, outside every prefix that bucket's rules name, an event most rules accept.
        var missRecord = hitRecord
        missRecord.eventName = "s3:ObjectRemoved:Delete"
        missRecord.key = "archive/2019/report.pdf"
        missRecord.rawKey = missRecord.key
        missRecord.size = nil

        for count in [10, 100, 1_000] {
            let ruleSet: RuleSet
            switch RuleSetCompiler.compile([GeneratedRules.source(count: count)], environment: [:]) {
            case .success(let compiled):
                ruleSet = compiled
            case .failure(let diagnostics):
                registerFailure("match/\(count) rules", "generated rules do not compile:\n\(diagnostics)")
                continue
            }
            let naive = NaiveMatcher(rules: ruleSet.rules)
            let rules = ruleSet.rules
            for (name, record, expected) in [
                ("hit", hitRecord, [GeneratedRules.hitIndex(count: count)]),
                ("miss", missRecord, []),
            ] {
                let prefix = "match/\(count) rules/\(name)/"
                let viaSpecs = rules.indices.filter { rules[$0].match.matches(record) }
                let compiled = ruleSet.matcher.matchingRules(record)
                guard compiled == expected, naive.matchingRules(record) == expected, viaSpecs == expected else {
                    registerFailure(
                        prefix + "check",
                        "expected rules \(expected); compiled \(compiled), naive \(naive.matchingRules(record)), "
                            + "MatchSpec.matches \(viaSpecs)"
                    )
                    continue
                }
                Benchmark(prefix + "RuleSet.match", configuration: .fast) { benchmark in
                    for _ in benchmark.scaledIterations {
                        blackHole(ruleSet.match(record))
                    }
                }
                Benchmark(prefix + "baseline naive scan", configuration: .slow) { benchmark in
                    for _ in benchmark.scaledIterations {
                        blackHole(naive.matchingRules(record))
                    }
                }
                Benchmark(prefix + "baseline MatchSpec.matches per rule", configuration: .slow) { benchmark in
                    for _ in benchmark.scaledIterations {
                        var matched: [Int] = []
                        for index in rules.indices where rules[index].match.matches(record) {
                            matched.append(index)
                        }
                        blackHole(matched)
                    }
                }
            }
        }
        registerPatterns(hitRecord: hitRecord, missRecord: missRecord, count: 10_000)
    }

    /// `count` rules, a fifth of them patterns, against the same rules all written as `match`.
    static func registerPatterns(hitRecord: EventRecord, missRecord: EventRecord, count: Int) {
        var sets: [RuleSet] = []
        for patterns in [false, true] {
            switch RuleSetCompiler.compile([GeneratedRules.source(count: count, patterns: patterns)], environment: [:])
            {
            case .success(let compiled):
                sets.append(compiled)
            case .failure(let diagnostics):
                registerFailure("match/\(count) rules", "generated rules do not compile:\n\(diagnostics)")
                return
            }
        }
        let (matchOnly, withPatterns) = (sets[0], sets[1])
        for (name, record, expected) in [
            ("hit", hitRecord, [GeneratedRules.hitIndex(count: count)]),
            ("miss", missRecord, []),
        ] {
            let prefix = "match/\(count) rules/\(name)/"
            // The plain evaluation of every rule (`explain`) is the reference for both compiled sets.
            let explanations = withPatterns.explain(record)
            let explained = explanations.indices.filter { explanations[$0].matched }
            let results = [matchOnly.matcher.matchingRules(record), withPatterns.matcher.matchingRules(record)]
            guard results.allSatisfy({ $0 == expected }), explained == expected else {
                registerFailure(
                    prefix + "check",
                    "expected rules \(expected); match only \(results[0]), with patterns \(results[1]), "
                        + "explain \(explained)"
                )
                continue
            }
            Benchmark(prefix + "RuleSet.match, a fifth patterns", configuration: .fast) { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(withPatterns.match(record))
                }
            }
            Benchmark(prefix + "baseline RuleSet.match, match rules only", configuration: .fast) { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(matchOnly.match(record))
                }
            }
        }
    }
}
