import RelayCore
import Testing

/// The shared text helpers other modules use (public API of RelayCore).
@Suite struct TextHelperTests {
    @Test(
        arguments: [
            ("Content-Type", true), ("x-amz-meta-kind", true), ("!#$%&'*+-.^_`|~09azAZ", true), ("", false),
            ("Bad Name", false), ("X-A\n", false), ("X\u{0}", false), ("a:b", false), ("é", false), ("a/b", false),
        ]
    )
    func tellsRFC9110Tokens(_ text: String, _ isToken: Bool) {
        #expect(ASCII.isToken(text) == isToken)
        #expect(ASCII.isToken(Substring(text)) == isToken)
    }

    @Test func comparesFoldingASCIILettersOnly() {
        #expect(ASCII.equalsIgnoringCase("Content-Type", "content-TYPE"))
        #expect(!ASCII.equalsIgnoringCase("Content-Type", "Content-Typ"))
        // '[' and '{' differ by 0x20 but are not letters.
        #expect(!ASCII.equalsIgnoringCase("a[", "a{"))
        #expect(!ASCII.equalsIgnoringCase("Ä", "ä"))
        #expect(ASCII.equalsIgnoringCase("", ""))
    }

    @Test func classifiesBytes() {
        #expect((0...0x1F).allSatisfy { ASCII.isControl(UInt8($0)) } && ASCII.isControl(0x7F))
        #expect(!ASCII.isControl(0x20) && !ASCII.isControl(0x7E) && !ASCII.isControl(0x80))
        #expect(ASCII.containsControl("a\tb") && !ASCII.containsControl("a b é"))
        #expect(ASCII.hexValue(UInt8(ascii: "f")) == 15 && ASCII.hexValue(UInt8(ascii: "A")) == 10)
        #expect(ASCII.hexValue(UInt8(ascii: "g")) == nil && ASCII.hexValue(UInt8(ascii: "9")) == 9)
        #expect(ASCII.isDigit(UInt8(ascii: "0")) && !ASCII.isDigit(UInt8(ascii: "a")))
        #expect(ASCII.lowercased(UInt8(ascii: "Q")) == UInt8(ascii: "q") && ASCII.lowercased(0x5B) == 0x5B)
    }

    @Test func quotesValuesForOneLineMessages() {
        #expect("a\"b\\c\n\r\t\u{1B}[31m\u{7F}é".quotedForMessage == #""a\"b\\c\n\r\t\u{1b}[31m\u{7f}é""#)
        #expect("key\nforged".escapedForMessage == #"key\nforged"#)
        #expect(!"x\u{0}\u{85}y".quotedForMessage.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
    }
}
