/// A parsed JSON value with the byte range it occupies in the input.
///
/// `range` indexes the buffer that was parsed, so `input[value.range]` is the value's exact text: a record can be
/// forwarded byte for byte without a decode/encode round trip.
public struct JSONValue: Sendable, Equatable {
    /// The kind of value and its contents.
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        /// The raw number text as it appears in the input, e.g. `48213` or `-1.5e3`.
        case number(String)
        /// The unescaped string.
        case string(String)
        case array([JSONValue])
        /// Members in document order; duplicate keys are kept as they appear.
        case object([JSONMember])
    }

    public var kind: Kind
    /// Byte offsets into the parsed buffer.
    public var range: Range<Int>

    public init(kind: Kind, range: Range<Int>) {
        self.kind = kind
        self.range = range
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    /// Byte range of the key's string literal, quotes included.
    public var keyRange: Range<Int>
    public var value: JSONValue

    public init(key: String, keyRange: Range<Int>, value: JSONValue) {
        self.key = key
        self.keyRange = keyRange
        self.value = value
    }
}

extension JSONValue {
    /// The first member named `key`; nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = kind else { return nil }
        for member in members where member.key == key {
            return member.value
        }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    /// The value of an integral number that fits in 64 bits; nil for fractions, exponents and other kinds.
    public var int64Value: Int64? {
        guard case .number(let text) = kind else { return nil }
        return Int64(text)
    }

    public var doubleValue: Double? {
        guard case .number(let text) = kind else { return nil }
        return Double(text)
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = kind { return a }
        return nil
    }

    public var objectValue: [JSONMember]? {
        if case .object(let o) = kind { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = kind { return true }
        return false
    }

    /// The JSON type name, for messages: `null`, `boolean`, `number`, `string`, `array` or `object`.
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
