/// Text from a request made safe for a log line: control characters (newlines, NUL, escape, the C1 controls such as
/// U+009B, the Unicode line separators and the bidirectional overrides) are written as `\u{..}`, so that an object
/// key, an event name or any other value a sender chose cannot forge or break log lines, or drive a terminal.
///
/// The text log format applies it to the message and to every metadata key and value it prints, so call sites need
/// not; the JSON format escapes through JSON's own string escaping.
public enum LogText {
    /// `text` with every unsafe scalar written as `\u{hex}`; `text` itself when it has none.
    public static func escaped(_ text: String) -> String {
        // The common case, printable ASCII, is decided on the bytes without decoding scalars.
        var ascii = true
        for byte in text.utf8 where byte < 0x20 || byte >= 0x7F {
            ascii = false
            break
        }
        if ascii { return text }
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
