extension String {
    /// The string in double quotes with `"`, `\` and control characters escaped, for diagnostics and messages:
    /// LF, CR and HTAB become `\n`, `\r`, `\t`, other control characters and DEL `\u{XX}` (ESC is `\u{1b}`). The
    /// result holds no control character, so a value from a request or a file cannot break or forge a line.
    public var quotedForMessage: String {
        "\"" + escaped(quotes: true) + "\""
    }

    /// The string with `\` and control characters escaped as in `quotedForMessage`, without quotes: for field paths
    /// that hold keys taken from a file or a request, so that a diagnostic or a log line stays one line.
    public var escapedForMessage: String {
        escaped(quotes: false)
    }

    private func escaped(quotes: Bool) -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"" where quotes: out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
