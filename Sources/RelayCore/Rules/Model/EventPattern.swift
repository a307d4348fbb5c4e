/// A rule's `pattern`: an event pattern in EventBridge's syntax, matched against the record's own JSON (docs/rules.md,
/// "Patterns").
///
/// One `EventPattern` is one JSON object of the pattern: its fields are ANDed, each field is either a list of values
/// (ORed) for a leaf of the record or a nested pattern for an object of the record, and each `$or` list holds
/// alternatives of which at least one must hold. Field names are relative to the object the pattern stands for, so a
/// `$or` inside `"s3": {...}` names fields of `s3`. Build one with `RuleSetCompiler`, which validates it.
public struct EventPattern: Sendable, Equatable {
    /// One field of a pattern object.
    public struct Field: Sendable, Equatable {
        /// What the field's value in the pattern is.
        public enum Condition: Sendable, Equatable {
            /// A list of values and operators, ORed; never empty.
            case values([PatternValue])
            /// A nested pattern object: the record's field must be an object (or an array of them) that it matches.
            case object(EventPattern)
        }

        /// The member name in the record, e.g. `userIdentity`.
        public var name: String
        public var condition: Condition

        public init(name: String, condition: Condition) {
            self.name = name
            self.condition = condition
        }
    }

    /// Fields ANDed, in file order.
    public var fields: [Field]
    /// Each element is one `$or`: its alternatives are ORed, at least two. Every `$or` must hold.
    public var alternatives: [[EventPattern]]

    public init(fields: [Field] = [], alternatives: [[EventPattern]] = []) {
        self.fields = fields
        self.alternatives = alternatives
    }
}

/// One value of a pattern list: an exact value or an operator object.
public enum PatternValue: Sendable, Equatable {
    /// A string, compared byte for byte (an IP address also matches the same address spelled otherwise).
    case string(String)
    /// A JSON number: matches a number of the same value (`5` matches `5.0` and `5e0`), or of the same text.
    case number(PatternNumber)
    case bool(Bool)
    case null
    /// `{"prefix": "x"}`, or `{"prefix": {"equals-ignore-case": "x"}}` when `ignoringCase`.
    case prefix(String, ignoringCase: Bool)
    /// `{"suffix": "x"}`, or `{"suffix": {"equals-ignore-case": "x"}}` when `ignoringCase`.
    case suffix(String, ignoringCase: Bool)
    /// `{"equals-ignore-case": "x"}`.
    case equalsIgnoringCase(String)
    /// `{"wildcard": "a*b"}`.
    case wildcard(WildcardPattern)
    /// `{"anything-but": ...}`.
    case anythingBut(AnythingBut)
    /// `{"numeric": [...]}`.
    case numeric(NumericRange)
    /// `{"exists": true}` or `{"exists": false}`.
    case exists(Bool)
    /// `{"cidr": "10.0.0.0/8"}`.
    case cidr(CIDRBlock)

    /// What a leaf of the record must not be, for `anything-but`.
    public enum AnythingBut: Sendable, Equatable {
        /// None of these strings (non-string values pass).
        case strings([String])
        /// None of these numbers, by value (non-number values pass).
        case numbers([PatternNumber])
        /// A string starting with none of these (non-string values pass).
        case prefixes([String])
        /// A string ending with none of these (non-string values pass).
        case suffixes([String])
        /// A string equal to none of these, ignoring case (non-string values pass).
        case equalsIgnoringCase([String])
        /// A string matching none of these wildcards (non-string values pass).
        case wildcards([WildcardPattern])
    }
}

/// A JSON number of a pattern or a record, with its value when it compares exactly.
public struct PatternNumber: Sendable, Equatable {
    /// The number as written, e.g. `5e0`.
    public var text: String
    /// The value as a 64-bit float; nil when the text is not exactly one (too many digits, or out of range): such a
    /// number matches only the same text, as in EventBridge.
    public var value: Double?

    public init(text: String) {
        self.text = text
        self.value = PatternNumber.exactValue(of: text)
    }

    /// The value of a JSON number text when a `Double` holds it exactly (the text has no more digits than the
    /// double's shortest spelling): `5`, `5.0`, `5e0`, `-0`, `0.1`, `1e300`; nil for `9007199254740993`, `1e400`.
    static func exactValue(of text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        guard let written = Decimal(text), let shortest = Decimal(value.description) else { return nil }
        return written == shortest ? value : nil
    }

    /// A decimal number as its significant digits and the power of ten of the last one; zero is `[]` whatever its
    /// sign or exponent.
    private struct Decimal: Equatable {
        var negative: Bool
        var digits: [UInt8]
        var exponent: Int

        init?(_ text: String) {
            var bytes = Array(text.utf8)
            negative = false
            if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                negative = first == UInt8(ascii: "-")
                bytes.removeFirst()
            }
            var exponent = 0
            if let e = bytes.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                guard let power = Int(String(decoding: bytes[(e + 1)...], as: UTF8.self)), abs(power) < 100_000 else {
                    return nil
                }
                exponent = power
                bytes.removeSubrange(e...)
            }
            var digits: [UInt8] = []
            var seenDot = false
            for byte in bytes {
                if byte == UInt8(ascii: ".") {
                    guard !seenDot else { return nil }
                    seenDot = true
                } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    digits.append(byte)
                    if seenDot { exponent -= 1 }
                } else {
                    return nil
                }
            }
            while let first = digits.first, first == UInt8(ascii: "0") { digits.removeFirst() }
            while let last = digits.last, last == UInt8(ascii: "0") {
                digits.removeLast()
                exponent += 1
            }
            if digits.isEmpty {
                negative = false
                exponent = 0
            }
            self.digits = digits
            self.exponent = exponent
        }
    }
}

/// `{"numeric": [...]}`: bounds on a number's value. At least one bound; `["=", x]` is both bounds inclusive.
public struct NumericRange: Sendable, Equatable {
    public struct Bound: Sendable, Equatable {
        public var value: Double
        /// The operand as written, for messages.
        public var text: String
        public var inclusive: Bool

        public init(value: Double, text: String, inclusive: Bool) {
            self.value = value
            self.text = text
            self.inclusive = inclusive
        }
    }

    public var lower: Bound?
    public var upper: Bound?

    public init(lower: Bound?, upper: Bound?) {
        self.lower = lower
        self.upper = upper
    }

    func contains(_ value: Double) -> Bool {
        if let lower {
            if lower.inclusive ? value < lower.value : value <= lower.value { return false }
        }
        if let upper {
            if upper.inclusive ? value > upper.value : value >= upper.value { return false }
        }
        return true
    }
}

/// `{"wildcard": "..."}`: `*` stands for any run of characters, empty included; `\*` is a literal `*` and `\\` a
/// literal backslash.
public struct WildcardPattern: Sendable, Equatable {
    /// The pattern as written.
    public var text: String
    /// The literal runs between the stars, unescaped; `segments.count` is the number of stars plus one.
    var segments: [[UInt8]]

    /// Whether `value` matches: the first run starts it, the last ends it, the others appear in order between them.
    /// Greedy leftmost search, at most O(length of value × length of pattern).
    func matches(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { matches(bytes: $0) }
    }

    func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = segments.first, let last = segments.last else { return false }
        if segments.count == 1 { return bytes.elementsEqual(first) }
        guard bytes.count >= first.count + last.count, bytes.starts(with: first),
            bytes[(bytes.count - last.count)...].elementsEqual(last)
        else { return false }
        var index = first.count
        let end = bytes.count - last.count
        for segment in segments.dropFirst().dropLast() {
            guard let found = Self.find(segment, in: bytes, from: index, before: end) else { return false }
            index = found + segment.count
        }
        return true
    }

    private static func find(
        _ needle: [UInt8],
        in bytes: UnsafeBufferPointer<UInt8>,
        from start: Int,
        before end: Int
    ) -> Int? {
        if needle.isEmpty { return start }
        var index = start
        while index + needle.count <= end {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

/// `{"cidr": "..."}`: an IPv4 or IPv6 network.
public struct CIDRBlock: Sendable, Equatable {
    /// The block as written.
    public var text: String
    /// 4 bytes (IPv4) or 16 (IPv6).
    var address: [UInt8]
    /// Leading bits that must equal `address`'s: 0...32 or 0...128.
    var prefixLength: Int

    /// Whether `other` (4 or 16 bytes) is in the block; an IPv4 address is never in an IPv6 block, nor the reverse.
    func contains(_ other: [UInt8]) -> Bool {
        guard other.count == address.count else { return false }
        var bits = prefixLength
        var index = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if other[index] & mask != address[index] & mask { return false }
            bits -= 8
            index += 1
        }
        return true
    }
}

/// IP address literals: dotted IPv4 (`10.0.0.1`) and IPv6 (`2001:db8::1`, `::ffff:10.0.0.1`).
enum IPAddress {
    /// The address's bytes (4 or 16), or nil when `text` is not an address literal.
    static func parse(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        if bytes.contains(UInt8(ascii: ":")) { return parseIPv6(bytes[...]) }
        return parseIPv4(bytes[...])
    }

    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            // A leading zero could be read as octal elsewhere: refused rather than guessed.
            if part.count > 1, part.first == UInt8(ascii: "0") { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let text = Array(bytes)
        var head: [UInt16]
        var tail: [UInt16] = []
        let compressed: Bool
        if let gap = Self.doubleColon(in: text) {
            compressed = true
            let after = Array(text[(gap + 2)...])
            if Self.doubleColon(in: after) != nil { return nil }
            guard let left = Self.groups(text[..<gap]), let right = Self.groups(after[...], allowIPv4: true) else {
                return nil
            }
            head = left
            tail = right
        } else {
            compressed = false
            guard !text.isEmpty, let all = Self.groups(text[...], allowIPv4: true) else { return nil }
            head = all
        }
        let total = head.count + tail.count
        guard compressed ? total <= 7 : total == 8 else { return nil }
        head += [UInt16](repeating: 0, count: 8 - total) + tail
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for word in head {
            out.append(UInt8(word >> 8))
            out.append(UInt8(word & 0xFF))
        }
        return out
    }

    private static func doubleColon(in text: [UInt8]) -> Int? {
        guard text.count >= 2 else { return nil }
        for index in 0..<(text.count - 1) where text[index] == UInt8(ascii: ":") && text[index + 1] == UInt8(ascii: ":")
        {
            return index
        }
        return nil
    }

    /// Colon-separated hex groups as 16-bit words; the last may be a dotted IPv4 address (two words) when
    /// `allowIPv4`. Nil when a group is malformed.
    private static func groups(_ text: ArraySlice<UInt8>, allowIPv4: Bool = false) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var values: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowIPv4, part.contains(UInt8(ascii: ".")) {
                guard let address = parseIPv4(part) else { return nil }
                values.append(UInt16(address[0]) << 8 | UInt16(address[1]))
                values.append(UInt16(address[2]) << 8 | UInt16(address[3]))
                continue
            }
            guard !part.isEmpty, part.count <= 4 else { return nil }
            var value: UInt16 = 0
            for byte in part {
                guard let digit = ASCII.hexValue(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            values.append(value)
        }
        return values
    }
}
