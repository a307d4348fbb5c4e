import Foundation
import RelayCore
import Testing

/// Parses `text`, returning the syntax error or nil when it parses.
private func syntaxError(_ text: String) -> JSONSyntaxError? {
    syntaxError(Array(text.utf8))
}

private func syntaxError(_ bytes: [UInt8]) -> JSONSyntaxError? {
    do throws(JSONSyntaxError) {
        _ = try JSONParser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// `bytes[value.range]` as a string.
private func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
    String(decoding: bytes[range], as: UTF8.self)
}

@Suite("JSONParser")
struct JSONParserTests {
    // MARK: Scalars

    @Test(
        arguments: [
            ("null", JSONValue.Kind.null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("0", .number("0")),
            ("\"\"", .string("")),
            ("\"plain\"", .string("plain")),
            ("[]", .array([])),
            ("{}", .object([])),
        ]
    )
    func parsesScalarsAndEmptyContainers(input: String, kind: JSONValue.Kind) throws {
        let value = try JSONParser.parse(input)
        #expect(value.kind == kind)
        #expect(value.range == 0..<input.utf8.count)
    }

    @Test(
        arguments: [
            ("null", "null"), ("true", "boolean"), ("1", "number"), ("\"s\"", "string"), ("[]", "array"),
            ("{}", "object"),
        ]
    )
    func namesEachType(input: String, typeName: String) throws {
        #expect(try JSONParser.parse(input).typeName == typeName)
    }

    @Test func accessorsAnswerOnlyForTheirKind() throws {
        let value = try JSONParser.parse(#"{"s":"x","b":true,"n":12,"f":1.5,"a":[1],"o":{},"z":null}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["s"]?.int64Value == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["b"]?.stringValue == nil)
        #expect(value["n"]?.int64Value == 12)
        #expect(value["n"]?.doubleValue == 12)
        #expect(value["f"]?.int64Value == nil)
        #expect(value["f"]?.doubleValue == 1.5)
        #expect(value["a"]?.arrayValue?.count == 1)
        #expect(value["a"]?.objectValue == nil)
        #expect(value["o"]?.objectValue?.isEmpty == true)
        #expect(value["z"]?.isNull == true)
        #expect(value["s"]?.isNull == false)
        #expect(value["missing"] == nil)
        #expect(value["a"]?["s"] == nil)
        #expect(value.objectValue?.map(\.key) == ["s", "b", "n", "f", "a", "o", "z"])
    }

    @Test func keepsDuplicateKeysInOrderAndSubscriptReturnsTheFirst() throws {
        let value = try JSONParser.parse(#"{"k":1,"other":2,"k":3}"#)
        #expect(value.objectValue?.map(\.key) == ["k", "other", "k"])
        #expect(value["k"]?.int64Value == 1)
    }

    // MARK: Strings and escapes

    @Test(
        arguments: [
            (#""\"""#, "\""),
            (#""\\""#, "\\"),
            (#""\/""#, "/"),
            (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
            (#""\u0041\u00e9\u20AC""#, "Aé€"),
            (#""\u0000""#, "\u{0}"),
            (#""\u001f""#, "\u{1F}"),
            (#""\ud83d\ude00""#, "😀"),
            (#""\uD834\uDD1E clef""#, "𝄞 clef"),
            (#""\uDBFF\uDFFF""#, "\u{10FFFF}"),
            (#""a\"b\\c""#, "a\"b\\c"),
            (#""raw ü and escaped \u00fc""#, "raw ü and escaped ü"),
            (#""emoji 😀 raw""#, "emoji 😀 raw"),
            (#""\u2028\u2029""#, "\u{2028}\u{2029}"),
        ]
    )
    func unescapesStrings(literal: String, expected: String) throws {
        let value = try JSONParser.parse(literal)
        #expect(value.stringValue == expected)
        #expect(value.range == 0..<literal.utf8.count)
    }

    @Test(
        arguments: [
            #""\x""#,
            #""\'""#,
            #""\U0041""#,
            #""\u12""#,
            #""\u12G4""#,
            #""\u""#,
            #""\uD800""#,
            #""\uD800 tail""#,
            #""\uDC00""#,
            #""\uD800\u0041""#,
            #""\uD800\uD800""#,
            #""\uD800\n""#,
            #""\"#,
            #""abc"#,
            "\"tab\there\"",
            "\"new\nline\"",
            "\"nul\u{0}\"",
        ]
    )
    func rejectsInvalidEscapesAndControlCharacters(literal: String) {
        #expect(syntaxError(literal) != nil)
    }

    @Test func pointsAtTheInvalidEscape() throws {
        let error = try #require(syntaxError(#"{"key": "ab\qc"}"#))
        #expect(error.offset == 11)
        #expect(error.message.contains("invalid escape"))
    }

    @Test func reportsAnUnpairedSurrogate() throws {
        let error = try #require(syntaxError(#"["\udc00"]"#))
        #expect(error.message.contains("surrogate"))
        #expect(error.offset == 2)
    }

    @Test(
        arguments: [
            [0x22, 0xC3, 0x22],  // truncated 2-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8-encoded surrogate
            [0x22, 0xFF, 0x22],
            [0x22, 0x5C, 0x6E, 0xE2, 0x82, 0x22],  // escape, then a truncated 3-byte sequence
        ] as [[UInt8]]
    )
    func rejectsInvalidUTF8InStrings(bytes: [UInt8]) {
        #expect(syntaxError(bytes) != nil)
    }

    @Test func keepsRawUTF8InKeysAndValues() throws {
        let value = try JSONParser.parse(#"{"schlüssel":"wert ü 😀"}"#)
        #expect(value["schlüssel"]?.stringValue == "wert ü 😀")
    }

    // MARK: Numbers

    @Test(
        arguments: [
            "0", "-0", "7", "123", "-1.5e3", "1E+2", "1e-2", "0.5", "-0.0", "10.25E-10",
            "123456789012345678901234567890", "9223372036854775807", "-9223372036854775808",
        ]
    )
    func keepsTheNumberTextAsWritten(input: String) throws {
        let value = try JSONParser.parse(" \(input) ")
        #expect(value.kind == .number(input))
        #expect(value.range == 1..<(1 + input.utf8.count))
    }

    @Test(
        arguments: [
            ("48213", Int64(48213)), ("-1", -1), ("0", 0), ("9223372036854775807", .max),
            ("-9223372036854775808", .min),
        ]
    )
    func readsIntegralNumbersAsInt64(input: String, expected: Int64) throws {
        #expect(try JSONParser.parse(input).int64Value == expected)
    }

    @Test(arguments: ["1.0", "1e3", "9223372036854775808", "-9223372036854775809", "0.5"])
    func int64ValueIsNilForFractionsExponentsAndOverflow(input: String) throws {
        #expect(try JSONParser.parse(input).int64Value == nil)
    }

    @Test(
        arguments: [
            "01", "-", "--1", "1.", ".5", "+1", "1e", "1e+", "1E-", "-a", "0x10", "NaN", "Infinity", "-Infinity",
            "1.e5", "1..2", "[01]", "[-]", "[1.]", "{\"a\":1e}",
        ]
    )
    func rejectsMalformedNumbers(input: String) {
        #expect(syntaxError(input) != nil)
    }

    // MARK: Structure

    @Test(
        arguments: [
            "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{1:1}", "{\"a\":1 \"b\":2}",
            "[", "{", "]", "}", ":", ",", "{\"a\"", "{\"a\":", "[1", "tru", "nul", "fals", "True", "nulll", "'a'",
            "[1}", "{\"a\":1]",
        ]
    )
    func rejectsMalformedStructure(input: String) {
        #expect(syntaxError(input) != nil)
    }

    @Test(arguments: ["", " ", "\n\t\r "])
    func rejectsEmptyInputAsUnexpectedEnd(input: String) throws {
        let error = try #require(syntaxError(input))
        #expect(error.message.contains("end of input"))
        #expect(error.offset == input.utf8.count)
    }

    @Test(arguments: ["\u{0C}{}", "{}\u{0B}", "\u{A0}{}", "{\u{A0}}"])
    func acceptsOnlyTheFourJSONWhitespaceCharacters(input: String) {
        #expect(syntaxError(input) != nil)
    }

    @Test func allowsLeadingAndTrailingWhitespace() throws {
        let input = " \t\r\n {\"a\" : [ 1 , 2 ] } \n\n"
        let value = try JSONParser.parse(input)
        #expect(text(Array(input.utf8), value.range) == "{\"a\" : [ 1 , 2 ] }")
    }

    // MARK: Trailing garbage

    @Test(
        arguments: [
            ("{} x", 3), ("{}}", 2), ("[] []", 3), ("1 2", 2), ("nullx", 4), ("\"a\"\"b\"", 3), ("{}\u{0}", 2),
            ("true false", 5),
        ]
    )
    func rejectsTrailingGarbageAtItsOffset(input: String, offset: Int) throws {
        let error = try #require(syntaxError(input))
        #expect(error.offset == offset)
        #expect(error.message.contains("after the JSON value"))
    }

    // MARK: Truncated input

    @Test func everyProperPrefixOfARealBodyIsRefused() throws {
        let body = try DecoderFixture.bytes("minio/put-image.json")
        // The file ends with a newline; every prefix shorter than the object itself must fail.
        let end = try JSONParser.parse(body).range.upperBound
        #expect(end >= body.count - 1)
        for length in 0..<end {
            let error = syntaxError(Array(body[0..<length]))
            #expect(error != nil, "prefix of \(length) bytes parsed")
        }
    }

    @Test func truncatedFixtureReportsEndOfInput() throws {
        let body = try DecoderFixture.bytes("bad/truncated.json")
        let error = try #require(syntaxError(body))
        #expect(error.offset == body.count)
        #expect(error.message.contains("end of input"))
    }

    // MARK: Ranges

    @Test func rangesLocateEveryValueAndKey() throws {
        let input = #"{"a": [1, "x", {"b" : null}], "c":true , "d":-2.5e1}"#
        let bytes = Array(input.utf8)
        let root = try JSONParser.parse(bytes)
        #expect(root.range == 0..<bytes.count)
        let members = try #require(root.objectValue)
        #expect(members.map { text(bytes, $0.keyRange) } == [#""a""#, #""c""#, #""d""#])
        #expect(members.map { text(bytes, $0.value.range) } == [#"[1, "x", {"b" : null}]"#, "true", "-2.5e1"])
        let array = try #require(root["a"]?.arrayValue)
        #expect(array.map { text(bytes, $0.range) } == ["1", #""x""#, #"{"b" : null}"#])
        let inner = try #require(array[2].objectValue?.first)
        #expect(text(bytes, inner.keyRange) == #""b""#)
        #expect(text(bytes, inner.value.range) == "null")
    }

    @Test func stringRangesIncludeQuotesAndEscapesAsWritten() throws {
        let input = #"["a\nb", "\u00fc"]"#
        let bytes = Array(input.utf8)
        let array = try #require(try JSONParser.parse(bytes).arrayValue)
        #expect(text(bytes, array[0].range) == #""a\nb""#)
        #expect(text(bytes, array[1].range) == #""\u00fc""#)
    }

    // MARK: Byte order mark

    @Test func skipsALeadingBOMAndRangesIndexTheOriginalBuffer() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#" {"a":1}"#.utf8)
        let value = try JSONParser.parse(bytes)
        #expect(value.range == 4..<bytes.count)
        #expect(text(bytes, value["a"]?.range ?? 0..<0) == "1")
    }

    @Test(
        arguments: [
            [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, 0x7B, 0x7D],  // two BOMs
            [0x7B, 0x7D, 0xEF, 0xBB, 0xBF],  // BOM after the value
            [0x20, 0xEF, 0xBB, 0xBF, 0x7B, 0x7D],  // BOM after whitespace
            [0xEF, 0xBB, 0x7B, 0x7D],  // partial BOM
            [0xEF, 0xBB, 0xBF],  // BOM only
        ] as [[UInt8]]
    )
    func refusesMisplacedOrPartialBOMs(bytes: [UInt8]) {
        #expect(syntaxError(bytes) != nil)
    }

    // MARK: Depth limit

    @Test func acceptsNestingUpToTheLimit() throws {
        let depth = JSONParser.maximumDepth
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try JSONParser.parse(arrays) }
        let objects = String(repeating: #"{"a":"#, count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        #expect(throws: Never.self) { try JSONParser.parse(objects) }
    }

    @Test func refusesNestingBeyondTheLimit() throws {
        let depth = JSONParser.maximumDepth + 1
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let error = try #require(syntaxError(arrays))
        #expect(error.message.contains("nesting"))
        #expect(error.offset == JSONParser.maximumDepth)
        let objects = String(repeating: #"{"a":"#, count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        #expect(syntaxError(objects) != nil)
    }

    @Test func survivesHostileDepthWithoutCrashing() {
        #expect(syntaxError(String(repeating: "[", count: 200_000)) != nil)
        #expect(syntaxError(String(repeating: #"{"a":["#, count: 100_000)) != nil)
    }

    // MARK: Validation without a tree

    @Test(
        arguments: [
            "null", " true ", "0", "-1.5e+3", #""a\u00e9\ud83d\ude00""#, "[]", "{}", "[1,[2,[3]],{}]",
            #"{"a":{"b":[null,{"c":"d"}]},"e":[]}"#, " { \"a\" : [ 1 , 2 ] } ", "\u{FEFF}[1]",
            "", " ", "[", "]", "[1,]", "[1 2]", #"{"a":1,}"#, #"{"a" 1}"#, #"{1:2}"#, "{\"a\":}", "[tru]",
            "[01]", "[1.]", "[-]", #"["\x"]"#, "\"unterminated", "[1]x", "{}{}", #"{"a":[1}"#, "[{]",
            #"{"a":1"#, "[\"\u{01}\"]", "[\"\\ud800\"]", "{\"a\"", "{\"a\":1,\"b\"",
        ]
    )
    func validateAgreesWithParse(text: String) {
        let bytes = Array(text.utf8)
        let validated = bytes.withUnsafeBytes { JSONParser.validate($0) }
        #expect(validated == syntaxError(bytes))
    }

    @Test func validateAcceptsDeepValidJSONAndFindsTheErrorInDeepInvalidJSON() throws {
        let depth = 100_000
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let parsed = try #require(syntaxError(arrays))
        #expect(parsed.isNestingLimit)
        #expect(Array(arrays.utf8).withUnsafeBytes { JSONParser.validate($0) } == nil)
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(Array(objects.utf8).withUnsafeBytes { JSONParser.validate($0) } == nil)
        let unclosed = String(repeating: "[", count: depth)
        let problem = try #require(Array(unclosed.utf8).withUnsafeBytes { JSONParser.validate($0) })
        #expect(problem.offset == depth)
        #expect(!problem.isNestingLimit)
        #expect(syntaxError("[1,]")?.isNestingLimit == false)
    }

    // MARK: Error positions

    @Test func reportsLineAndColumnOfTheProblem() throws {
        let input = "{\n  \"a\": 1,\n  \"b\": tru\n}"
        let error = try #require(syntaxError(input))
        #expect(error.line == 3)
        #expect(error.column == 8)
        #expect(error.description.hasPrefix("line 3, column 8: "))
    }

    @Test func describesTheUnexpectedCharacter() throws {
        let error = try #require(syntaxError("[1;2]"))
        #expect(error.offset == 2)
        #expect(error.message.contains("';'"))
        #expect(error.line == 1 && error.column == 3)
    }

    // MARK: Entry points

    @Test func allEntryPointsAgree() throws {
        let input = #"{"k":["v",1,true,null]}"#
        let bytes = Array(input.utf8)
        let fromString = try JSONParser.parse(input)
        let fromBytes = try JSONParser.parse(bytes)
        let fromPointer = try bytes.withUnsafeBytes { raw throws(JSONSyntaxError) in try JSONParser.parse(raw) }
        #expect(fromString == fromBytes)
        #expect(fromBytes == fromPointer)
    }

    @Test(arguments: DecoderFixture.jsonFixtures)
    func parsesEveryJSONFixture(name: String) throws {
        let body = try DecoderFixture.bytes(name)
        let value = try JSONParser.parse(body)
        #expect(value.range.lowerBound == 0)
        #expect(body[value.range.upperBound...].allSatisfy { $0 == 0x0A || $0 == 0x20 })
    }

    // MARK: JSONWriter

    @Test(
        arguments: [
            ("plain", #""plain""#),
            ("q\"b\\", #""q\"b\\""#),
            ("a\nb\rc\td", #""a\nb\rc\td""#),
            ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
            ("\u{2028}x\u{2029}", #""\u2028x\u2029""#),
            ("€ ü 😀 /", "\"€ ü 😀 /\""),
            ("", #""""#),
        ]
    )
    func writerEscapesWhatJSONRequires(input: String, expected: String) {
        var out: [UInt8] = []
        JSONWriter.appendString(input, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test(
        arguments: [
            "", "a", "€", "€€\u{2028}", "\u{2027}\u{202A}", "ends with E2 char ₿", "\u{7F}\u{80}\u{FFFF}",
            "😀\u{10FFFF}", "\"\\\u{8}\u{C}", "uploads/summer trip/a+b ü.JPG",
        ]
    )
    func writerOutputParsesBackToTheSameString(input: String) throws {
        var out: [UInt8] = Array("[".utf8)
        JSONWriter.appendString(input, to: &out)
        out.append(UInt8(ascii: "]"))
        let value = try JSONParser.parse(out)
        #expect(value.arrayValue?.first?.stringValue == input)
    }

    @Test func writerAppendsToExistingBytes() {
        var out: [UInt8] = Array("x=".utf8)
        JSONWriter.appendString("y", to: &out)
        #expect(out == Array(#"x="y""#.utf8))
    }
}
