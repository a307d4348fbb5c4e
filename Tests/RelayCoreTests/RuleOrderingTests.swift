import Testing

@testable import RelayCore

/// The target option `ordering` (docs/rules.md, "Targets"): `"key"` or the default, everything else a diagnostic.
@Suite struct RuleOrderingTests {
    typealias R = RuleTesting

    static func file(ordering: String) -> String {
        """
        {"targets": {"t": {"url": "http://127.0.0.1:9/", "ordering": \(ordering)}},
         "rules": [{"name": "r", "to": ["t"]}]}
        """
    }

    @Test func loadsOrderingKey() throws {
        let ruleSet = R.ruleSet(Self.file(ordering: #""key""#))
        #expect(try #require(ruleSet.target(named: "t")).ordering == .key)
    }

    @Test func noOrderingIsTheDefaultAndCanBeSpelledNone() throws {
        let plain = R.ruleSet(#"{"targets": {"t": {"url": "http://t/"}}, "rules": [{"name": "r", "to": "t"}]}"#)
        #expect(try #require(plain.target(named: "t")).ordering == .none)
        let none = R.ruleSet(Self.file(ordering: #""none""#))
        #expect(try #require(none.target(named: "t")).ordering == .none)
    }

    static let badValues: [(String, String)] = [
        (
            #""keys""#,
            #"rules/a.json:1:62: error: target "t": ordering: unknown ordering "keys"; did you mean "key"?"#
        ),
        (
            #""sequencer""#,
            #"rules/a.json:1:62: error: target "t": ordering: unknown ordering "sequencer"; use "key" to deliver "#
                + #"each bucket and key in sequencer order, or remove "ordering""#
        ),
        (
            "true",
            #"rules/a.json:1:62: error: target "t": ordering: expected "key" (one delivery of a bucket and key at a "#
                + #"time, in sequencer order) or "none", found boolean"#
        ),
        (
            #"{"by": "key"}"#,
            #"rules/a.json:1:62: error: target "t": ordering: expected "key" (one delivery of a bucket and key at a "#
                + #"time, in sequencer order) or "none", found object"#
        ),
    ]

    @Test(arguments: badValues)
    func refusesAnythingButKeyWithAPositionedDiagnostic(_ value: String, _ expected: String) {
        #expect(R.diagnostics(Self.file(ordering: value)) == [expected])
    }

    @Test func reportsOrderingBesideTheTargetsOtherErrors() {
        let lines = R.diagnostics(
            #"{"targets": {"t": {"url": "ftp://t/", "ordering": "KEY"}}, "rules": [{"name": "r", "to": "t"}]}"#
        )
        #expect(lines.count == 2)
        #expect(lines.last?.contains(#"ordering: unknown ordering "KEY"; did you mean "key"?"#) == true)
    }
}
