/// A small, strict RFC 8259 parser into `JSONValue`, keeping each value's byte range.
///
/// Hand-written because it is on the hot path of every request: Foundation's `JSONSerialization` costs about 3x and
/// a `Codable` tree about 10x more on a 1.5 KB MinIO event (docs/architecture.md, "Why a hand-written JSON parser").
public enum JSONParser {
    /// Appends the UTF-8 encoding of the scalar `value` (a decoded `\u` escape) to `out`.
    static func appendUTF8(_ value: UInt32, to out: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            out.append(UInt8(value))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (value >> 6)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (value >> 12)))
            out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (value >> 18)))
            out.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (value & 0x3F)))
        }
    }

    /// Maximum nesting of arrays and objects; deeper input is refused so hostile bodies cannot exhaust the stack.
    public static let maximumDepth = 512

    /// Parses one JSON text. Leading and trailing whitespace is allowed; a UTF-8 byte order mark is skipped.
    /// - Throws: `JSONSyntaxError` with the offset, line and column of the first problem.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses one JSON text held in `bytes`. See `parse(_:)` for the rules.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBytes { raw in
            var parser = Parser(bytes: raw)
            do throws(JSONSyntaxError) {
                return .success(try parser.parseDocument())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Checks that `bytes` hold one JSON text by the same rules as `parse(_:)`, without building a tree and with no
    /// limit on nesting (an explicit stack, not recursion, so depth costs one byte per level).
    ///
    /// Used where `parse(_:)` refused a text only for its depth (`JSONSyntaxError.isNestingLimit`): such a text is
    /// valid JSON, so the relay dead-letters it rather than refusing it.
    /// - Returns: `nil` when the text is valid, otherwise the first problem, at the offset `parse(_:)` reports it.
    public static func validate(_ bytes: UnsafeRawBufferPointer) -> JSONSyntaxError? {
        var parser = Parser(bytes: bytes)
        do throws(JSONSyntaxError) {
            try parser.validateDocument()
            return nil
        } catch {
            return error
        }
    }

    /// Parses the one value that spans exactly `bytes[range]`, as part of a text `bytes` in which it sits inside
    /// `depth` arrays and objects: ranges index `bytes`, and the nesting limit counts the enclosing levels as a
    /// parse of the whole text does. Nil when `bytes[range]` is not exactly one value or goes too deep.
    static func parseValue(_ bytes: [UInt8], range: Range<Int>, depth: Int) -> JSONValue? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, range.lowerBound < range.upperBound else {
            return nil
        }
        return bytes.withUnsafeBytes { raw -> JSONValue? in
            var parser = Parser(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<range.upperBound]))
            parser.index = range.lowerBound
            parser.depth = depth
            do throws(JSONSyntaxError) {
                let value = try parser.parseValue()
                return parser.index == range.upperBound ? value : nil
            } catch {
                return nil
            }
        }
    }

    /// Parses one JSON text held in `string` (its UTF-8 bytes).
    public static func parse(_ string: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(string.utf8))
    }
}

private struct Parser {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
        }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index != bytes.count {
            throw error("unexpected \(describe(bytes[index])) after the JSON value")
        }
        return value
    }

    /// The iterative twin of `parseDocument()`: the same checks in the same order (so the same first error), scalar
    /// values through the same functions, containers on an explicit stack (`true`: an object) instead of recursion.
    mutating func validateDocument() throws(JSONSyntaxError) {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
        }
        var containers: [Bool] = []
        skipWhitespace()
        while true {
            // A value is expected here.
            guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                    index += 1
                } else {
                    containers.append(true)
                    try validateMemberName()
                    continue
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                    index += 1
                } else {
                    containers.append(false)
                    skipWhitespace()
                    continue
                }
            default:
                _ = try parseValue()
            }
            // After a value: close containers, or move on to the next element.
            nextValue: while true {
                skipWhitespace()
                guard let isObject = containers.last else {
                    if index != bytes.count {
                        throw error("unexpected \(describe(bytes[index])) after the JSON value")
                    }
                    return
                }
                let container = isObject ? "object" : "array"
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                guard index < bytes.count else {
                    throw error(
                        "unexpected end of input in \(container), expected ',' or '\(Character(Unicode.Scalar(close)))'"
                    )
                }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                    skipWhitespace()
                    if isObject { try validateMemberName() }
                    break nextValue
                case close:
                    index += 1
                    containers.removeLast()
                default:
                    throw error(
                        "unexpected \(describe(bytes[index])) in \(container), expected ',' or '\(Character(Unicode.Scalar(close)))'"
                    )
                }
            }
        }
    }

    /// In an object, at a member's name: the name, `:` and the whitespace before the value.
    mutating func validateMemberName() throws(JSONSyntaxError) {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of input in object, expected a key") }
        guard bytes[index] == UInt8(ascii: "\"") else {
            throw error("unexpected \(describe(bytes[index])) in object, expected a string key")
        }
        _ = try parseString()
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of input in object, expected ':'") }
        guard bytes[index] == UInt8(ascii: ":") else {
            throw error("unexpected \(describe(bytes[index])) in object, expected ':'")
        }
        index += 1
        skipWhitespace()
    }

    func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let offset = min(offset ?? index, bytes.count)
        var line = 1
        var lineStart = 0
        var i = 0
        while i < offset {
            if bytes[i] == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return JSONSyntaxError(offset: offset, line: line, column: offset - lineStart + 1, message: message)
    }

    func nestingLimitError() -> JSONSyntaxError {
        var limit = error("nesting deeper than \(JSONParser.maximumDepth) levels")
        limit.isNestingLimit = true
        return limit
    }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F {
            return "character '\(Character(Unicode.Scalar(byte)))'"
        }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try parseObject()
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "\""):
            let s = try parseString()
            return JSONValue(kind: .string(s), range: start..<index)
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return JSONValue(kind: .bool(true), range: start..<index)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return JSONValue(kind: .bool(false), range: start..<index)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return JSONValue(kind: .null, range: start..<index)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw error("unexpected \(describe(bytes[index])), expected a value")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let start = index
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else {
            throw error("unexpected end of input in literal", at: start)
        }
        let base = literal.utf8Start
        for i in 0..<count where bytes[index + i] != base[i] {
            throw error("invalid literal, expected '\(literal)'", at: start)
        }
        index += count
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw error("unexpected end of input in number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if ASCII.isDigit(bytes[index]) {
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        } else {
            throw error("invalid number: expected a digit")
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count && ASCII.isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit after '.'")
            }
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard index < bytes.count && ASCII.isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit in the exponent")
            }
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return JSONValue(kind: .number(text), range: start..<index)
    }

    /// Parses a string literal starting at the opening quote; leaves `index` after the closing quote.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        let open = index
        index += 1
        let contentStart = index
        // Fast path: no escapes, plain bytes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[contentStart..<index])
                index += 1
                guard let s = String(validating: raw, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: open)
                }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("unescaped control character in string") }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string", at: open) }
        // Slow path: escapes present.
        var out: [UInt8] = []
        out.reserveCapacity(index - contentStart + 16)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[contentStart..<index]))
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: open)
                }
                return s
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error("unterminated string", at: open) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try parseUnicodeEscape()
                    JSONParser.appendUTF8(scalar.value, to: &out)
                default:
                    // Printable ASCII is shown as is, other bytes by value: the message holds no raw control byte.
                    let shown =
                        e >= 0x21 && e < 0x7F
                        ? "'\\\(Character(Unicode.Scalar(e)))'" : "'\\' followed by \(describe(e))"
                    throw error("invalid escape \(shown) in string", at: index - 2)
                }
            default:
                if b < 0x20 { throw error("unescaped control character in string") }
                out.append(b)
                index += 1
            }
        }
        throw error("unterminated string", at: open)
    }

    /// Parses the 4 hex digits after `\u` (and a following low surrogate escape when needed).
    mutating func parseUnicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let escapeStart = index - 2
        let high = try parseHex4()
        if high >= 0xD800 && high < 0xDC00 {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else {
                throw error("unpaired surrogate \\u\(String(high, radix: 16)) in string", at: escapeStart)
            }
            index += 2
            let low = try parseHex4()
            guard low >= 0xDC00 && low < 0xE000 else {
                throw error("invalid low surrogate \\u\(String(low, radix: 16)) in string", at: escapeStart)
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else {
                throw error("invalid unicode escape in string", at: escapeStart)
            }
            return scalar
        }
        if high >= 0xDC00 && high < 0xE000 {
            throw error("unpaired surrogate \\u\(String(high, radix: 16)) in string", at: escapeStart)
        }
        guard let scalar = Unicode.Scalar(high) else {
            throw error("invalid unicode escape in string", at: escapeStart)
        }
        return scalar
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("unexpected end of input in \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = ASCII.hexValue(bytes[index]) else { throw error("invalid hex digit in \\u escape") }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        depth += 1
        if depth > JSONParser.maximumDepth { throw nestingLimitError() }
        defer { depth -= 1 }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return JSONValue(kind: .array(elements), range: start..<index)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in array, expected ',' or ']'") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return JSONValue(kind: .array(elements), range: start..<index)
            default:
                throw error("unexpected \(describe(bytes[index])) in array, expected ',' or ']'")
            }
        }
    }

    mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        depth += 1
        if depth > JSONParser.maximumDepth { throw nestingLimitError() }
        defer { depth -= 1 }
        index += 1
        var members: [JSONMember] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return JSONValue(kind: .object(members), range: start..<index)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object, expected a key") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describe(bytes[index])) in object, expected a string key")
            }
            let keyStart = index
            let key = try parseString()
            let keyRange = keyStart..<index
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object, expected ':'") }
            guard bytes[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describe(bytes[index])) in object, expected ':'")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONMember(key: key, keyRange: keyRange, value: value))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object, expected ',' or '}'") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return JSONValue(kind: .object(members), range: start..<index)
            default:
                throw error("unexpected \(describe(bytes[index])) in object, expected ',' or '}'")
            }
        }
    }
}
