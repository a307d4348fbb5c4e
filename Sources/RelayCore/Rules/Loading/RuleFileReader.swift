/// Reads one rule file strictly: JSON → validated `Target`s and `Rule`s, collecting every problem as a
/// `Diagnostic` instead of stopping at the first. Cross-file checks (duplicate names, unknown targets) are left to
/// `RuleSetCompiler`, which gets what this reader declares even when a declaration has errors, so that one mistake
/// does not cascade into others.
struct RuleFileReader {
    struct Entry {
        var offset: Int
        var diagnostic: Diagnostic
    }

    struct ParsedTarget {
        var name: String
        var offset: Int
        /// Nil when the declaration has errors.
        var target: Target?
    }

    struct TargetReference {
        var name: String
        var offset: Int
        var field: String
    }

    struct ParsedRule {
        /// Nil when the rule has no usable name.
        var name: String?
        var offset: Int
        var subject: String
        /// Nil when the rule has errors.
        var rule: Rule?
        var references: [TargetReference]
    }

    let source: RuleSource
    let environment: [String: String]
    /// Checks a file a rule file names (TLS files); nil when the caller does no I/O.
    let fileCheck: RuleSetCompiler.FileCheck?
    let lines: LineIndex
    private(set) var entries: [Entry] = []
    private(set) var targets: [ParsedTarget] = []
    private(set) var rules: [ParsedRule] = []
    /// Errors reported so far; compared before and after a declaration to tell whether it is valid.
    private(set) var errorCount = 0

    init(source: RuleSource, environment: [String: String], fileCheck: RuleSetCompiler.FileCheck? = nil) {
        self.source = source
        self.environment = environment
        self.fileCheck = fileCheck
        self.lines = LineIndex(source.bytes)
    }

    // MARK: - Diagnostics

    func location(of offset: Int) -> (line: Int, column: Int) {
        lines.location(of: offset)
    }

    mutating func report(
        _ code: Diagnostic.Code,
        at offset: Int,
        subject: String?,
        field: String?,
        _ message: String,
        severity: Diagnostic.Severity = .error
    ) {
        let (line, column) = lines.location(of: offset)
        let diagnostic = Diagnostic(
            severity: severity,
            code: code,
            file: source.path,
            line: line,
            column: column,
            subject: subject,
            field: field,
            message: message
        )
        entries.append(Entry(offset: offset, diagnostic: diagnostic))
        if severity == .error { errorCount += 1 }
    }

    // MARK: - File

    mutating func read() {
        let root: JSONValue
        do {
            root = try JSONParser.parse(source.bytes)
        } catch {
            let diagnostic = Diagnostic(
                code: .syntax,
                file: source.path,
                line: error.line,
                column: error.column,
                message: "not valid JSON: \(error.message); fix the syntax here"
            )
            entries.append(Entry(offset: error.offset, diagnostic: diagnostic))
            errorCount += 1
            return
        }
        guard case .object = root.kind else {
            report(
                .wrongType,
                at: root.range.lowerBound,
                subject: nil,
                field: nil,
                "the top level must be an object with \"targets\" and/or \"rules\", found \(root.typeName)"
            )
            return
        }
        guard let fields = members(of: root, subject: nil, path: nil, allowed: ["targets", "rules"]) else { return }
        if fields["targets"] == nil, fields["rules"] == nil {
            report(
                .missingField,
                at: root.range.lowerBound,
                subject: nil,
                field: nil,
                "the file has neither \"targets\" nor \"rules\"; add one, or move the file out of the rules directory"
            )
        }
        if let member = fields["targets"] { readTargets(member.value) }
        if let member = fields["rules"] { readRules(member.value) }
    }

    private mutating func readTargets(_ value: JSONValue) {
        guard case .object(let members) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: nil,
                field: "targets",
                "expected an object of named targets, found \(value.typeName)"
            )
            return
        }
        for member in members {
            let subject = "target \(member.key.quotedForMessage)"
            if member.key.isEmpty || member.key.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                report(
                    .invalidValue,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: nil,
                    "a target name must be non-empty and free of control characters; rename it"
                )
            }
            let before = errorCount
            let target = readTarget(name: member.key, member.value, subject: subject)
            targets.append(
                ParsedTarget(
                    name: member.key,
                    offset: member.keyRange.lowerBound,
                    target: errorCount == before ? target : nil
                )
            )
        }
    }

    private mutating func readRules(_ value: JSONValue) {
        guard case .array(let elements) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: nil,
                field: "rules",
                "expected an array of rule objects, found \(value.typeName)"
            )
            return
        }
        for (index, element) in elements.enumerated() {
            readRule(element, index: index)
        }
    }

    private mutating func readRule(_ value: JSONValue, index: Int) {
        var subject = "rules[\(index)]"
        guard case .object = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: nil,
                "expected a rule object, found \(value.typeName)"
            )
            return
        }
        // The name first, so that every other diagnostic can say which rule it is about.
        var name: String?
        var nameOffset = value.range.lowerBound
        if let nameValue = value["name"], let text = nameValue.stringValue, !text.isEmpty,
            !text.unicodeScalars.contains(where: { $0.value < 0x20 })
        {
            name = text
            nameOffset = nameValue.range.lowerBound
            subject = "rule \(text.quotedForMessage)"
        }
        let before = errorCount
        guard let fields = members(of: value, subject: subject, path: nil, allowed: ["name", "match", "to"]) else {
            return
        }
        if name == nil {
            if let nameValue = fields["name"]?.value {
                if nameValue.stringValue == nil {
                    report(
                        .wrongType,
                        at: nameValue.range.lowerBound,
                        subject: subject,
                        field: "name",
                        "expected a string, found \(nameValue.typeName)"
                    )
                } else {
                    report(
                        .invalidValue,
                        at: nameValue.range.lowerBound,
                        subject: subject,
                        field: "name",
                        "must be non-empty and free of control characters; give the rule a unique name"
                    )
                }
            } else {
                report(
                    .missingField,
                    at: value.range.lowerBound,
                    subject: subject,
                    field: "name",
                    "required; give the rule a unique name"
                )
            }
        }
        var match = MatchSpec()
        if let member = fields["match"] {
            match = readMatch(member.value, subject: subject, path: "match") ?? MatchSpec()
        }
        var references: [TargetReference] = []
        if let member = fields["to"] {
            if let items = stringList(
                member.value,
                subject: subject,
                path: "to",
                emptyMessage:
                    "empty list sends matched events nowhere; name at least one target"
            ) {
                for item in items {
                    if item.value.isEmpty {
                        report(
                            .invalidValue,
                            at: item.offset,
                            subject: subject,
                            field: item.path,
                            "empty target name; name a target declared under \"targets\""
                        )
                    } else if !references.contains(where: { $0.name == item.value }) {
                        references.append(TargetReference(name: item.value, offset: item.offset, field: item.path))
                    }
                }
            }
        } else {
            report(
                .missingField,
                at: value.range.lowerBound,
                subject: subject,
                field: "to",
                "required; name the targets matched events go to, e.g. \"to\": [\"thumbnailer\"]"
            )
        }
        var rule: Rule?
        if let name, errorCount == before {
            rule = Rule(name: name, file: source.path, to: references.map(\.name), match: match)
        }
        rules.append(
            ParsedRule(name: name, offset: nameOffset, subject: subject, rule: rule, references: references)
        )
    }

    // MARK: - Generic readers

    static func join(_ path: String?, _ key: String) -> String {
        guard let path else { return key }
        return path + "." + key
    }

    /// The members of an object by key, after reporting unknown keys (with a suggestion) and repeated keys.
    /// Reports a type error and returns nil when `value` is not an object.
    mutating func members(
        of value: JSONValue,
        subject: String?,
        path: String?,
        allowed: [String]
    ) -> [String: JSONMember]? {
        guard case .object(let members) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected an object, found \(value.typeName)"
            )
            return nil
        }
        var fields: [String: JSONMember] = [:]
        for member in members {
            let field = Self.join(path, member.key)
            if !allowed.contains(member.key) {
                report(
                    .unknownField,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: field,
                    "unknown field" + Suggestion.hint(for: member.key, among: allowed)
                )
                continue
            }
            if let first = fields[member.key] {
                let (line, column) = location(of: first.keyRange.lowerBound)
                report(
                    .duplicateField,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: field,
                    "duplicate field (first at line \(line), column \(column)); remove one"
                )
                continue
            }
            fields[member.key] = member
        }
        return fields
    }

    struct Item {
        var value: String
        var offset: Int
        var path: String
    }

    /// A string, or a non-empty array of strings: `"a"` is read as `["a"]`. Repeated values are dropped.
    mutating func stringList(
        _ value: JSONValue,
        subject: String?,
        path: String,
        emptyMessage: String
    ) -> [Item]? {
        switch value.kind {
        case .string(let text):
            return [Item(value: text, offset: value.range.lowerBound, path: path)]
        case .array(let elements):
            if elements.isEmpty {
                report(.emptyList, at: value.range.lowerBound, subject: subject, field: path, emptyMessage)
                return nil
            }
            var items: [Item] = []
            var ok = true
            for (index, element) in elements.enumerated() {
                let itemPath = "\(path)[\(index)]"
                guard let text = element.stringValue else {
                    report(
                        .wrongType,
                        at: element.range.lowerBound,
                        subject: subject,
                        field: itemPath,
                        "expected a string, found \(element.typeName)"
                    )
                    ok = false
                    continue
                }
                if !items.contains(where: { $0.value == text }) {
                    items.append(Item(value: text, offset: element.range.lowerBound, path: itemPath))
                }
            }
            return ok ? items : nil
        default:
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected a string or an array of strings, found \(value.typeName)"
            )
            return nil
        }
    }

    /// A JSON integer within `range`.
    mutating func integer(
        _ value: JSONValue,
        subject: String?,
        path: String,
        in range: ClosedRange<Int>
    ) -> Int? {
        guard case .number = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected an integer, found \(value.typeName)"
            )
            return nil
        }
        guard let number = value.int64Value else {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "must be a whole number between \(range.lowerBound) and \(range.upperBound)"
            )
            return nil
        }
        guard number >= Int64(range.lowerBound), number <= Int64(range.upperBound) else {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "must be between \(range.lowerBound) and \(range.upperBound), found \(number)"
            )
            return nil
        }
        return Int(number)
    }

    /// A duration string such as `"5s"`, greater than zero.
    mutating func duration(_ value: JSONValue, subject: String?, path: String) -> Duration? {
        guard let text = value.stringValue else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected a duration string such as \"5s\" or \"200ms\", found \(value.typeName)"
            )
            return nil
        }
        do {
            let duration = try DurationParser.parse(text)
            guard duration > .zero else {
                report(
                    .invalidValue,
                    at: value.range.lowerBound,
                    subject: subject,
                    field: path,
                    "must be greater than 0, e.g. \"5s\""
                )
                return nil
            }
            return duration
        } catch {
            report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, error.message)
            return nil
        }
    }

    /// `text` with every `${NAME}` replaced from the environment; `$${` stands for a literal `${`. Reports unset or
    /// empty variables (never replaced by an empty string) and malformed references.
    mutating func expand(_ text: String, at offset: Int, subject: String?, path: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "$")) else { return text }
        var out: [UInt8] = []
        var index = 0
        var ok = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$"), index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "$"),
                bytes[index + 2] == UInt8(ascii: "{")
            {
                out += Array("${".utf8)
                index += 3
                continue
            }
            guard byte == UInt8(ascii: "$"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") else {
                out.append(byte)
                index += 1
                continue
            }
            guard let close = bytes[(index + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                report(
                    .invalidValue,
                    at: offset,
                    subject: subject,
                    field: path,
                    "unterminated \"${\"; write ${NAME} or ${NAME:-default}, or $${ for a literal ${"
                )
                return nil
            }
            let reference = String(decoding: bytes[(index + 2)..<close], as: UTF8.self)
            // `${NAME:-default}`: the default, written out in the rule file, when NAME is unset or empty.
            var name = reference
            var fallback: String?
            let referenceBytes = bytes[(index + 2)..<close]
            if let colon = referenceBytes.firstIndex(of: UInt8(ascii: ":")), colon + 1 < close,
                bytes[colon + 1] == UInt8(ascii: "-")
            {
                name = String(decoding: bytes[(index + 2)..<colon], as: UTF8.self)
                fallback = String(decoding: bytes[(colon + 2)..<close], as: UTF8.self)
            }
            if !Self.isVariableName(name) {
                report(
                    .invalidValue,
                    at: offset,
                    subject: subject,
                    field: path,
                    "\("${\(name)}".quotedForMessage) is not a variable reference; names are letters, digits and "
                        + "_, not starting with a digit (write $${ for a literal ${)"
                )
                ok = false
            } else if let value = environment[name], !value.isEmpty {
                out += Array(value.utf8)
            } else if let fallback, !fallback.isEmpty {
                out += Array(fallback.utf8)
            } else {
                let state = environment[name] == nil ? "is not set" : "is set but empty"
                report(
                    .missingVariable,
                    at: offset,
                    subject: subject,
                    field: path,
                    "environment variable \(name) \(state); set it before loading the rules (it is never "
                        + "replaced by an empty string)"
                )
                ok = false
            }
            index = close + 1
        }
        return ok ? String(decoding: out, as: UTF8.self) : nil
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
        }
    }
}
