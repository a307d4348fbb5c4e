extension RuleFileReader {
    /// The operators of EventBridge's pattern syntax, as the keys of an operator object.
    static let patternOperators = [
        "prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr",
    ]
    /// The most `*` one wildcard may hold: a guard against patterns whose matching cost grows with every star.
    static let maxWildcardStars = 10

    /// A rule's `pattern` object (docs/rules.md, "Patterns"). Returns nil when it has errors.
    mutating func readPattern(_ value: JSONValue, subject: String) -> EventPattern? {
        guard case .object = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: "pattern",
                "expected an event pattern object such as {\"eventName\": [\"s3:ObjectCreated:Put\"]}, "
                    + "found \(value.typeName)"
            )
            return nil
        }
        let before = errorCount
        let pattern = readPatternObject(value, subject: subject, path: "pattern", recordPath: [])
        return errorCount == before ? pattern : nil
    }

    private mutating func readPatternObject(
        _ value: JSONValue,
        subject: String,
        path: String,
        recordPath: [String]
    ) -> EventPattern {
        var pattern = EventPattern()
        guard case .object(let members) = value.kind else { return pattern }
        if members.isEmpty {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "an empty pattern object is not allowed; name at least one field, or remove it"
            )
            return pattern
        }
        var seen: [String: Int] = [:]
        for member in members {
            let fieldPath = path + "." + member.key
            if let first = seen[member.key] {
                let (line, column) = location(of: first)
                report(
                    .duplicateField,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: fieldPath,
                    "duplicate field (first at line \(line), column \(column)); merge the two"
                )
                continue
            }
            seen[member.key] = member.keyRange.lowerBound
            if member.key == "$or" {
                if let group = readOr(member.value, subject: subject, path: fieldPath, recordPath: recordPath) {
                    pattern.alternatives.append(group)
                }
                continue
            }
            guard checkFieldName(member, subject: subject, path: fieldPath) else { continue }
            let childPath = recordPath + [member.key]
            switch member.value.kind {
            case .object:
                let nested = readPatternObject(member.value, subject: subject, path: fieldPath, recordPath: childPath)
                pattern.fields.append(EventPattern.Field(name: member.key, condition: .object(nested)))
            case .array(let elements):
                if let values = readPatternValues(
                    elements,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    path: fieldPath,
                    recordPath: childPath
                ) {
                    pattern.fields.append(EventPattern.Field(name: member.key, condition: .values(values)))
                }
            default:
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: fieldPath,
                    "expected a list of values, e.g. [\(text(of: member.value))], or an object of fields, found "
                        + member.value.typeName
                )
            }
        }
        return pattern
    }

    /// Refuses names that cannot be a record field as meant: empty, dotted paths, operator names.
    private mutating func checkFieldName(_ member: JSONMember, subject: String, path: String) -> Bool {
        let name = member.key
        var problem: String?
        if name.isEmpty {
            problem = "an empty field name matches no field of a record; name one"
        } else if name.contains(".") {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            let nested = parts.reversed().reduce("[...]") { "{\(String($1).quotedForMessage): \($0)}" }
            problem =
                "a field name holds no \".\"; write the path as nested objects, e.g. \(nested)"
        } else if Self.patternOperators.contains(name) {
            problem =
                "\(name.quotedForMessage) is an operator, not a field; put it inside the field's list, e.g. "
                + "\"size\": [{\"numeric\": [\">\", 0]}]"
        } else if name.hasPrefix("$") {
            problem = "unknown keyword \(name.quotedForMessage); the only one is \"$or\""
        }
        guard let problem else { return true }
        report(.invalidValue, at: member.keyRange.lowerBound, subject: subject, field: path, problem)
        return false
    }

    private mutating func readOr(
        _ value: JSONValue,
        subject: String,
        path: String,
        recordPath: [String]
    ) -> [EventPattern]? {
        guard case .array(let elements) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected an array of at least two pattern objects, found \(value.typeName)"
            )
            return nil
        }
        if elements.count < 2 {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "needs at least two alternatives, found \(elements.count); write a single alternative's fields "
                    + "directly"
            )
            return nil
        }
        var alternatives: [EventPattern] = []
        var ok = true
        for (index, element) in elements.enumerated() {
            let elementPath = "\(path)[\(index)]"
            guard case .object = element.kind else {
                report(
                    .wrongType,
                    at: element.range.lowerBound,
                    subject: subject,
                    field: elementPath,
                    "expected a pattern object, found \(element.typeName)"
                )
                ok = false
                continue
            }
            alternatives.append(
                readPatternObject(element, subject: subject, path: elementPath, recordPath: recordPath)
            )
        }
        return ok ? alternatives : nil
    }

    private mutating func readPatternValues(
        _ elements: [JSONValue],
        at offset: Int,
        subject: String,
        path: String,
        recordPath: [String]
    ) -> [PatternValue]? {
        if elements.isEmpty {
            report(
                .emptyList,
                at: offset,
                subject: subject,
                field: path,
                "empty list matches nothing; list at least one value or operator, or remove the field"
            )
            return nil
        }
        let before = errorCount
        var values: [PatternValue] = []
        for element in elements {
            switch element.kind {
            case .string(let text):
                if recordPath == ["eventName"], !text.hasPrefix("s3:") {
                    report(
                        .invalidValue,
                        at: element.range.lowerBound,
                        subject: subject,
                        field: path,
                        "\(text.quotedForMessage) never matches: eventName always has the s3: form here, whatever "
                            + "the source; write \(("s3:" + text).quotedForMessage)"
                    )
                }
                values.append(.string(text))
            case .number(let text):
                values.append(.number(PatternNumber(text: text)))
            case .bool(let flag):
                values.append(.bool(flag))
            case .null:
                values.append(.null)
            case .array:
                report(
                    .wrongType,
                    at: element.range.lowerBound,
                    subject: subject,
                    field: path,
                    "expected a value or an operator object, found array; list the values directly"
                )
            case .object:
                if let value = readOperator(element, subject: subject, path: path, recordPath: recordPath) {
                    values.append(value)
                }
            }
        }
        return errorCount == before ? values : nil
    }

    private mutating func readOperator(
        _ value: JSONValue,
        subject: String,
        path: String,
        recordPath: [String]
    ) -> PatternValue? {
        guard case .object(let members) = value.kind else { return nil }
        guard members.count == 1, let member = members.first else {
            let message =
                members.isEmpty
                ? "empty operator object; write one operator, e.g. {\"prefix\": \"uploads/\"}"
                : "one operator per object, found \(members.count) (\(members.map(\.key.quotedForMessage).joined(separator: ", "))); "
                    + "write each as its own element of the list (the elements are ORed)"
            report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, message)
            return nil
        }
        let name = member.key
        let operand = member.value
        func fail(_ code: Diagnostic.Code, _ message: String, at node: JSONValue? = nil) -> PatternValue? {
            report(
                code,
                at: (node ?? operand).range.lowerBound,
                subject: subject,
                field: path,
                "\(name): " + message
            )
            return nil
        }
        switch name {
        case "prefix", "suffix":
            let isPrefix = name == "prefix"
            var literal: String
            var ignoringCase = false
            switch operand.kind {
            case .string(let string):
                literal = string
            case .object(let inner) where inner.count == 1 && inner[0].key == "equals-ignore-case":
                guard let string = inner[0].value.stringValue else {
                    return fail(
                        .wrongType,
                        "equals-ignore-case: expected a string, found \(inner[0].value.typeName)",
                        at: inner[0].value
                    )
                }
                literal = string
                ignoringCase = true
            default:
                return fail(
                    .wrongType,
                    "expected a string or {\"equals-ignore-case\": string}, found \(text(of: operand))"
                )
            }
            if isPrefix, !ignoringCase, recordPath == ["eventName"], !literal.hasPrefix("s3:"),
                !"s3:".hasPrefix(literal)
            {
                return fail(
                    .invalidValue,
                    "\(literal.quotedForMessage) never matches: eventName always has the s3: form here; write "
                        + ("s3:" + literal).quotedForMessage
                )
            }
            return isPrefix
                ? .prefix(literal, ignoringCase: ignoringCase) : .suffix(literal, ignoringCase: ignoringCase)
        case "equals-ignore-case":
            guard let text = operand.stringValue else {
                return fail(.wrongType, "expected a string, found \(operand.typeName)")
            }
            return .equalsIgnoringCase(text)
        case "wildcard":
            guard let text = operand.stringValue else {
                return fail(.wrongType, "expected a string, found \(operand.typeName)")
            }
            switch Self.wildcard(text) {
            case .success(let wildcard): return .wildcard(wildcard)
            case .failure(let problem): return fail(.invalidValue, problem.message)
            }
        case "anything-but", "numeric":
            switch name == "numeric" ? Self.readNumeric(operand) : Self.readAnythingBut(operand) {
            case .success(let value): return value
            case .failure(let problem): return fail(problem.code, problem.message, at: problem.node)
            }
        case "exists":
            guard let flag = operand.boolValue else {
                return fail(.wrongType, "expected true or false, found \(operand.typeName)")
            }
            return .exists(flag)
        case "cidr":
            guard let text = operand.stringValue else {
                return fail(.wrongType, "expected a string such as \"10.0.0.0/8\", found \(operand.typeName)")
            }
            switch Self.cidr(text) {
            case .success(let block): return .cidr(block)
            case .failure(let problem): return fail(.invalidValue, problem.message)
            }
        default:
            report(
                .unknownOperator,
                at: member.keyRange.lowerBound,
                subject: subject,
                field: path,
                "unknown operator \(name.quotedForMessage)"
                    + Suggestion.hint(for: name, among: Self.patternOperators)
            )
            return nil
        }
    }

    /// A problem in an operator's operand: the code, the message, and the JSON value at fault.
    struct OperandProblem: Error {
        var code: Diagnostic.Code
        var message: String
        var node: JSONValue
    }

    private static func readAnythingBut(_ operand: JSONValue) -> Result<PatternValue, OperandProblem> {
        func fail(_ code: Diagnostic.Code, _ message: String, _ node: JSONValue) -> Result<PatternValue, OperandProblem>
        {
            .failure(OperandProblem(code: code, message: message, node: node))
        }
        switch operand.kind {
        case .string(let text):
            return .success(.anythingBut(.strings([text])))
        case .number(let text):
            let number = PatternNumber(text: text)
            guard number.value != nil else { return fail(.invalidValue, Self.inexact(text), operand) }
            return .success(.anythingBut(.numbers([number])))
        case .array(let elements):
            if elements.isEmpty {
                return fail(.emptyList, "empty list excludes nothing; list at least one value", operand)
            }
            if elements.allSatisfy({ $0.stringValue != nil }) {
                return .success(.anythingBut(.strings(Self.unique(elements.compactMap(\.stringValue)))))
            }
            if elements.allSatisfy({ if case .number = $0.kind { return true } else { return false } }) {
                var numbers: [PatternNumber] = []
                for element in elements {
                    guard case .number(let text) = element.kind else { continue }
                    let number = PatternNumber(text: text)
                    guard number.value != nil else { return fail(.invalidValue, Self.inexact(text), element) }
                    numbers.append(number)
                }
                return .success(.anythingBut(.numbers(numbers)))
            }
            let odd = elements.first { element in
                switch element.kind {
                case .string, .number: false
                default: true
                }
            }
            if let odd {
                return fail(
                    .wrongType,
                    "expected strings or numbers, found \(odd.typeName); true, false, null, arrays and objects "
                        + "cannot be excluded in a list",
                    odd
                )
            }
            return fail(.wrongType, "expected only strings or only numbers, found both", operand)
        case .object(let members):
            let kinds = ["prefix", "suffix", "equals-ignore-case", "wildcard"]
            guard members.count == 1, let member = members.first, kinds.contains(member.key) else {
                let found = members.map(\.key.quotedForMessage).joined(separator: ", ")
                return fail(
                    .invalidValue,
                    "expected an object with one of \"prefix\", \"suffix\", \"equals-ignore-case\" or "
                        + "\"wildcard\", found {\(found)}",
                    operand
                )
            }
            var texts: [(String, JSONValue)] = []
            switch member.value.kind {
            case .string(let text):
                texts = [(text, member.value)]
            case .array(let elements) where !elements.isEmpty:
                for element in elements {
                    guard let text = element.stringValue else {
                        return fail(
                            .wrongType,
                            "\(member.key): expected a string, found \(element.typeName)",
                            element
                        )
                    }
                    texts.append((text, element))
                }
            case .array:
                return fail(.emptyList, "\(member.key): empty list excludes nothing; list at least one", member.value)
            default:
                return fail(
                    .wrongType,
                    "\(member.key): expected a string or an array of strings, found \(member.value.typeName)",
                    member.value
                )
            }
            if member.key == "prefix" || member.key == "suffix",
                let empty = texts.first(where: { $0.0.isEmpty })
            {
                return fail(
                    .invalidValue,
                    "\(member.key): an empty \(member.key) excludes every string; remove it",
                    empty.1
                )
            }
            let strings = Self.unique(texts.map(\.0))
            switch member.key {
            case "prefix": return .success(.anythingBut(.prefixes(strings)))
            case "suffix": return .success(.anythingBut(.suffixes(strings)))
            case "equals-ignore-case": return .success(.anythingBut(.equalsIgnoringCase(strings)))
            default:
                var wildcards: [WildcardPattern] = []
                for (text, node) in texts {
                    switch Self.wildcard(text) {
                    case .success(let wildcard): wildcards.append(wildcard)
                    case .failure(let problem): return fail(.invalidValue, "wildcard: " + problem.message, node)
                    }
                }
                return .success(.anythingBut(.wildcards(wildcards)))
            }
        default:
            return fail(
                .wrongType,
                "expected a string, a number, an array of them, or an object such as {\"prefix\": \"tmp/\"}, "
                    + "found \(operand.typeName)",
                operand
            )
        }
    }

    private static func readNumeric(_ operand: JSONValue) -> Result<PatternValue, OperandProblem> {
        func fail(_ code: Diagnostic.Code, _ message: String, _ node: JSONValue) -> Result<PatternValue, OperandProblem>
        {
            .failure(OperandProblem(code: code, message: message, node: node))
        }
        let shape = "expected [\"<op>\", number] or [\">\" or \">=\", number, \"<\" or \"<=\", number]"
        guard case .array(let items) = operand.kind else {
            return fail(.wrongType, "\(shape), found \(operand.typeName)", operand)
        }
        guard items.count == 2 || items.count == 4 else {
            return fail(.invalidValue, "\(shape), found \(items.count) elements", operand)
        }
        var bounds: [(op: String, bound: NumericRange.Bound)] = []
        for pair in stride(from: 0, to: items.count, by: 2) {
            guard let op = items[pair].stringValue else {
                return fail(
                    .wrongType,
                    "\(shape); element \(pair) must be a comparison such as \">\", found \(items[pair].typeName)",
                    items[pair]
                )
            }
            guard ["=", "<", "<=", ">", ">="].contains(op) else {
                return fail(
                    .invalidValue,
                    "unknown comparison \(op.quotedForMessage); use \"=\", \"<\", \"<=\", \">\" or \">=\"",
                    items[pair]
                )
            }
            guard case .number(let text) = items[pair + 1].kind else {
                return fail(
                    .wrongType,
                    "the operand of \(op.quotedForMessage) must be a number, found \(items[pair + 1].typeName)",
                    items[pair + 1]
                )
            }
            guard let value = PatternNumber(text: text).value else {
                return fail(.invalidValue, Self.inexact(text), items[pair + 1])
            }
            bounds.append((op, NumericRange.Bound(value: value, text: text, inclusive: op.count == 2 || op == "=")))
        }
        let first = bounds[0]
        if bounds.count == 1 {
            switch first.op {
            case "=": return .success(.numeric(NumericRange(lower: first.bound, upper: first.bound)))
            case "<", "<=": return .success(.numeric(NumericRange(lower: nil, upper: first.bound)))
            default: return .success(.numeric(NumericRange(lower: first.bound, upper: nil)))
            }
        }
        let second = bounds[1]
        guard first.op == ">" || first.op == ">=", second.op == "<" || second.op == "<=" else {
            return fail(
                .invalidValue,
                "a range is a lower bound then an upper bound, [\">\" or \">=\", number, \"<\" or \"<=\", number], "
                    + "found \(first.op.quotedForMessage) then \(second.op.quotedForMessage)",
                operand
            )
        }
        guard first.bound.value < second.bound.value else {
            return fail(
                .invalidValue,
                "the lower bound \(first.bound.text) must be below the upper bound \(second.bound.text)",
                operand
            )
        }
        return .success(.numeric(NumericRange(lower: first.bound, upper: second.bound)))
    }

    static func inexact(_ text: String) -> String {
        "\(text.prefix(40)) is not exactly a 64-bit floating-point number (too many digits, or out of range); "
            + "numbers compare as doubles, so write one with at most 17 significant digits"
    }

    struct PatternProblem: Error {
        var message: String
    }

    /// A wildcard pattern: `*` any run, `\*` a literal star, `\\` a literal backslash; no `**`, at most
    /// `maxWildcardStars` stars.
    static func wildcard(_ text: String) -> Result<WildcardPattern, PatternProblem> {
        var segments: [[UInt8]] = [[]]
        var stars = 0
        var previousWasStar = false
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") || bytes[index + 1] == byte
                else {
                    return .failure(
                        PatternProblem(
                            message: "\(text.quotedForMessage): a backslash escapes only \"*\" or a backslash; write "
                                + "\"\\\\\\\\\" for a literal backslash"
                        )
                    )
                }
                segments[segments.count - 1].append(bytes[index + 1])
                index += 2
                previousWasStar = false
                continue
            }
            if byte == UInt8(ascii: "*") {
                if previousWasStar {
                    return .failure(
                        PatternProblem(
                            message: "\(text.quotedForMessage) holds \"**\"; consecutive stars are not allowed (one "
                                + "already matches any run of characters)"
                        )
                    )
                }
                stars += 1
                segments.append([])
                previousWasStar = true
            } else {
                segments[segments.count - 1].append(byte)
                previousWasStar = false
            }
            index += 1
        }
        if stars > maxWildcardStars {
            return .failure(
                PatternProblem(
                    message: "\(text.quotedForMessage) holds \(stars) stars, more than the \(maxWildcardStars) "
                        + "allowed; split it into several rules or use prefix and suffix"
                )
            )
        }
        return .success(WildcardPattern(text: text, segments: segments))
    }

    /// An IPv4 or IPv6 block written `ADDRESS/BITS`.
    static func cidr(_ text: String) -> Result<CIDRBlock, PatternProblem> {
        let shape = "expected ADDRESS/BITS such as \"10.0.0.0/8\" or \"2001:db8::/32\", found \(text.quotedForMessage)"
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress.parse(String(parts[0])),
            !parts[1].isEmpty, parts[1].utf8.allSatisfy(ASCII.isDigit), parts[1].utf8.count <= 3,
            let bits = Int(parts[1])
        else {
            return .failure(PatternProblem(message: shape))
        }
        let maxBits = address.count * 8
        guard bits <= maxBits else {
            return .failure(
                PatternProblem(
                    message: "\(text.quotedForMessage): an \(address.count == 4 ? "IPv4" : "IPv6") block has at "
                        + "most \(maxBits) bits, found \(bits)"
                )
            )
        }
        return .success(CIDRBlock(text: text, address: address, prefixLength: bits))
    }

    /// The JSON text of `value`, shortened for a message.
    func text(of value: JSONValue) -> String {
        let range = value.range.clamped(to: 0..<source.bytes.count)
        let text = String(decoding: source.bytes[range], as: UTF8.self)
        return text.count > 40 ? String(text.prefix(37)) + "..." : text
    }
}
