import RelayCore

/// Invariant checks for the fuzz targets: a violated invariant traps with a message saying what broke (`fatalError`
/// prints it in release builds too), which libFuzzer reports as a crash, saving the input as `crash-<sha1>`.
public enum FuzzCheck {
    /// Traps with `message` when `condition` is false.
    public static func require(
        _ condition: @autoclosure () -> Bool,
        _ message: @autoclosure () -> String,
        file: StaticString = #fileID,
        line: UInt = #line
    ) {
        if condition() { return }
        fatalError("fuzz invariant violated: \(message())", file: file, line: line)
    }

    /// Whether two strings hold the same UTF-8 bytes (stricter than `==`, which compares canonical equivalence).
    public static func sameBytes(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// The value parsed from `bytes`, or nil when `bytes` is not JSON.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        do throws(JSONSyntaxError) {
            return try JSONParser.parse(bytes)
        } catch {
            return nil
        }
    }

    /// The syntax error `JSONParser` reports for `bytes`, or nil when it parses.
    public static func syntaxError(_ bytes: [UInt8]) -> JSONSyntaxError? {
        do throws(JSONSyntaxError) {
            _ = try JSONParser.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Checks the byte ranges of a parsed tree: each value's range lies inside its parent's (and `bounds`), members
    /// and elements come in order without overlapping, scalars' text is what their range holds, and a string value
    /// that holds no escape equals its raw text.
    public static func checkRanges(_ value: JSONValue, in bytes: [UInt8], bounds: Range<Int>) {
        let range = value.range
        require(
            range.lowerBound >= bounds.lowerBound && range.upperBound <= bounds.upperBound && !range.isEmpty,
            "value range \(range) outside \(bounds)"
        )
        let text = bytes[range]
        switch value.kind {
        case .null:
            require(text.elementsEqual("null".utf8), "null range holds \(Array(text))")
        case .bool(let flag):
            require(text.elementsEqual((flag ? "true" : "false").utf8), "bool range holds \(Array(text))")
        case .number(let number):
            require(text.elementsEqual(number.utf8), "number text \(number) differs from its range")
        case .string(let string):
            require(text.first == 0x22 && text.last == 0x22 && text.count >= 2, "string range not quoted")
            let inner = bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
            if !inner.contains(0x5C) {
                require(inner.elementsEqual(string.utf8), "unescaped string differs from its raw text")
            }
        case .array(let elements):
            require(text.first == UInt8(ascii: "[") && text.last == UInt8(ascii: "]"), "array range not bracketed")
            var previousEnd = range.lowerBound + 1
            for element in elements {
                require(element.range.lowerBound >= previousEnd, "array elements overlap or are out of order")
                checkRanges(element, in: bytes, bounds: (range.lowerBound + 1)..<(range.upperBound - 1))
                previousEnd = element.range.upperBound
            }
        case .object(let members):
            require(text.first == UInt8(ascii: "{") && text.last == UInt8(ascii: "}"), "object range not braced")
            var previousEnd = range.lowerBound + 1
            for member in members {
                let key = member.keyRange
                require(key.lowerBound >= previousEnd, "object members overlap or are out of order")
                require(key.upperBound <= member.value.range.lowerBound, "key range runs into its value")
                checkRanges(
                    JSONValue(kind: .string(member.key), range: key),
                    in: bytes,
                    bounds: (range.lowerBound + 1)..<(range.upperBound - 1)
                )
                checkRanges(member.value, in: bytes, bounds: (range.lowerBound + 1)..<(range.upperBound - 1))
                previousEnd = member.value.range.upperBound
            }
        }
    }

    /// Checks that `JSONWriter.appendString` gives a literal that parses back to exactly `string`'s bytes.
    public static func checkWriterRoundTrip(_ string: String) {
        var out: [UInt8] = []
        JSONWriter.appendString(string, to: &out)
        guard let value = parse(out), case .string(let back) = value.kind else {
            require(false, "JSONWriter output for \(Array(string.utf8)) does not parse as a string: \(out)")
            return
        }
        require(sameBytes(back, string), "JSONWriter round trip changed \(Array(string.utf8)) into \(Array(back.utf8))")
        require(!out.contains(where: { $0 < 0x20 }), "JSONWriter left a raw control character in \(out)")
    }

    /// Every string in `value` (keys included), depth first.
    public static func forEachString(in value: JSONValue, _ body: (String) -> Void) {
        switch value.kind {
        case .string(let string):
            body(string)
        case .array(let elements):
            for element in elements { forEachString(in: element, body) }
        case .object(let members):
            for member in members {
                body(member.key)
                forEachString(in: member.value, body)
            }
        case .null, .bool, .number:
            break
        }
    }
}
