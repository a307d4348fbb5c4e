import RelayLog

/// One line read back from the dead-letter file.
public struct DeadLetterEntry: Sendable, Equatable {
    /// The line number in the file, from 1.
    public var lineNumber: Int
    /// The line as read, without its `\n`: pass it to ``DeadLetterFile/rewrite(path:removing:)`` to remove it.
    public var rawLine: String
    /// The decoded line; `nil` when the line is not a valid dead letter (see ``problem``).
    public var letter: DeadLetter?
    /// Why the line could not be decoded; `nil` when ``letter`` is set.
    public var problem: String?

    /// Creates an entry.
    public init(lineNumber: Int, rawLine: String, letter: DeadLetter?, problem: String?) {
        self.lineNumber = lineNumber
        self.rawLine = rawLine
        self.letter = letter
        self.problem = problem
    }
}
