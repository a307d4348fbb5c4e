import Testing

@testable import RelayCore

struct RuleExplainCase: Sendable, CustomTestStringConvertible {
    var match: String
    var record: EventRecord
    var reason: String?
    var testDescription: String { "\(match) -> \(reason ?? "matched")" }

    init(_ match: String, _ record: EventRecord, _ reason: String?) {
        self.match = match
        self.record = record
        self.reason = reason
    }
}

@Suite struct RuleExplainTests {
    typealias R = RuleTesting

    static let cases: [RuleExplainCase] = [
        RuleExplainCase(#"{"suffix": ".jpg"}"#, R.record(key: "a.jpg"), nil),
        RuleExplainCase(
            #"{"event": ["s3:ObjectCreated:*", "ObjectAccessed:Get"]}"#,
            R.record("s3:ObjectRemoved:Delete", size: nil),
            #"event: "s3:ObjectRemoved:Delete" is none of "s3:ObjectCreated:*", "s3:ObjectAccessed:Get""#
        ),
        RuleExplainCase(#"{"bucket": "photos"}"#, R.record(bucket: "docs"), #"bucket: "docs" is none of "photos""#),
        RuleExplainCase(
            #"{"prefix": ["uploads/", "raw/"]}"#,
            R.record(key: "a.txt"),
            #"prefix: key "a.txt" starts with none of "uploads/", "raw/""#
        ),
        RuleExplainCase(
            #"{"suffix": [".jpg", ".png"]}"#,
            R.record(key: "a.txt"),
            #"suffix: key "a.txt" ends with none of ".jpg", ".png""#
        ),
        RuleExplainCase(#"{"contentType": "image/*"}"#, R.record(), "contentType: record has no content type"),
        RuleExplainCase(
            #"{"contentType": ["image/*", "video/mp4"]}"#,
            R.record(contentType: "Text/Plain; charset=utf-8"),
            #"contentType: "text/plain" is none of "image/*", "video/mp4""#
        ),
        RuleExplainCase(
            #"{"size": {"min": 1}}"#,
            R.record("s3:ObjectRemoved:Delete", size: nil),
            "size: record has no size (not a created-object event)"
        ),
        RuleExplainCase(
            #"{"size": {"min": 1}}"#,
            R.record("s3:ObjectCreated:Put", size: nil),
            "size: 0 bytes is below the minimum of 1"
        ),
        RuleExplainCase(
            #"{"size": {"max": "50MiB"}}"#,
            R.record(size: 60_000_000),
            "size: 60000000 bytes is above the maximum of 52428800"
        ),
        RuleExplainCase(#"{"metadata": {"Kind": "avatar"}}"#, R.record(), "metadata: record has no x-amz-meta-kind"),
        RuleExplainCase(
            #"{"metadata": {"kind": ["avatar", "banner"]}}"#,
            R.record(metadata: ["x-amz-meta-kind": "cat"]),
            #"metadata: x-amz-meta-kind "cat" is none of "avatar", "banner""#
        ),
        RuleExplainCase(
            #"{"prefix": "uploads/", "not": {"prefix": ["uploads/tmp/", "uploads/t"]}}"#,
            R.record(key: "uploads/tmp/a.jpg"),
            #"not: excluded by prefix "uploads/tmp/""#
        ),
        RuleExplainCase(
            #"{"not": {"bucket": "photos", "suffix": ".tmp", "event": "ObjectCreated:*"}}"#,
            R.record(key: "a.tmp"),
            #"not: excluded by event "s3:ObjectCreated:*" and bucket "photos" and suffix ".tmp""#
        ),
        RuleExplainCase(
            #"{"not": {"size": {"max": 10}, "contentType": "text/*", "metadata": {"kind": "x"}}}"#,
            R.record(size: 5, contentType: "text/csv", metadata: ["x-amz-meta-kind": "x"]),
            #"not: excluded by contentType "text/*" and size 5 (max 10) and metadata x-amz-meta-kind "x""#
        ),
        RuleExplainCase(
            #"{"not": {"prefix": "a/", "not": {"suffix": ".keep"}}}"#,
            R.record(key: "a/x.tmp"),
            #"not: excluded by prefix "a/" and not (suffix: key "a/x.tmp" ends with none of ".keep")"#
        ),
        // The first failing condition is reported, in the order event, bucket, prefix, suffix, ...
        RuleExplainCase(
            #"{"suffix": ".png", "bucket": "docs", "size": {"min": 1000}}"#,
            R.record(key: "a.jpg"),
            #"bucket: "photos" is none of "docs""#
        ),
        RuleExplainCase(
            #"{"suffix": [".a", ".b", ".c", ".d", ".e", ".f", ".g", ".h", ".i", ".j", ".k", ".l"]}"#,
            R.record(key: "x"),
            #"suffix: key "x" ends with none of ".a", ".b", ".c", ".d", ".e", ".f", ".g", ".h", ".i", ".j", "#
                + "and 2 more"
        ),
        RuleExplainCase(
            #"{"prefix": "a"}"#,
            R.record(key: "line\nbreak \"q\""),
            #"prefix: key "line\nbreak \"q\"" starts with none of "a""#
        ),
    ]

    @Test(arguments: cases)
    func explainsTheFirstFailingConditionInPlainWords(_ testCase: RuleExplainCase) {
        let ruleSet = R.ruleSet(R.singleRule(match: testCase.match))
        let explanations = ruleSet.explain(testCase.record)
        #expect(
            explanations == [
                RuleExplanation(
                    rule: "r",
                    file: "rules/a.json",
                    matched: testCase.reason == nil,
                    targets: ["t"],
                    reason: testCase.reason
                )
            ]
        )
        #expect(ruleSet.match(testCase.record).isEmpty == (testCase.reason != nil))
    }

    @Test func explainsEveryRuleInLoadOrder() {
        let ruleSet = R.ruleSet(
            """
            {"targets": {"a": {"url": "http://a/"}, "b": {"url": "http://b/"}},
             "rules": [{"name": "images", "match": {"suffix": ".jpg"}, "to": ["a", "b"]},
                       {"name": "docs", "match": {"bucket": "docs"}, "to": "b"}]}
            """
        )
        let lines = ruleSet.explain(R.record(key: "cat.jpg")).map(\.description)
        #expect(
            lines == [
                #"rule "images": matched -> a, b"#,
                #"rule "docs": no match: bucket: "photos" is none of "docs""#,
            ]
        )
    }
}
