import RelayCore
import Testing

/// Inputs found by the libFuzzer targets in `Fuzz/` (see Fuzz/README.md), minimised (by libFuzzer or by hand), with
/// the invariant each one broke. Messages and diagnostics end up in logs and on terminals, one per line: a value taken from the input must
/// be escaped there, never copied raw.
@Suite struct FuzzRegressionTests {
    private static func holdsControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// FuzzRuleLoader: `"\` followed by a line feed. JSONParser's "invalid escape" message copied the byte after the
    /// backslash into the message, so the rule file's syntax diagnostic spanned two lines.
    @Test func invalidEscapeOfAControlByteIsShownByValue() throws {
        let input: [UInt8] = [0x22, 0x5C, 0x0A]
        let error = try #require(throws: JSONSyntaxError.self) { try JSONParser.parse(input) }
        #expect(error.message == "invalid escape '\\' followed by byte 0xA in string")
        #expect(error.offset == 1)

        let result = RuleSetCompiler.compile([RuleSource(path: "f.json", bytes: input)], environment: [:])
        guard case .failure(let failure) = result else {
            Issue.record("a rule file that is not JSON loaded")
            return
        }
        #expect(failure.diagnostics.map(\.code) == [.syntax])
        #expect(!failure.diagnostics.contains { Self.holdsControlCharacter($0.description) })
    }

    /// The message for a printable escape is unchanged.
    @Test func invalidEscapeOfAPrintableByteIsShownAsIs() throws {
        let error = try #require(throws: JSONSyntaxError.self) { try JSONParser.parse(#""\x""#) }
        #expect(error.message == "invalid escape '\\x' in string")
    }

    /// FuzzRuleLoader: an unknown field whose key holds a line feed (`{"rules":[{"a\nb":0}]}`, escaped in the
    /// JSON). The field path is built from the key and was printed raw, so the diagnostic spanned two lines.
    @Test func fieldPathFromAKeyWithALineFeedIsEscaped() {
        let input = Array(#"{"rules":[{"name":"r","to":"t","a\nb":0}]}"#.utf8)
        let result = RuleSetCompiler.compile([RuleSource(path: "f.json", bytes: input)], environment: [:])
        guard case .failure(let failure) = result else {
            Issue.record("a rule with an unknown field loaded")
            return
        }
        let unknown = failure.diagnostics.filter { $0.code == .unknownField }
        #expect(unknown.count == 1)
        #expect(unknown.first?.field == "a\nb")
        #expect(unknown.first?.description.contains(#"a\nb: unknown field"#) == true)
        #expect(!failure.diagnostics.contains { Self.holdsControlCharacter($0.description) })
        #expect(failure.description.split(separator: "\n").count == failure.diagnostics.count)
    }

    /// FuzzEventDecoder: a key whose bad URL escape is `%` and a control character. The reason copied the escape's
    /// text raw; it is quoted like every other value from the body now.
    @Test func badURLEscapeWithAControlCharacterIsQuoted() {
        let body = Array(#"{"eventName":"a","s3":{"bucket":{"name":"b"},"object":{"key":"%\u0001"}}}"#.utf8)
        guard case .events(let events) = EventDecoder.decode(body),
            case .undecodable(_, let problem) = events.records.first
        else {
            Issue.record("expected one undecodable record")
            return
        }
        #expect(problem.field == "s3.object.key")
        #expect(problem.reason == #"invalid URL escape "%\u{1}"; expected '%' followed by two hex digits"#)
        #expect(!Self.holdsControlCharacter(problem.description))
    }

    /// FuzzRuleLoader (seeded with a non-ASCII bucket): `{"bucket":"caf\u00e9"}` and a record whose bucket is the
    /// decomposed `cafe\u{301}`. The matcher's bucket index (a `[String: Int32]`) compares strings by canonical
    /// equivalence and delivered the record, while `explain` compared bytes and said "no match".
    @Test(arguments: [("caf\u{E9}", "cafe\u{301}"), ("caf\u{E9}", "caf\u{E9}"), ("K", "\u{212A}")])
    func matcherAndExplainAgreeOnCanonicallyEquivalentBuckets(ruleBucket: String, recordBucket: String) throws {
        let rules = #"""
            {"targets": {"t": {"url": "http://t"}},
             "rules": [{"name": "r", "match": {"bucket": "\#(ruleBucket)"}, "to": "t"}]}
            """#
        let ruleSet = try RuleSetCompiler.compile([RuleSource(path: "f.json", text: rules)], environment: [:]).get()
        let record = EventRecord(eventName: "s3:ObjectCreated:Put", bucket: recordBucket, key: "k")
        let matched = ruleSet.matcher.matchingRules(record) == [0]
        #expect(matched)
        #expect(ruleSet.explain(record).map(\.matched) == [matched])
        #expect(ruleSet.rules[0].match.matches(record) == matched)
    }

    /// FuzzEventDecoder: an `eventName` that starts with a combining mark (`"\u064f:ed:Put"`). `hasPrefix("s3:")`
    /// compares characters, and `:` followed by a combining mark is another character than `:`: a name already in
    /// `s3:` form got a second `s3:` (`s3:s3:\u{301}…`), and the CloudEvent `type` kept the `s3:`.
    @Test(
        arguments: [
            (#"s3:\u0301Created:Put"#, "s3:\u{301}Created:Put", "com.amazonaws.s3.\u{301}Created:Put"),
            (#"\u064f:ed:Put"#, "s3:\u{64F}:ed:Put", "com.amazonaws.s3.\u{64F}:ed:Put"),
            ("ObjectCreated:Put", "s3:ObjectCreated:Put", "com.amazonaws.s3.ObjectCreated:Put"),
        ]
    )
    func eventNamePrefixIsComparedInBytes(raw: String, normalised: String, cloudEventType: String) throws {
        let body = Array(
            #"{"Records":[{"eventName":"\#(raw)","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#.utf8
        )
        guard case .events(let events) = EventDecoder.decode(body), let record = events.decodedRecords.first else {
            Issue.record("expected one decoded record")
            return
        }
        #expect(Array(record.eventName.unicodeScalars) == Array(normalised.unicodeScalars))
        let payload = PayloadBuilder.payload(format: .cloudevents, body: body, events: events, record: record)
        let type = try JSONParser.parse(payload)["type"]?.stringValue
        #expect(type.map { Array($0.unicodeScalars) } == Array(cloudEventType.unicodeScalars))
    }
}
