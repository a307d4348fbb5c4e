/// A validated `contentType` value, compared with a record's content type without allocating.
///
/// Case-insensitive (ASCII); the record's parameters (`; charset=utf-8`) and surrounding blanks are ignored.
struct ContentTypePattern: Sendable, Equatable {
    /// Lower-cased type, or `*` for any.
    var type: [UInt8]
    /// Lower-cased subtype, or nil for `*`.
    var subtype: [UInt8]?
    /// Whether `type` is `*` (decided once, not per record).
    var anyType: Bool

    /// `text` is a normalised rule value: lower-cased `type/subtype`, `type/*` or `*/*`.
    init(_ text: String) {
        let bytes = Array(text.utf8)
        let slash = bytes.firstIndex(of: UInt8(ascii: "/")) ?? bytes.count
        type = Array(bytes[..<slash])
        let rest = slash < bytes.count ? Array(bytes[(slash + 1)...]) : []
        subtype = rest == [UInt8(ascii: "*")] ? nil : rest
        anyType = type == [UInt8(ascii: "*")]
    }

    func matches(_ contentType: String) -> Bool {
        var contentType = contentType
        return contentType.withUTF8 { matches(utf8: $0) }
    }

    func matches(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let (typeRange, subtypeRange) = Self.split(bytes) else { return false }
        if !anyType, !Self.equalsLowercased(bytes, typeRange, type) { return false }
        if let subtype, !Self.equalsLowercased(bytes, subtypeRange, subtype) { return false }
        return true
    }

    /// The media type of a record's content type, lower-cased and without parameters (`text/plain`); nil when it is
    /// not `type/subtype`.
    static func mediaType(of contentType: String) -> String? {
        var contentType = contentType
        return contentType.withUTF8 { bytes in
            guard let (typeRange, subtypeRange) = split(bytes) else { return nil }
            let text = String(decoding: bytes[typeRange.lowerBound..<subtypeRange.upperBound], as: UTF8.self)
            return text.lowercased()
        }
    }

    /// The ranges of type and subtype in `bytes`, blanks and parameters excluded; nil when either is empty.
    private static func split(_ bytes: UnsafeBufferPointer<UInt8>) -> (Range<Int>, Range<Int>)? {
        var start = 0
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        guard let slash = bytes[start..<end].firstIndex(of: UInt8(ascii: "/")) else { return nil }
        guard slash > start, slash + 1 < end else { return nil }
        return (start..<slash, (slash + 1)..<end)
    }

    private static func equalsLowercased(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ range: Range<Int>,
        _ lowercased: [UInt8]
    ) -> Bool {
        guard range.count == lowercased.count else { return false }
        var index = range.lowerBound
        for expected in lowercased {
            if ASCII.lowercased(bytes[index]) != expected { return false }
            index += 1
        }
        return true
    }
}
