/// Removes credentials from a URL before it is written to a file, a log or a page (docs/security.md).
///
/// The user information (`user:password@`) becomes `REDACTED@`, and every query value becomes `REDACTED`
/// (`?token=abc&x` → `?token=REDACTED&REDACTED`); a fragment is dropped. The live URL stays in the rules only.
public enum RedactedURL {
    /// The URL with its user information and query values redacted. Text that is not a URL is returned with the same
    /// treatment applied as far as it goes (everything between `//` and the last `@` before the path is redacted).
    public static func redact(_ url: String) -> String {
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var rest = text
        if let schemeEnd = Self.endOfScheme(rest) {
            result += rest[..<schemeEnd]
            rest = rest[schemeEnd...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                result += "REDACTED@"
                result += authority[authority.index(after: at)...]
            } else {
                result += authority
            }
            rest = rest[authorityEnd...]
        }
        guard let question = rest.firstIndex(of: "?") else {
            result += rest
            return result
        }
        result += rest[...question]
        let query = rest[rest.index(after: question)...]
        var first = true
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            if !first { result += "&" }
            first = false
            if let equals = pair.firstIndex(of: "=") {
                result += pair[..<equals]
                result += "=REDACTED"
            } else if !pair.isEmpty {
                // A bare query word may itself be a token.
                result += "REDACTED"
            }
        }
        return result
    }

    /// The index just past `://` when `text` starts with a scheme (letters, digits, `+`, `-`, `.`) and `://`.
    private static func endOfScheme(_ text: Substring) -> Substring.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == ":" { break }
            guard character.isASCII, character.isLetter || character.isNumber || "+-.".contains(character) else {
                return nil
            }
            index = text.index(after: index)
        }
        guard index > text.startIndex, text[index...].hasPrefix("://") else { return nil }
        return text.index(index, offsetBy: 3)
    }
}
