/// Where and why a text is not JSON.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem.
    public var offset: Int
    /// 1-based line of the problem.
    public var line: Int
    /// 1-based column (in bytes) of the problem.
    public var column: Int
    /// What is wrong, e.g. `unexpected end of input`.
    public var message: String
    /// The text went deeper than `JSONParser.maximumDepth` here; it may still be valid JSON (see
    /// `JSONParser.validate(_:)`).
    public var isNestingLimit: Bool

    public init(offset: Int, line: Int, column: Int, message: String, isNestingLimit: Bool = false) {
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
        self.isNestingLimit = isNestingLimit
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}
