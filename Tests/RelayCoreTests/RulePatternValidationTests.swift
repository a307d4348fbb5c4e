import Testing

@testable import RelayCore

/// A broken pattern and the diagnostic it must give, from the subject on (`rule "r": FIELD: MESSAGE`).
struct PatternDiagnosticCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var expected: String

    init(_ pattern: String, _ expected: String) {
        self.pattern = pattern
        self.expected = expected
    }

    var testDescription: String { expected }
}

@Suite struct RulePatternValidationTests {
    typealias R = RuleTesting

    static let cases: [PatternDiagnosticCase] = [
        PatternDiagnosticCase(
            #""eventName""#,
            #"pattern: expected an event pattern object such as {"eventName": ["s3:ObjectCreated:Put"]}, found string"#
        ),
        PatternDiagnosticCase(#"{}"#, "pattern: an empty pattern object is not allowed"),
        PatternDiagnosticCase(#"{"s3": {}}"#, "pattern.s3: an empty pattern object is not allowed"),
        PatternDiagnosticCase(
            #"{"s3": {"bucket": {"name": "photos"}}}"#,
            #"pattern.s3.bucket.name: expected a list of values, e.g. ["photos"], or an object of fields, found string"#
        ),
        PatternDiagnosticCase(
            #"{"source": {"userAgent": []}}"#,
            "pattern.source.userAgent: empty list matches nothing; list at least one value or operator"
        ),
        PatternDiagnosticCase(
            #"{"x": [["a"]]}"#,
            "pattern.x: expected a value or an operator object, found array"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"prefx": "a"}]}"#,
            #"pattern.x: unknown operator "prefx"; did you mean "prefix"?"#
        ),
        PatternDiagnosticCase(#"{"x": [{}]}"#, "pattern.x: empty operator object"),
        PatternDiagnosticCase(
            #"{"x": [{"prefix": "a", "suffix": "b"}]}"#,
            #"pattern.x: one operator per object, found 2 ("prefix", "suffix"); write each as its own element"#
        ),
        PatternDiagnosticCase(
            #"{"x": [{"prefix": 5}]}"#,
            #"pattern.x: prefix: expected a string or {"equals-ignore-case": string}, found 5"#
        ),
        PatternDiagnosticCase(
            #"{"x": [{"suffix": {"equals-ignore-case": 1}}]}"#,
            "pattern.x: suffix: equals-ignore-case: expected a string, found number"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"equals-ignore-case": ["a"]}]}"#,
            "pattern.x: equals-ignore-case: expected a string, found array"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"exists": "yes"}]}"#,
            "pattern.x: exists: expected true or false, found string"
        ),
        // numeric
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": 5}]}}}"#,
            #"pattern.s3.object.size: numeric: expected ["<op>", number] or [">" or ">=", number, "<" or "<=", number], found number"#
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": [">", 0, "<"]}]}}}"#,
            "pattern.s3.object.size: numeric: expected [\"<op>\", number] or [\">\" or \">=\", number, \"<\" or \"<=\", number], found 3 elements"
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": ["=>", 0]}]}}}"#,
            #"pattern.s3.object.size: numeric: unknown comparison "=>"; use "=", "<", "<=", ">" or ">=""#
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": [">", "0"]}]}}}"#,
            #"pattern.s3.object.size: numeric: the operand of ">" must be a number, found string"#
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": ["<", 10, ">", 0]}]}}}"#,
            #"pattern.s3.object.size: numeric: a range is a lower bound then an upper bound"#
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": [">", 10, "<", 10]}]}}}"#,
            "pattern.s3.object.size: numeric: the lower bound 10 must be below the upper bound 10"
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": [">", 1e400]}]}}}"#,
            "pattern.s3.object.size: numeric: 1e400 is not exactly a 64-bit floating-point number"
        ),
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": [{"numeric": ["=", 9007199254740993]}]}}}"#,
            "pattern.s3.object.size: numeric: 9007199254740993 is not exactly a 64-bit floating-point number"
        ),
        // anything-but
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": []}]}"#,
            "pattern.x: anything-but: empty list excludes nothing"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": ["a", 1]}]}"#,
            "pattern.x: anything-but: expected only strings or only numbers, found both"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": [true]}]}"#,
            "pattern.x: anything-but: expected strings or numbers, found boolean"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": null}]}"#,
            "pattern.x: anything-but: expected a string, a number, an array of them"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": {"numeric": [">", 1]}}]}"#,
            #"pattern.x: anything-but: expected an object with one of "prefix", "suffix", "equals-ignore-case" or "wildcard", found {"numeric"}"#
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": {"prefix": ""}}]}"#,
            "pattern.x: anything-but: prefix: an empty prefix excludes every string"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": {"suffix": [1]}}]}"#,
            "pattern.x: anything-but: suffix: expected a string, found number"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"anything-but": {"wildcard": "a**"}}]}"#,
            #"pattern.x: anything-but: wildcard: "a**" holds "**""#
        ),
        // wildcard guard
        PatternDiagnosticCase(
            #"{"x": [{"wildcard": "uploads/**.jpg"}]}"#,
            #"pattern.x: wildcard: "uploads/**.jpg" holds "**"; consecutive stars are not allowed"#
        ),
        PatternDiagnosticCase(
            #"{"x": [{"wildcard": "*a*a*a*a*a*a*a*a*a*a*a"}]}"#,
            "pattern.x: wildcard: \"*a*a*a*a*a*a*a*a*a*a*a\" holds 11 stars, more than the 10 allowed"
        ),
        PatternDiagnosticCase(
            #"{"x": [{"wildcard": "a\\b"}]}"#,
            #"pattern.x: wildcard: "a\\b": a backslash escapes only "*" or a backslash"#
        ),
        // cidr
        PatternDiagnosticCase(
            #"{"x": [{"cidr": "10.0.0.0"}]}"#,
            #"pattern.x: cidr: expected ADDRESS/BITS such as "10.0.0.0/8" or "2001:db8::/32", found "10.0.0.0""#
        ),
        PatternDiagnosticCase(#"{"x": [{"cidr": "10.0.0.256/8"}]}"#, "pattern.x: cidr: expected ADDRESS/BITS"),
        PatternDiagnosticCase(
            #"{"x": [{"cidr": "10.0.0.0/33"}]}"#,
            #"pattern.x: cidr: "10.0.0.0/33": an IPv4 block has at most 32 bits, found 33"#
        ),
        PatternDiagnosticCase(#"{"x": [{"cidr": "2001:db8:::/32"}]}"#, "pattern.x: cidr: expected ADDRESS/BITS"),
        PatternDiagnosticCase(
            #"{"x": [{"cidr": "2001:db8::/129"}]}"#,
            "pattern.x: cidr: \"2001:db8::/129\": an IPv6 block has at most 128 bits, found 129"
        ),
        // $or
        PatternDiagnosticCase(
            #"{"$or": {"a": ["b"]}}"#,
            "pattern.$or: expected an array of at least two pattern objects, found object"
        ),
        PatternDiagnosticCase(#"{"$or": [{"a": ["b"]}]}"#, "pattern.$or: needs at least two alternatives, found 1"),
        PatternDiagnosticCase(
            #"{"$or": [{"a": ["b"]}, "c"]}"#,
            "pattern.$or[1]: expected a pattern object, found string"
        ),
        PatternDiagnosticCase(
            #"{"$or": [{"a": ["b"]}, {}]}"#,
            "pattern.$or[1]: an empty pattern object is not allowed"
        ),
        PatternDiagnosticCase(
            #"{"$or": [{"a": ["b"]}, {"numeric": [">", 1]}]}"#,
            #"pattern.$or[1].numeric: "numeric" is an operator, not a field"#
        ),
        // Field names and eventName.
        PatternDiagnosticCase(
            #"{"s3": {"object": {"size": {"numeric": [">", 0]}}}}"#,
            #"pattern.s3.object.size.numeric: "numeric" is an operator, not a field; put it inside the field's list"#
        ),
        PatternDiagnosticCase(
            #"{"s3.object.key": ["a"]}"#,
            #"pattern.s3.object.key: a field name holds no "."; write the path as nested objects, e.g. {"s3": {"object": {"key": [...]}}}"#
        ),
        PatternDiagnosticCase(
            #"{"$and": [{"a": ["b"]}]}"#,
            #"pattern.$and: unknown keyword "$and"; the only one is "$or""#
        ),
        PatternDiagnosticCase(#"{"": ["a"]}"#, "pattern.: an empty field name matches no field of a record"),
        PatternDiagnosticCase(#"{"a": ["x"], "a": ["y"]}"#, "pattern.a: duplicate field (first at line 2, column"),
        PatternDiagnosticCase(
            #"{"eventName": ["ObjectCreated:Put"]}"#,
            #"pattern.eventName: "ObjectCreated:Put" never matches: eventName always has the s3: form here, whatever the source; write "s3:ObjectCreated:Put""#
        ),
        PatternDiagnosticCase(
            #"{"eventName": [{"prefix": "ObjectCreated:"}]}"#,
            #"pattern.eventName: prefix: "ObjectCreated:" never matches: eventName always has the s3: form here; write "s3:ObjectCreated:""#
        ),
    ]

    @Test(arguments: cases)
    func refusesABrokenPatternWithACompilerStyleDiagnostic(_ testCase: PatternDiagnosticCase) {
        let lines = R.diagnostics(RulePatternTests.singleRule(pattern: testCase.pattern))
        #expect(lines.count == 1, "\(lines)")
        let line = lines.first ?? ""
        #expect(line.hasPrefix("rules/a.json:2:"), "\(line)")
        #expect(line.contains(": error: rule \"r\": " + testCase.expected), "\(line)")
    }

    @Test func reportsTheOperatorsPosition() {
        let text = """
            {"targets": {"t": {"url": "http://127.0.0.1:9/"}},
             "rules": [{"name": "x", "to": ["t"],
                        "pattern": {"s3": {"object": {"size": [{"numeric": [">", "big"]}]}}}}]}
            """
        #expect(
            R.diagnostics(text) == [
                #"rules/a.json:3:70: error: rule "x": pattern.s3.object.size: numeric: the operand of ">" must be a "#
                    + "number, found string"
            ]
        )
    }

    @Test func reportsEveryProblemOfOnePattern() {
        let lines = R.diagnostics(
            RulePatternTests.singleRule(pattern: #"{"a": [], "b": [{"exists": 1}], "c": {"d": "e"}}"#)
        )
        #expect(lines.count == 3)
    }

    @Test func acceptsEveryOperatorForm() {
        let pattern = #"""
            {"eventName": ["s3:ObjectCreated:Put", {"prefix": "s3:ObjectRemoved:"}],
             "s3": {"object": {"key": [{"prefix": {"equals-ignore-case": "a"}}, {"suffix": ".x"},
                                       {"suffix": {"equals-ignore-case": ".Y"}}, {"wildcard": "a*b\\*c\\\\"},
                                       {"anything-but": {"wildcard": ["*/tmp/*", "x*"]}}],
                               "size": [{"numeric": ["=", 5]}, {"numeric": [">=", -1.5e3, "<", 1e12]},
                                        {"anything-but": [1, 2.5]}, 7, null, true],
                               "eTag": [{"anything-but": {"equals-ignore-case": "A"}}, {"exists": false}]}},
             "requestParameters": {"sourceIPAddress": [{"cidr": "::/0"}, {"cidr": "192.168.0.0/16"},
                                                       {"cidr": "::ffff:10.0.0.0/104"}]},
             "$or": [{"a": [{"anything-but": {"suffix": ["x", "y"]}}]}, {"b": [{"anything-but": "z"}]}]}
            """#
        let ruleSet = R.ruleSet(RulePatternTests.singleRule(pattern: pattern))
        #expect(ruleSet.rules.first?.pattern?.fields.count == 3)
        #expect(ruleSet.rules.first?.pattern?.alternatives.first?.count == 2)
    }

    @Test func aRuleMayHaveAPatternWithoutMatch() {
        let ruleSet = R.ruleSet(RulePatternTests.singleRule(pattern: #"{"eventName": ["s3:ObjectCreated:Put"]}"#))
        #expect(ruleSet.rules.first?.match.isEmpty == true)
        #expect(ruleSet.rules.first?.pattern != nil)
    }
}
