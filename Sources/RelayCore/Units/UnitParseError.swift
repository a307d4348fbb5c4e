/// A duration or byte size that could not be read, e.g. from a rule file or a `--max-body` flag.
public struct UnitParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of text was expected. Bounded: usable as a metric label.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String

        /// The text is not a duration such as `200ms`, `5s` or `1h30m`.
        public static let invalidDuration = Code(rawValue: "invalid_duration")
        /// The text is not a byte size such as `1048576`, `512KiB` or `10MB`.
        public static let invalidByteSize = Code(rawValue: "invalid_byte_size")
        /// The value does not fit in 64 bits.
        public static let outOfRange = Code(rawValue: "out_of_range")

        public var description: String { rawValue }
    }

    /// What kind of text was expected.
    public var code: Code
    /// The text that was given.
    public var input: String
    /// The problem and the fix, e.g. `"5 sec" is not a duration; write a number and a unit ...`.
    public var message: String

    public init(code: Code, input: String, message: String) {
        self.code = code
        self.input = input
        self.message = message
    }

    public var description: String { message }
}
