extension RuleFileReader {
    static let matchFields = ["event", "bucket", "prefix", "suffix", "contentType", "size", "metadata", "not"]

    /// A `match` (or `not`) object. Returns nil when it has errors.
    mutating func readMatch(_ value: JSONValue, subject: String, path: String) -> MatchSpec? {
        let before = errorCount
        guard let fields = members(of: value, subject: subject, path: path, allowed: Self.matchFields) else {
            return nil
        }
        var spec = MatchSpec()
        if let member = fields["event"] {
            spec.events = readEvents(member.value, subject: subject, path: path + ".event")
        }
        if let member = fields["bucket"] {
            spec.buckets = readList(member.value, subject: subject, path: path + ".bucket", what: "bucket") { name in
                if name.isEmpty { return "empty bucket name; remove it or name a bucket" }
                if name.contains("/") { return "a bucket name has no \"/\"; put the key part in \"prefix\"" }
                return nil
            }
        }
        if let member = fields["prefix"] {
            spec.prefixes = readList(member.value, subject: subject, path: path + ".prefix", what: "key") { text in
                if text.isEmpty { return "an empty prefix matches every key; remove \"prefix\" instead" }
                return Self.wildcardProblem(text, in: .prefix)
            }
        }
        if let member = fields["suffix"] {
            spec.suffixes = readList(member.value, subject: subject, path: path + ".suffix", what: "key") { text in
                if text.isEmpty { return "an empty suffix matches every key; remove \"suffix\" instead" }
                return Self.wildcardProblem(text, in: .suffix)
            }
        }
        if let member = fields["contentType"] {
            let types = readList(
                member.value,
                subject: subject,
                path: path + ".contentType",
                what: "content type",
                check: Self.contentTypeProblem
            )
            spec.contentTypes = types.map { Self.unique($0.map { $0.lowercased() }) }
        }
        if let member = fields["size"] {
            spec.size = readSize(member.value, subject: subject, path: path + ".size")
        }
        if let member = fields["metadata"] {
            spec.metadata = readMetadata(member.value, subject: subject, path: path + ".metadata")
        }
        if let member = fields["not"] {
            let notPath = path + ".not"
            if let not = readMatch(member.value, subject: subject, path: notPath) {
                if not.isEmpty {
                    report(
                        .invalidValue,
                        at: member.value.range.lowerBound,
                        subject: subject,
                        field: notPath,
                        "an empty \"not\" excludes every event; add conditions or remove it"
                    )
                } else {
                    spec.not = not
                }
            }
        }
        return errorCount == before ? spec : nil
    }

    /// A string list whose values each pass `check` (which returns a problem, or nil).
    private mutating func readList(
        _ value: JSONValue,
        subject: String,
        path: String,
        what: String,
        check: (String) -> String?
    ) -> [String]? {
        let noun = path.split(separator: ".").last.map(String.init) ?? path
        guard
            let items = stringList(
                value,
                subject: subject,
                path: path,
                emptyMessage:
                    "empty list matches no \(what); remove \"\(noun)\" to match every \(what), or list at least one"
            )
        else { return nil }
        var values: [String] = []
        var ok = true
        for item in items {
            if let problem = check(item.value) {
                report(.invalidValue, at: item.offset, subject: subject, field: item.path, problem)
                ok = false
            } else {
                values.append(item.value)
            }
        }
        return ok ? values : nil
    }

    private mutating func readEvents(_ value: JSONValue, subject: String, path: String) -> [String]? {
        guard
            let items = stringList(
                value,
                subject: subject,
                path: path,
                emptyMessage:
                    "empty list matches no event; remove \"event\" to match every event, or list at least one"
            )
        else { return nil }
        var events: [String] = []
        var ok = true
        for item in items {
            switch Self.normalizeEvent(item.value) {
            case .success(let name):
                if !events.contains(name) { events.append(name) }
            case .failure(let problem):
                report(problem.code, at: item.offset, subject: subject, field: item.path, problem.message)
                ok = false
            }
        }
        return ok ? events : nil
    }

    struct EventProblem: Error {
        var code: Diagnostic.Code
        var message: String
    }

    /// The `s3:` form of an event name or family, or why it is not one.
    static func normalizeEvent(_ text: String) -> Result<String, EventProblem> {
        let name = text.hasPrefix("s3:") ? text : "s3:" + text
        if name == "s3:TestEvent" {
            return .failure(
                EventProblem(
                    code: .invalidValue,
                    message: "s3:TestEvent is answered and never routed; remove it"
                )
            )
        }
        if name.hasSuffix("*") {
            let prefix = name.dropLast()
            guard prefix.hasSuffix(":") else {
                return .failure(
                    EventProblem(
                        code: .unknownEvent,
                        message: "\(text.quotedForMessage) is not an event family, which ends in \":*\""
                            + Suggestion.hint(for: name, among: EventNameCatalog.families)
                    )
                )
            }
            guard EventNameCatalog.allNames.contains(where: { $0.hasPrefix(prefix) }) else {
                return .failure(
                    EventProblem(
                        code: .unknownEvent,
                        message: "unknown event family \(text.quotedForMessage)"
                            + Suggestion.hint(for: name, among: EventNameCatalog.families)
                    )
                )
            }
            return .success(name)
        }
        guard EventNameCatalog.ids[name] != nil else {
            let suggestion = Suggestion.closest(to: name, among: EventNameCatalog.allNames + EventNameCatalog.families)
            let hint =
                suggestion.map { "; did you mean \($0.quotedForMessage)?" }
                ?? "; use a MinIO or S3 event name such as \"s3:ObjectCreated:Put\", or a family such as "
                + "\"s3:ObjectCreated:*\""
            return .failure(EventProblem(code: .unknownEvent, message: "unknown event \(text.quotedForMessage)" + hint))
        }
        return .success(name)
    }

    /// The two key fields that compare literal text.
    enum KeyField: String {
        case prefix
        case suffix
    }

    /// Why a `prefix` or `suffix` value holding `*` is refused, with the fix; nil when it holds none.
    ///
    /// One rule for both fields, wherever the `*` stands: values are literal (a key may hold `*`, but a rule
    /// holding one is far more often a pattern written by mistake), so any `*` is refused at load rather than
    /// compared as text that no key was meant to match. The hint names the literal value that does what the
    /// pattern meant where there is one (`uploads/*` → `"uploads/"`, `*.jpg` → `".jpg"`, `*` → remove the field),
    /// and otherwise how to split the pattern between `prefix` and `suffix`.
    static func wildcardProblem(_ text: String, in field: KeyField) -> String? {
        let star = UInt8(ascii: "*")
        guard text.utf8.contains(star) else { return nil }
        let stated = "\(text.quotedForMessage) holds \"*\", but prefix and suffix values are literal, not patterns; "
        // Split on the byte: `*` is ASCII, so the pieces are valid UTF-8 (a `*` with a combining mark is split too).
        let literal = text.utf8.filter { $0 != star }
        if literal.isEmpty {
            return stated + "remove \"\(field.rawValue)\" to match every key"
        }
        let headBytes = text.utf8.prefix { $0 != star }
        let tailBytes = text.utf8.reversed().prefix { $0 != star }.reversed()
        let head = String(decoding: headBytes, as: UTF8.self)
        let tail = String(decoding: tailBytes, as: UTF8.self)
        switch field {
        case .prefix where headBytes.count == literal.count:
            return stated + "write \(head.quotedForMessage) (a prefix matches every key that starts with it)"
        case .suffix where tailBytes.count == literal.count:
            return stated + "write \(tail.quotedForMessage) (a suffix matches every key that ends with it)"
        case .prefix:
            let example = head.isEmpty ? "" : ", e.g. \(head.quotedForMessage)"
            return stated + "write the literal start of the key here\(example), and its end in \"suffix\" if needed"
        case .suffix:
            let example = tail.isEmpty ? "" : ", e.g. \(tail.quotedForMessage)"
            return stated + "write the literal end of the key here\(example), and its start in \"prefix\" if needed"
        }
    }

    /// Why `text` is not `type/subtype`, `type/*` or `*/*`, or nil.
    static func contentTypeProblem(_ text: String) -> String? {
        if text.contains(";") {
            return "parameters cannot be matched (they are ignored on records); write only \"type/subtype\""
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, ASCII.isToken(parts[0]), ASCII.isToken(parts[1]) else {
            return
                "\(text.quotedForMessage) is not a media type; write \"type/subtype\" or \"type/*\", e.g. \"image/*\""
        }
        if parts[0] == "*", parts[1] != "*" {
            return "\"*/subtype\" is not allowed; write \"type/subtype\", \"type/*\" or \"*/*\""
        }
        return nil
    }

    private mutating func readSize(_ value: JSONValue, subject: String, path: String) -> MatchSpec.SizeRange? {
        guard let fields = members(of: value, subject: subject, path: path, allowed: ["min", "max"]) else {
            return nil
        }
        if fields.isEmpty {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "empty; give \"min\", \"max\" or both (inclusive, in bytes)"
            )
            return nil
        }
        var ok = true
        var range = MatchSpec.SizeRange()
        if let member = fields["min"] {
            range.min = readByteCount(member.value, subject: subject, path: path + ".min")
            if range.min == nil { ok = false }
        }
        if let member = fields["max"] {
            range.max = readByteCount(member.value, subject: subject, path: path + ".max")
            if range.max == nil { ok = false }
        }
        if let min = range.min, let max = range.max, max < min, let member = fields["max"] {
            report(
                .invalidValue,
                at: member.value.range.lowerBound,
                subject: subject,
                field: path + ".max",
                "must be >= min (\(min)), found \(max)"
            )
            ok = false
        }
        return ok ? range : nil
    }

    private mutating func readByteCount(_ value: JSONValue, subject: String, path: String) -> Int64? {
        switch value.kind {
        case .number(let text):
            guard let number = value.int64Value else {
                let message =
                    text.hasPrefix("-") || value.doubleValue.map { $0 < 0 } == true
                    ? "must be >= 0" : "must be a whole number of bytes, or a size string like \"50MiB\""
                report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, message)
                return nil
            }
            guard number >= 0 else {
                report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, "must be >= 0")
                return nil
            }
            return number
        case .string(let text):
            do {
                return try ByteSize.parse(text)
            } catch {
                report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, error.message)
                return nil
            }
        default:
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected a number of bytes or a size string like \"50MiB\", found \(value.typeName)"
            )
            return nil
        }
    }

    private mutating func readMetadata(
        _ value: JSONValue,
        subject: String,
        path: String
    ) -> [MatchSpec.MetadataCondition]? {
        guard case .object(let members) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected an object of metadata names and values, found \(value.typeName)"
            )
            return nil
        }
        if members.isEmpty {
            report(
                .emptyList,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "empty; remove \"metadata\" or name at least one entry, e.g. {\"x-amz-meta-kind\": [\"avatar\"]}"
            )
            return nil
        }
        var conditions: [MatchSpec.MetadataCondition] = []
        var seen: [String: Int] = [:]
        var ok = true
        for member in members {
            let itemPath = path + "." + member.key
            var name = member.key.lowercased()
            if !name.hasPrefix(MatchSpec.metadataPrefix) { name = MatchSpec.metadataPrefix + name }
            guard ASCII.isToken(name.dropFirst(MatchSpec.metadataPrefix.count)) else {
                report(
                    .invalidValue,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: itemPath,
                    "not a metadata name; write the name with or without \"x-amz-meta-\", e.g. \"kind\""
                )
                ok = false
                continue
            }
            if let first = seen[name] {
                let (line, column) = location(of: first)
                report(
                    .duplicateField,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: itemPath,
                    "\(name) given twice (names ignore case and \"x-amz-meta-\"; first at line \(line), "
                        + "column \(column)); merge the values into one list"
                )
                ok = false
                continue
            }
            seen[name] = member.keyRange.lowerBound
            guard
                let items = stringList(
                    member.value,
                    subject: subject,
                    path: itemPath,
                    emptyMessage:
                        "empty list matches no value; list at least one value, or remove the entry"
                )
            else {
                ok = false
                continue
            }
            conditions.append(MatchSpec.MetadataCondition(name: name, values: items.map(\.value)))
        }
        return ok ? conditions : nil
    }

    static func unique(_ values: [String]) -> [String] {
        var out: [String] = []
        for value in values where !out.contains(value) { out.append(value) }
        return out
    }
}
