/// Byte-level checks on ASCII text that HTTP, JSON and rule files share: token characters, control characters,
/// digits, and comparison that folds ASCII letters only.
///
/// Written once for every module: header names are checked the same way when a rule file is loaded
/// (`RuleSetCompiler`) and when a request is built, and a header looked up by name matches the same fields
/// everywhere. None of these allocate.
public enum ASCII {
    /// Whether `text` is an RFC 9110 token (section 5.6.2): one or more of the letters, digits and
    /// ``!#$%&'*+-.^_`|~``. Header names, HTTP methods and the parts of a media type are tokens.
    @inlinable
    public static func isToken(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// Whether `byte` is an RFC 9110 token character (a letter, a digit, or one of ``!#$%&'*+-.^_`|~``).
    @inlinable
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// Whether `byte` is a control character: C0 (0x00-0x1F, so CR, LF, NUL and HTAB too) or DEL (0x7F).
    @inlinable
    public static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F
    }

    /// Whether `text` holds a control character (see `isControl(_:)`) anywhere.
    @inlinable
    public static func containsControl(_ text: some StringProtocol) -> Bool {
        text.utf8.contains(where: isControl)
    }

    /// Whether `byte` is `0`...`9`.
    @inlinable
    public static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The value of a hexadecimal digit (`0`...`9`, `a`...`f`, `A`...`F`): 0...15; nil for any other byte.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `byte` with `A`...`Z` lowered to `a`...`z`; every other byte unchanged.
    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 0x20 : byte
    }

    /// Whether `a` and `b` hold the same bytes once ASCII letters are folded (`Content-Type` equals `content-type`);
    /// other bytes, non-ASCII letters included, must be equal as they are. This is how HTTP compares field names.
    @inlinable
    public static func equalsIgnoringCase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let left = a.utf8
        let right = b.utf8
        guard left.count == right.count else { return false }
        for (x, y) in zip(left, right) where x != y && lowercased(x) != lowercased(y) {
            return false
        }
        return true
    }
}
