/// One problem found in a rule file, printed compiler-style:
///
/// ```
/// rules/a.json:12:9: error: rule "x": match.size.min: must be >= 0
/// rules/a.json:3:5: warning: target "y": not named by any rule; add it to a rule's "to" or remove it
/// rules/b.json:1:1: error: the top level must be an object with "targets" and/or "rules", found array
/// ```
///
/// The parts are: the file (`RuleSource.path`), `:line:column` (1-based, column in bytes) when known, the severity,
/// the subject (`rule "x"`, `target "y"`, `rules[3]` for a rule without a usable name; absent for file-level
/// problems), the field path relative to the subject (`match.size.min`, `to[1]`, `retry.maxBackoff`,
/// `headers.Authorization`; absent when the whole subject is at fault), and a message that says the problem and
/// the fix.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// Errors stop a rule set from loading; warnings do not.
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// The kind of problem. Bounded: usable as a metric label and in tests.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String

        /// The file is not JSON.
        public static let syntax = Code(rawValue: "syntax")
        /// A field the format does not define (often a typo).
        public static let unknownField = Code(rawValue: "unknown_field")
        /// The same field twice in one object.
        public static let duplicateField = Code(rawValue: "duplicate_field")
        /// A required field is absent, or the file has neither `targets` nor `rules`.
        public static let missingField = Code(rawValue: "missing_field")
        /// A value of the wrong JSON type.
        public static let wrongType = Code(rawValue: "wrong_type")
        /// A value of the right type that is not allowed (range, syntax, URL, duration, ...).
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// An empty list, which would match nothing.
        public static let emptyList = Code(rawValue: "empty_list")
        /// An event name MinIO, AWS S3 and Ceph RGW do not send.
        public static let unknownEvent = Code(rawValue: "unknown_event")
        /// A rule or target name declared twice.
        public static let duplicateName = Code(rawValue: "duplicate_name")
        /// A rule's `to` names no declared target.
        public static let unknownTarget = Code(rawValue: "unknown_target")
        /// `${NAME}` names an environment variable that is not set (or is empty).
        public static let missingVariable = Code(rawValue: "missing_variable")
        /// A target no rule names (warning).
        public static let unusedTarget = Code(rawValue: "unused_target")
        /// A target whose TLS certificate is not verified (`tls.insecureSkipVerify`, warning).
        public static let insecureTLS = Code(rawValue: "insecure_tls")

        public var description: String { rawValue }
    }

    /// Whether the problem stops the rule set from loading.
    public var severity: Severity
    /// The kind of problem.
    public var code: Code
    /// The file, as in `RuleSource.path`.
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column in bytes, when known.
    public var column: Int?
    /// `rule "x"`, `target "y"`, `rules[3]`, or nil for a file-level problem.
    public var subject: String?
    /// The field path relative to the subject, e.g. `match.size.min`; nil when the subject as a whole is at fault.
    public var field: String?
    /// The problem and the fix.
    public var message: String

    public init(
        severity: Severity = .error,
        code: Code,
        file: String,
        line: Int? = nil,
        column: Int? = nil,
        subject: String? = nil,
        field: String? = nil,
        message: String
    ) {
        self.severity = severity
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.subject = subject
        self.field = field
        self.message = message
    }

    /// `FILE[:LINE:COLUMN]: SEVERITY: [SUBJECT: ][FIELD: ]MESSAGE`.
    public var description: String {
        var out = file
        if let line {
            out += ":\(line)"
            if let column { out += ":\(column)" }
        }
        out += ": \(severity.rawValue): "
        if let subject { out += subject + ": " }
        // A field path can hold a key from the file: escaped so that the diagnostic stays on one line.
        if let field { out += field.escapedForMessage + ": " }
        return out + message
    }
}
