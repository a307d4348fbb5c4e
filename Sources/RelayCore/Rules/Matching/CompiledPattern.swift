/// An `EventPattern` prepared for matching: strings as bytes, case folded once, IP literals parsed once.
///
/// Semantics (docs/rules.md, "Patterns"), as aws/event-ruler documents them: the fields of one pattern object are
/// ANDed, the values of one list ORed; a field names a member of the record's object at the same level; a list
/// matches a leaf (string, number, boolean or null) of the record; where the record holds an array, the pattern
/// holds if it holds for one element (all fields under that array in the same element), and a list holds if one
/// element matches. `exists: false` holds where the record has no leaf at the field (absent, an object, or an
/// empty array); every other value or operator needs a leaf. In the record, `eventName` is the `s3:` form,
/// `s3.bucket.name` the bucket and `s3.object.key` the decoded key, whatever the sender wrote.
struct CompiledPattern: Sendable {
    struct Node: Sendable {
        /// Lists on `eventName`, `s3.bucket.name` and `s3.object.key`, checked against the record's normalised
        /// fields without a walk of its JSON; before `fields`.
        var normalized: [NormalizedLeaf] = []
        var fields: [Field] = []
        var alternatives: [[Node]] = []
        /// Whether matching reads the record's JSON at or below this object: false when every list in it is on a
        /// normalised field, so the walk never looks a member up.
        var readsJSON = false
    }

    /// The fields the relay normalises, which every record has.
    enum NormalizedField: Sendable {
        case eventName, bucket, key
    }

    struct NormalizedLeaf: Sendable {
        var name: String
        var field: NormalizedField
        var leaf: Leaf
    }

    struct Field: Sendable {
        enum Kind: Sendable {
            case leaf(Leaf)
            case node(Node)
        }

        var name: String
        var kind: Kind
    }

    struct Leaf: Sendable {
        var matchers: [Matcher] = []
        var existsTrue = false
        var existsFalse = false
        /// The list as written, for explanations.
        var values: [PatternValue]
    }

    enum Matcher: Sendable {
        /// Exact bytes; `ip` when the string is an IP address literal.
        case string([UInt8], ip: [UInt8]?)
        case number(PatternNumber)
        case bool(Bool)
        case null
        case prefix([UInt8])
        case suffix([UInt8])
        /// Lower-cased.
        case prefixIgnoringCase([UInt8])
        /// Lower-cased.
        case suffixIgnoringCase([UInt8])
        /// Lower-cased.
        case equalsIgnoringCase([UInt8])
        case wildcard(WildcardPattern)
        case numeric(NumericRange)
        case cidr(CIDRBlock)
        /// Holds for every leaf `inner` does not match.
        indirect case anythingBut([Matcher])
    }

    let root: Node
    /// When every list of the pattern is on a normalised field and it has no `$or` (a pattern on event, bucket and
    /// key only): those lists, which `holds(_:)` checks in turn without walking the tree.
    let normalizedOnly: [NormalizedLeaf]?

    init(_ pattern: EventPattern) {
        root = Self.node(pattern, scope: .root)
        normalizedOnly = root.readsJSON ? nil : Self.normalizedLeaves(root)
    }

    /// The normalised lists of a tree that reads no JSON, or nil when it has a `$or`.
    private static func normalizedLeaves(_ node: Node) -> [NormalizedLeaf]? {
        guard node.alternatives.isEmpty else { return nil }
        var out = node.normalized
        for field in node.fields {
            guard case .node(let next) = field.kind, let leaves = normalizedLeaves(next) else { return nil }
            out += leaves
        }
        return out
    }

    /// `scope` is where the object `pattern` stands for sits in the record; the decoder makes sure that the record,
    /// `s3`, `s3.bucket` and `s3.object` are objects, so those scopes never meet an array.
    private static func node(_ pattern: EventPattern, scope: Scope) -> Node {
        var node = Node()
        for field in pattern.fields {
            switch field.condition {
            case .object(let nested):
                let childScope = Self.scope(of: field.name, in: scope)
                node.fields.append(Field(name: field.name, kind: .node(Self.node(nested, scope: childScope))))
            case .values(let values):
                if let normalized = Self.normalizedField(field.name, in: scope) {
                    node.normalized.append(
                        NormalizedLeaf(name: field.name, field: normalized, leaf: Self.leaf(values))
                    )
                } else {
                    node.fields.append(Field(name: field.name, kind: .leaf(Self.leaf(values))))
                }
            }
        }
        node.alternatives = pattern.alternatives.map { group in group.map { Self.node($0, scope: scope) } }
        node.readsJSON =
            node.fields.contains { field in
                switch field.kind {
                case .leaf: true
                case .node(let next): next.readsJSON
                }
            } || node.alternatives.contains { group in group.contains(where: \.readsJSON) }
        return node
    }

    private static func scope(of name: String, in scope: Scope) -> Scope {
        switch (scope, name) {
        case (.root, "s3"): .s3
        case (.s3, "bucket"): .s3Bucket
        case (.s3, "object"): .s3Object
        default: .other
        }
    }

    private static func normalizedField(_ name: String, in scope: Scope) -> NormalizedField? {
        switch (scope, name) {
        case (.root, "eventName"): .eventName
        case (.s3Bucket, "name"): .bucket
        case (.s3Object, "key"): .key
        default: nil
        }
    }

    private static func value(of field: NormalizedField, _ record: EventRecord) -> JSONValue {
        switch field {
        case .eventName: JSONValue(kind: .string(record.eventName), range: 0..<0)
        case .bucket: JSONValue(kind: .string(record.bucket), range: 0..<0)
        case .key: JSONValue(kind: .string(record.key), range: 0..<0)
        }
    }

    private static func leaf(_ values: [PatternValue]) -> Leaf {
        var leaf = Leaf(values: values)
        for value in values {
            switch value {
            case .exists(true): leaf.existsTrue = true
            case .exists(false): leaf.existsFalse = true
            default: leaf.matchers.append(contentsOf: matchers(value))
            }
        }
        return leaf
    }

    private static func lowered(_ text: String) -> [UInt8] { Array(text.lowercased().utf8) }

    private static func matchers(_ value: PatternValue) -> [Matcher] {
        switch value {
        case .string(let text): return [.string(Array(text.utf8), ip: IPAddress.parse(text))]
        case .number(let number): return [.number(number)]
        case .bool(let flag): return [.bool(flag)]
        case .null: return [.null]
        case .prefix(let text, let ignoringCase):
            return [ignoringCase ? .prefixIgnoringCase(lowered(text)) : .prefix(Array(text.utf8))]
        case .suffix(let text, let ignoringCase):
            return [ignoringCase ? .suffixIgnoringCase(lowered(text)) : .suffix(Array(text.utf8))]
        case .equalsIgnoringCase(let text): return [.equalsIgnoringCase(lowered(text))]
        case .wildcard(let wildcard): return [.wildcard(wildcard)]
        case .numeric(let range): return [.numeric(range)]
        case .cidr(let block): return [.cidr(block)]
        case .exists: return []
        case .anythingBut(let excluded):
            let inner: [Matcher]
            switch excluded {
            case .strings(let texts): inner = texts.map { .string(Array($0.utf8), ip: nil) }
            case .numbers(let numbers):
                inner = numbers.map { .numeric(NumericRange(lower: bound($0), upper: bound($0))) }
            case .prefixes(let texts): inner = texts.map { .prefix(Array($0.utf8)) }
            case .suffixes(let texts): inner = texts.map { .suffix(Array($0.utf8)) }
            case .equalsIgnoringCase(let texts): inner = texts.map { .equalsIgnoringCase(lowered($0)) }
            case .wildcards(let wildcards): inner = wildcards.map { .wildcard($0) }
            }
            return [.anythingBut(inner)]
        }
    }

    private static func bound(_ number: PatternNumber) -> NumericRange.Bound {
        NumericRange.Bound(value: number.value ?? .nan, text: number.text, inclusive: true)
    }

    // MARK: - Index hints

    /// Values of a top-level field (outside `$or`) when its list holds only exact strings; nil otherwise.
    func exactStrings(at path: [String]) -> [String]? {
        guard let values = topLevelValues(at: path) else { return nil }
        var out: [String] = []
        for value in values {
            guard case .string(let text) = value else { return nil }
            out.append(text)
        }
        return out
    }

    /// Key prefixes every matching record's key starts with, as bytes: from a top-level `s3.object.key` list of
    /// exact strings, case-sensitive prefixes and wildcards that do not start with `*` only; nil otherwise.
    func keyPrefixes() -> [[UInt8]]? {
        guard let values = topLevelValues(at: ["s3", "object", "key"]) else { return nil }
        var out: [[UInt8]] = []
        for value in values {
            switch value {
            case .string(let text): out.append(Array(text.utf8))
            case .prefix(let text, ignoringCase: false): out.append(Array(text.utf8))
            case .wildcard(let wildcard) where wildcard.segments.first?.isEmpty == false:
                out.append(wildcard.segments[0])
            default: return nil
            }
        }
        return out
    }

    /// The event names a top-level `eventName` list of exact strings and case-sensitive prefixes accepts: the known
    /// ids, and whether names outside the catalog may match. Nil when the list holds anything else or is absent.
    func eventNames() -> (ids: EventSet, acceptsUnknown: Bool)? {
        guard let values = topLevelValues(at: ["eventName"]) else { return nil }
        var ids = EventSet()
        var acceptsUnknown = false
        for value in values {
            switch value {
            case .string(let text):
                if let id = EventNameCatalog.ids[text] { ids.insert(id) } else { acceptsUnknown = true }
            case .prefix(let text, ignoringCase: false):
                for (id, name) in EventNameCatalog.allNames.enumerated() where name.utf8.starts(with: text.utf8) {
                    ids.insert(id)
                }
                acceptsUnknown = true
            default:
                return nil
            }
        }
        return (ids, acceptsUnknown)
    }

    /// A field outside `$or`, `eventName`, `s3.bucket.name` and `s3.object.key` whose list holds only exact strings
    /// that are not IP addresses (which also match other spellings): its path and values, for `RuleMatcher`'s value
    /// index. The first in file order, depth first; nil when there is none.
    func exactValueField() -> (path: [String], values: [String])? {
        func search(_ node: Node, _ path: [String]) -> (path: [String], values: [String])? {
            for field in node.fields {
                switch field.kind {
                case .leaf(let leaf):
                    guard !leaf.existsTrue, !leaf.existsFalse else { continue }
                    var values: [String] = []
                    for value in leaf.values {
                        guard case .string(let text) = value, IPAddress.parse(text) == nil else {
                            values = []
                            break
                        }
                        values.append(text)
                    }
                    if !values.isEmpty, values.count == leaf.values.count { return (path + [field.name], values) }
                case .node(let next):
                    if let found = search(next, path + [field.name]) { return found }
                }
            }
            return nil
        }
        return search(root, [])
    }

    /// Every string leaf of `record` at `path`, through arrays at any level, with the normalised fields in place.
    /// `json` is `record.json`, read once by the caller.
    static func strings(at path: [String], of record: EventRecord, json: JSONValue?) -> [String] {
        var out: [String] = []
        func walk(_ value: JSONValue?, _ scope: Scope, _ depth: Int) {
            guard let value else { return }
            if case .array(let elements) = value.kind {
                for element in elements { walk(element, .other, depth) }
                return
            }
            if depth == path.count {
                if case .string(let text) = value.kind { out.append(text) }
                return
            }
            let (child, childScope) = Self.child(path[depth], of: value, scope, record)
            walk(child, childScope, depth + 1)
        }
        guard let name = path.first else { return out }
        let (first, scope) = Self.child(name, of: json, .root, record)
        walk(first, scope, 1)
        return out
    }

    private func topLevelValues(at path: [String]) -> [PatternValue]? {
        var node = root
        for (index, name) in path.enumerated() {
            if index == path.count - 1, let normalized = node.normalized.first(where: { $0.name == name }) {
                let leaf = normalized.leaf
                return leaf.existsTrue || leaf.existsFalse ? nil : leaf.values
            }
            guard let field = node.fields.first(where: { $0.name == name }) else { return nil }
            switch field.kind {
            case .leaf(let leaf):
                guard index == path.count - 1, !leaf.existsTrue, !leaf.existsFalse else { return nil }
                return leaf.values
            case .node(let next):
                node = next
            }
        }
        return nil
    }

    // MARK: - Matching

    /// Where a value sits in the record, for the fields the relay normalises.
    enum Scope {
        case root, s3, s3Bucket, s3Object, other
    }

    /// Whether matching reads the record's JSON (`EventRecord.json`); false when every list is on `eventName`,
    /// `s3.bucket.name` or `s3.object.key`.
    var readsJSON: Bool { root.readsJSON }

    /// Whether `record` matches.
    func holds(_ record: EventRecord) -> Bool {
        holds(record, json: root.readsJSON ? record.json : nil)
    }

    /// Whether `record` matches, with its JSON read by the caller (`record.json`; only looked at when `readsJSON`),
    /// so that several patterns share one read.
    func holds(_ record: EventRecord, json: JSONValue?) -> Bool {
        if let normalizedOnly {
            for normalized in normalizedOnly
            where !Self.holds(normalized.leaf, Self.value(of: normalized.field, record)) {
                return false
            }
            return true
        }
        return holds(root, root.readsJSON ? json : nil, .root, record)
    }

    private func holds(_ node: Node, _ value: JSONValue?, _ scope: Scope, _ record: EventRecord) -> Bool {
        if let value, case .array(let elements) = value.kind {
            if elements.isEmpty { return holds(node, nil, .other, record) }
            for element in elements where holds(node, element, .other, record) { return true }
            return false
        }
        for normalized in node.normalized where !Self.holds(normalized.leaf, Self.value(of: normalized.field, record)) {
            return false
        }
        for field in node.fields {
            switch field.kind {
            case .leaf(let leaf):
                if !Self.holds(leaf, Self.child(field.name, of: value, scope, record).0) { return false }
            case .node(let next):
                // The record, `s3`, `s3.bucket` and `s3.object` are objects: a part that reads none of them needs
                // only its scope.
                if next.readsJSON {
                    let (child, childScope) = Self.child(field.name, of: value, scope, record)
                    if !holds(next, child, childScope, record) { return false }
                } else if !holds(next, nil, Self.scope(of: field.name, in: scope), record) {
                    return false
                }
            }
        }
        for group in node.alternatives where !group.contains(where: { holds($0, value, scope, record) }) {
            return false
        }
        return true
    }

    /// The member `name` of `value` (an object), with the relay's normalised values for `eventName`,
    /// `s3.bucket.name` and `s3.object.key`.
    static func child(
        _ name: String,
        of value: JSONValue?,
        _ scope: Scope,
        _ record: EventRecord
    ) -> (JSONValue?, Scope) {
        switch scope {
        case .root:
            if name == "eventName" { return (JSONValue(kind: .string(record.eventName), range: 0..<0), .other) }
            if name == "s3" { return (value?[name], .s3) }
        case .s3:
            if name == "bucket" { return (value?[name], .s3Bucket) }
            if name == "object" { return (value?[name], .s3Object) }
        case .s3Bucket:
            if name == "name" { return (JSONValue(kind: .string(record.bucket), range: 0..<0), .other) }
        case .s3Object:
            if name == "key" { return (JSONValue(kind: .string(record.key), range: 0..<0), .other) }
        case .other:
            break
        }
        return (value?[name], .other)
    }

    static func holds(_ leaf: Leaf, _ value: JSONValue?) -> Bool {
        var sawLeaf = false
        if let value,
            anyLeaf(
                value,
                sawLeaf: &sawLeaf,
                where: { leafValue in
                    leaf.matchers.contains { matches($0, leafValue) }
                }
            )
        {
            return true
        }
        if sawLeaf { return leaf.existsTrue }
        return leaf.existsFalse
    }

    /// Whether a leaf under `value` (itself, or an element of an array, nested arrays included) passes `test`;
    /// sets `sawLeaf` when there is any leaf. Objects are not leaves.
    private static func anyLeaf(
        _ value: JSONValue,
        sawLeaf: inout Bool,
        where test: (JSONValue) -> Bool
    ) -> Bool {
        switch value.kind {
        case .array(let elements):
            for element in elements where anyLeaf(element, sawLeaf: &sawLeaf, where: test) { return true }
            return false
        case .object:
            return false
        default:
            sawLeaf = true
            return test(value)
        }
    }

    static func matches(_ matcher: Matcher, _ value: JSONValue) -> Bool {
        switch matcher {
        case .string(let bytes, let ip):
            guard case .string(let text) = value.kind else { return false }
            if text.utf8.elementsEqual(bytes) { return true }
            if let ip, let other = IPAddress.parse(text) { return other == ip }
            return false
        case .number(let number):
            guard case .number(let text) = value.kind else { return false }
            if text == number.text { return true }
            guard let wanted = number.value, let actual = PatternNumber.exactValue(of: text) else { return false }
            return actual == wanted
        case .bool(let flag):
            return value.boolValue == flag
        case .null:
            return value.isNull
        case .prefix(let bytes):
            guard case .string(let text) = value.kind else { return false }
            return text.utf8.starts(with: bytes)
        case .suffix(let bytes):
            guard case .string(let text) = value.kind else { return false }
            return hasSuffix(text.utf8, bytes)
        case .prefixIgnoringCase(let bytes):
            guard case .string(let text) = value.kind else { return false }
            return text.lowercased().utf8.starts(with: bytes)
        case .suffixIgnoringCase(let bytes):
            guard case .string(let text) = value.kind else { return false }
            return hasSuffix(text.lowercased().utf8, bytes)
        case .equalsIgnoringCase(let bytes):
            guard case .string(let text) = value.kind else { return false }
            return text.lowercased().utf8.elementsEqual(bytes)
        case .wildcard(let wildcard):
            guard case .string(let text) = value.kind else { return false }
            return wildcard.matches(text)
        case .numeric(let range):
            guard case .number(let text) = value.kind, let actual = PatternNumber.exactValue(of: text) else {
                return false
            }
            return range.contains(actual)
        case .cidr(let block):
            guard case .string(let text) = value.kind, let address = IPAddress.parse(text) else { return false }
            return block.contains(address)
        case .anythingBut(let inner):
            return !inner.contains { matches($0, value) }
        }
    }

    private static func hasSuffix(_ text: String.UTF8View, _ suffix: [UInt8]) -> Bool {
        let count = text.count
        return count >= suffix.count && text.dropFirst(count - suffix.count).elementsEqual(suffix)
    }

    // MARK: - Explanations

    /// The first field `record` fails, e.g. `pattern.source.userAgent: "mc/1" matches none of ["Internal: [ILM-Expiry]"]`;
    /// nil when the pattern holds. Agrees with `holds(_:)`.
    func firstFailure(_ record: EventRecord) -> String? {
        firstFailure(root, record.json, .root, record, path: "pattern")
    }

    private func firstFailure(
        _ node: Node,
        _ value: JSONValue?,
        _ scope: Scope,
        _ record: EventRecord,
        path: String
    ) -> String? {
        if let value, case .array(let elements) = value.kind {
            if elements.isEmpty { return firstFailure(node, nil, .other, record, path: path) }
            var first: String?
            for element in elements {
                guard let failure = firstFailure(node, element, .other, record, path: path) else { return nil }
                if first == nil { first = failure }
            }
            let shown = first ?? ""
            return elements.count == 1 ? shown : "no element of \(path.escapedForMessage) matches; element 0: \(shown)"
        }
        for normalized in node.normalized {
            let child = Self.value(of: normalized.field, record)
            if !Self.holds(normalized.leaf, child) {
                return Self.describeFailure(normalized.leaf, child, path: path + "." + normalized.name)
            }
        }
        for field in node.fields {
            let fieldPath = path + "." + field.name
            let (child, childScope) = Self.child(field.name, of: value, scope, record)
            switch field.kind {
            case .leaf(let leaf):
                if !Self.holds(leaf, child) { return Self.describeFailure(leaf, child, path: fieldPath) }
            case .node(let next):
                if let failure = firstFailure(next, child, childScope, record, path: fieldPath) { return failure }
            }
        }
        for group in node.alternatives {
            var failures: [String] = []
            for alternative in group {
                guard let failure = firstFailure(alternative, value, scope, record, path: path) else { break }
                failures.append(failure)
            }
            if failures.count == group.count {
                return "\(path.escapedForMessage).$or: none of the \(group.count) alternatives holds: "
                    + failures.joined(separator: "; ")
            }
        }
        return nil
    }

    private static func describeFailure(_ leaf: Leaf, _ value: JSONValue?, path: String) -> String {
        let expected = describe(leaf.values)
        var found: [String] = []
        if let value { collectLeaves(value, into: &found) }
        let field = path.escapedForMessage
        if found.isEmpty {
            if let value, case .object = value.kind { return "\(field): an object, not a value; expected \(expected)" }
            return "\(field): missing; expected \(expected)"
        }
        let shown = found.prefix(5).joined(separator: ", ") + (found.count > 5 ? ", ..." : "")
        return "\(field): \(shown) matches none of \(expected)"
    }

    private static func collectLeaves(_ value: JSONValue, into out: inout [String]) {
        switch value.kind {
        case .array(let elements): for element in elements { collectLeaves(element, into: &out) }
        case .object: break
        case .string(let text): out.append(text.quotedForMessage)
        case .number(let text): out.append(String(text.prefix(40)))
        case .bool(let flag): out.append(flag ? "true" : "false")
        case .null: out.append("null")
        }
    }

    /// A pattern list in its JSON form, e.g. `["a", {"prefix": "b"}]`.
    static func describe(_ values: [PatternValue]) -> String {
        "[" + values.prefix(10).map(describe).joined(separator: ", ") + (values.count > 10 ? ", ..." : "") + "]"
    }

    static func describe(_ value: PatternValue) -> String {
        func list(_ texts: [String]) -> String {
            texts.count == 1
                ? texts[0].quotedForMessage : "[" + texts.map(\.quotedForMessage).joined(separator: ", ") + "]"
        }
        switch value {
        case .string(let text): return text.quotedForMessage
        case .number(let number): return number.text
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .prefix(let text, let ignoringCase):
            return ignoringCase
                ? "{\"prefix\": {\"equals-ignore-case\": \(text.quotedForMessage)}}"
                : "{\"prefix\": \(text.quotedForMessage)}"
        case .suffix(let text, let ignoringCase):
            return ignoringCase
                ? "{\"suffix\": {\"equals-ignore-case\": \(text.quotedForMessage)}}"
                : "{\"suffix\": \(text.quotedForMessage)}"
        case .equalsIgnoringCase(let text): return "{\"equals-ignore-case\": \(text.quotedForMessage)}"
        case .wildcard(let wildcard): return "{\"wildcard\": \(wildcard.text.quotedForMessage)}"
        case .exists(let flag): return "{\"exists\": \(flag)}"
        case .cidr(let block): return "{\"cidr\": \(block.text.quotedForMessage)}"
        case .numeric(let range):
            var parts: [String] = []
            if let lower = range.lower, let upper = range.upper, lower == upper {
                parts = ["\"=\"", lower.text]
            } else {
                if let lower = range.lower { parts += [lower.inclusive ? "\">=\"" : "\">\"", lower.text] }
                if let upper = range.upper { parts += [upper.inclusive ? "\"<=\"" : "\"<\"", upper.text] }
            }
            return "{\"numeric\": [" + parts.joined(separator: ", ") + "]}"
        case .anythingBut(let excluded):
            let operand: String
            switch excluded {
            case .strings(let texts): operand = list(texts)
            case .numbers(let numbers):
                operand = numbers.count == 1 ? numbers[0].text : "[" + numbers.map(\.text).joined(separator: ", ") + "]"
            case .prefixes(let texts): operand = "{\"prefix\": \(list(texts))}"
            case .suffixes(let texts): operand = "{\"suffix\": \(list(texts))}"
            case .equalsIgnoringCase(let texts): operand = "{\"equals-ignore-case\": \(list(texts))}"
            case .wildcards(let wildcards): operand = "{\"wildcard\": \(list(wildcards.map(\.text)))}"
            }
            return "{\"anything-but\": \(operand)}"
        }
    }
}
