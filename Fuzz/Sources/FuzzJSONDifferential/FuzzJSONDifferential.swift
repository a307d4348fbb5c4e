import Foundation
import FuzzSupport
import RelayCore

/// `JSONParser` against Foundation's `JSONSerialization` on valid UTF-8: both must accept or both refuse, and when
/// both accept, strings, literals, integers below 2^53 and container sizes must agree. Every accepted tree also has
/// its byte ranges checked, and every string in it must survive a `JSONWriter` round trip; `JSONParser.validate`
/// (the tree-less check used past the depth limit) must give the parser's answer, the same error included.
///
/// Excluded, because the two legitimately differ (see Fuzz/README.md):
/// - nesting deeper than 500: `JSONParser` refuses more than 512 levels by design; Foundation's limit differs;
/// - a NUL byte anywhere: never valid JSON, but Foundation reads a text with NULs among its first bytes as UTF-16 or
///   UTF-32 (encoding detection), so it may accept it;
/// - numbers Foundation refuses as out of range (`1e400`): `JSONParser` keeps a number's text and does not convert;
/// - trailing commas (`[1,]`, `{"a":1,}`): Foundation accepts them, RFC 8259 and `JSONParser` do not;
/// - a raw U+FEFF at the start of a string or right after an escape sequence: Foundation drops it (it decodes each
///   run of unescaped text on its own, as if the U+FEFF were a byte order mark), `JSONParser` keeps it, as RFC 8259
///   says; so strings are compared without U+FEFF when that is all they differ in.
/// Duplicate object keys are accepted by both (`JSONParser` keeps all, Foundation the last), so values of objects
/// with duplicate keys are not compared.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONDifferential(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let ours: Result<JSONValue, JSONSyntaxError>
    do throws(JSONSyntaxError) {
        ours = .success(try JSONParser.parse(raw))
    } catch {
        ours = .failure(error)
    }
    let bytes = Array(raw)
    // The tree-less validator (used past the depth limit) must agree with the parser wherever the parser decides.
    let validated = JSONParser.validate(raw)
    switch ours {
    case .success:
        FuzzCheck.require(
            validated == nil,
            "JSONParser accepts, JSONParser.validate refuses: \(String(describing: validated))"
        )
    case .failure(let error) where !error.isNestingLimit:
        FuzzCheck.require(
            validated == error,
            "JSONParser refuses (\(error)), validate says \(String(describing: validated))"
        )
    case .failure:
        break
    }
    switch ours {
    case .success(let value):
        FuzzCheck.checkRanges(value, in: bytes, bounds: 0..<bytes.count)
        FuzzCheck.forEachString(in: value, FuzzCheck.checkWriterRoundTrip)
    case .failure(let error):
        FuzzCheck.require(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside input")
    }

    guard String(validating: bytes, as: UTF8.self) != nil, !bytes.contains(0), nestingDepth(bytes) <= 500 else {
        return 0
    }
    let theirs: Any?
    var theirError: (any Error)?
    do {
        theirs = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    } catch {
        theirs = nil
        theirError = error
    }
    switch (ours, theirs) {
    case (.success(let value), let object?):
        compare(value, object, path: "$")
    case (.failure, nil):
        break
    case (.success, nil):
        if let theirError, isNumberRangeRefusal(theirError) { return 0 }
        FuzzCheck.require(false, "JSONParser accepts, Foundation refuses: \(String(describing: theirError))")
    case (.failure(let error), _?):
        if FuzzCheck.parse(withoutTrailingCommas(bytes)) != nil { return 0 }
        FuzzCheck.require(false, "JSONParser refuses (\(error)), Foundation accepts")
    }
    return 0
}

/// The deepest nesting of arrays and objects, counted outside strings (an upper bound for malformed text).
private func nestingDepth(_ bytes: [UInt8]) -> Int {
    var depth = 0
    var deepest = 0
    var inString = false
    var escaped = false
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            deepest = max(deepest, depth)
        case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
        default: break
        }
    }
    return deepest
}

/// `bytes` without the commas (outside strings) that are followed by blanks and a closing bracket or brace.
private func withoutTrailingCommas(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var inString = false
    var escaped = false
    for (index, byte) in bytes.enumerated() {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
        } else if byte == UInt8(ascii: "\"") {
            inString = true
        } else if byte == UInt8(ascii: ",") {
            let next = bytes[(index + 1)...].first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            if next == UInt8(ascii: "]") || next == UInt8(ascii: "}") { continue }
        }
        out.append(byte)
    }
    return out
}

/// Foundation refuses numbers that do not fit a `Double` or an integer type; `JSONParser` keeps the text.
private func isNumberRangeRefusal(_ error: any Error) -> Bool {
    let text = String(describing: error)
    return text.contains("is not representable") || text.contains("Number") && text.contains("representable")
}

private func compare(_ value: JSONValue, _ object: Any, path: String) {
    switch value.kind {
    case .null:
        FuzzCheck.require(object is NSNull, "\(path): null vs \(type(of: object))")
    case .bool(let flag):
        FuzzCheck.require((object as? NSNumber)?.boolValue == flag, "\(path): \(flag) vs \(object)")
    case .number(let text):
        guard let number = object as? NSNumber else {
            FuzzCheck.require(false, "\(path): number \(text) vs \(type(of: object))")
            return
        }
        // `JSONParser` keeps a number's text; only its grammar is under test. Integers that a Double holds exactly
        // must agree; beyond that Foundation's own conversions (through Decimal for long mantissas) round
        // differently from Swift's, which is not RelayCore's concern.
        FuzzCheck.require(Double(text) != nil, "\(path): number text \(text) is not a Swift number")
        if let integer = Int64(text), abs(integer) < 1 << 53 {
            FuzzCheck.require(number.doubleValue == Double(integer), "\(path): \(text) vs \(number)")
        }
    case .string(let string):
        guard let theirs = object as? String else {
            FuzzCheck.require(false, "\(path): string vs \(type(of: object))")
            return
        }
        compareStrings(string, theirs, path: path)
    case .array(let elements):
        guard let theirs = object as? [Any] else {
            FuzzCheck.require(false, "\(path): array vs \(type(of: object))")
            return
        }
        FuzzCheck.require(elements.count == theirs.count, "\(path): \(elements.count) vs \(theirs.count) elements")
        for (index, (element, other)) in zip(elements, theirs).enumerated() {
            compare(element, other, path: "\(path)[\(index)]")
        }
    case .object(let members):
        guard let theirs = object as? [String: Any] else {
            FuzzCheck.require(false, "\(path): object vs \(type(of: object))")
            return
        }
        let keys = members.map(\.key)
        // Duplicate keys (also canonically equivalent ones, or ones Foundation makes equal by dropping U+FEFF):
        // Foundation keeps one value only.
        let distinct = Set(keys.map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0 != "\u{FEFF}" })) })
        guard distinct.count == keys.count else { return }
        FuzzCheck.require(keys.count == theirs.count, "\(path): \(keys.count) vs \(theirs.count) members")
        for member in members {
            guard let other = theirs[member.key] ?? theirs.first(where: { sameWithoutBOMs($0.key, member.key) })?.value
            else {
                FuzzCheck.require(false, "\(path): key \(Array(member.key.unicodeScalars)) missing in Foundation")
                return
            }
            compare(member.value, other, path: "\(path).\(member.key)")
        }
    }
}

private func sameWithoutBOMs(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.filter { $0 != "\u{FEFF}" } == b.unicodeScalars.filter { $0 != "\u{FEFF}" }
}

/// Strings compared scalar by scalar; when they differ, they must differ in U+FEFF only (Foundation drops some).
private func compareStrings(_ ours: String, _ theirs: String, path: String) {
    let scalars = Array(ours.unicodeScalars)
    let other = Array(theirs.unicodeScalars)
    if scalars == other { return }
    FuzzCheck.require(
        scalars.filter { $0 != "\u{FEFF}" } == other.filter { $0 != "\u{FEFF}" },
        "\(path): string \(scalars) vs \(other)"
    )
}
