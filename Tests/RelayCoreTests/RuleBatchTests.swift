import Testing

@testable import RelayCore

/// The target field `batch` (docs/rules.md, "Targets"): read, defaulted, refused with compiler-style diagnostics.
@Suite struct RuleBatchTests {
    typealias R = RuleTesting

    static func file(_ target: String) -> String {
        #"{"targets": {"a": "# + target + #"}, "rules": [{"name": "r", "to": "a"}]}"#
    }

    @Test func readsBatchWithSizeStringsAndDurations() throws {
        let ruleSet = R.ruleSet(
            Self.file(
                #"{"url": "http://a/", "format": "records", "batch": {"maxRecords": 100, "maxBytes": "256KiB", "maxWait": "200ms"}}"#
            )
        )
        let target = try #require(ruleSet.target(named: "a"))
        #expect(target.batch == TargetBatch(maxRecords: 100, maxBytes: 262_144, maxWait: .milliseconds(200)))
    }

    @Test func defaultsMaxBytesAndMaxWaitAndTakesAByteNumber() throws {
        let defaulted = R.ruleSet(Self.file(#"{"url": "http://a/", "format": "records", "batch": {"maxRecords": 5}}"#))
        #expect(
            defaulted.target(named: "a")?.batch
                == TargetBatch(maxRecords: 5, maxBytes: 262_144, maxWait: .milliseconds(200))
        )
        let numeric = R.ruleSet(
            Self.file(#"{"url": "http://a/", "format": "records", "batch": {"maxRecords": 5, "maxBytes": 4096}}"#)
        )
        #expect(numeric.target(named: "a")?.batch?.maxBytes == 4096)
        let none = R.ruleSet(Self.file(#"{"url": "http://a/", "format": "records"}"#))
        #expect(none.target(named: "a")?.batch == nil, "no batch unless asked")
    }

    @Test(arguments: ["cloudevents", "cloudevents-binary", "minio"])
    func refusesBatchWithAFormatThatCarriesOneRecord(format: String) {
        let lines = R.diagnostics(
            Self.file(#"{"url": "http://a/", "format": "\#(format)", "batch": {"maxRecords": 10}}"#)
        )
        #expect(lines.count == 1)
        let line = lines.first ?? ""
        #expect(line.hasPrefix(#"rules/a.json:1:"#), "\(line)")
        #expect(line.contains(#"error: target "a": batch: needs "format": "records""#), "\(line)")
        #expect(line.contains(#"the format is "\#(format)""#), "\(line)")
    }

    @Test func refusesBatchWithoutAFormatBecauseTheDefaultIsMinio() {
        let lines = R.diagnostics(Self.file(#"{"url": "http://a/", "batch": {"maxRecords": 10}}"#))
        #expect(lines.count == 1)
        #expect(lines.first?.contains(#"batch: needs "format": "records", "#) == true, "\(lines)")
        #expect(lines.first?.contains(#"the format is "minio""#) == true, "\(lines)")
    }

    @Test func refusesBadBatchValuesEachWithItsField() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"a": {"url": "http://a/", "format": "records", "batch": {"maxRecords": 0, "maxBytes": "12 parsecs", "maxWait": "0s"}},
                         "b": {"url": "http://b/", "format": "records", "batch": {"maxRecords": 1000000, "maxBytes": 10, "maxWait": "2h"}},
                         "c": {"url": "http://c/", "format": "records", "batch": {"maxBytes": "1GiB", "maxWait": 5, "size": 3}},
                         "d": {"url": "http://d/", "format": "records", "batch": 100}},
             "rules": [{"name": "r", "to": ["a", "b", "c", "d"]}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:1:85: error: target "a": batch.maxRecords: must be between 1 and 10000, found 0"#,
                #"rules/a.json:1:100: error: target "a": batch.maxBytes: "12 parsecs" is not a byte size; write a "#
                    + #"whole number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB), e.g. "1048576", "512KiB", "#
                    + #""10MB""#,
                #"rules/a.json:1:125: error: target "a": batch.maxWait: must be greater than 0, e.g. "5s""#,
                #"rules/a.json:2:85: error: target "b": batch.maxRecords: must be between 1 and 10000, found 1000000"#,
                #"rules/a.json:2:106: error: target "b": batch.maxBytes: must be between 1KiB and 64MiB, found 10 bytes"#,
                #"rules/a.json:2:121: error: target "b": batch.maxWait: must be at most 1m, found 2h"#,
                #"rules/a.json:3:70: error: target "c": batch.maxRecords: required; give the most records one "#
                    + #"request may carry, e.g. 100"#,
                #"rules/a.json:3:83: error: target "c": batch.maxBytes: must be between 1KiB and 64MiB, found "#
                    + #"1073741824 bytes"#,
                #"rules/a.json:3:102: error: target "c": batch.maxWait: expected a duration string such as "5s" or "#
                    + #""200ms", found number"#,
                #"rules/a.json:3:105: error: target "c": batch.size: unknown field; expected one of "maxRecords", "maxBytes", "#
                    + #""maxWait""#,
                #"rules/a.json:4:70: error: target "d": batch: expected an object, found number"#,
            ]
        )
    }
}
