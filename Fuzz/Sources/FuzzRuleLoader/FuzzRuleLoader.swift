import FuzzSupport
import RelayCore

/// Rule files: `RuleSetCompiler.compile`, then, when the rules load, match and explain fixed and derived records.
///
/// The input is one rule file, or two when it holds a NUL byte (never valid in JSON): `f.json` before the first NUL,
/// `g.json` after it, so names declared in one file and used in the other are exercised too.
///
/// Invariants: a failure holds at least one error and every diagnostic points into its file; a loaded set has only
/// warnings, unique names, targets within their documented limits and rules whose targets exist; for every record
/// the indexed matcher (`matchingRules`, `match`) agrees with the plain evaluation (`explain`, `MatchSpec.matches`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRuleLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: data, count: size))
    var sources: [RuleSource] = []
    if let nul = input.firstIndex(of: 0) {
        sources = [
            RuleSource(path: "f.json", bytes: Array(input[..<nul])),
            RuleSource(path: "g.json", bytes: Array(input[(nul + 1)...])),
        ]
    } else {
        sources = [RuleSource(path: "f.json", bytes: input)]
    }
    switch RuleSetCompiler.compile(sources, environment: environment) {
    case .failure(let failure):
        checkDiagnostics(failure.diagnostics, sources, mustHaveError: true)
        FuzzCheck.require(!failure.description.isEmpty, "empty diagnostics description")
    case .success(let ruleSet):
        checkDiagnostics(ruleSet.warnings, sources, mustHaveError: false)
        checkRuleSet(ruleSet)
        for record in fixedRecords + derivedRecords(ruleSet) {
            checkMatch(ruleSet, record)
        }
        // Runs for crashes only: a value with a line break is shell-quoted across lines, which is still valid sh.
        _ = MinioConfigGenerator.lines(for: ruleSet, alias: "local", arn: "arn:minio:sqs::relay:webhook")
    }
    return 0
}

private let environment = [
    "RECEIVER_URL": "http://127.0.0.1:9000",
    "SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "TOKEN": "Bearer abc",
    "EMPTY": "",
    "CRLF": "a\r\nb",
]

private func checkDiagnostics(_ diagnostics: [Diagnostic], _ sources: [RuleSource], mustHaveError: Bool) {
    if mustHaveError {
        FuzzCheck.require(diagnostics.contains { $0.severity == .error }, "a failed load without an error")
    } else {
        FuzzCheck.require(diagnostics.allSatisfy { $0.severity == .warning }, "a loaded set with an error")
    }
    for diagnostic in diagnostics {
        guard let source = sources.first(where: { $0.path == diagnostic.file }) else {
            FuzzCheck.require(false, "diagnostic for unknown file \(diagnostic.file)")
            return
        }
        let lineCount = source.bytes.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        if let line = diagnostic.line {
            FuzzCheck.require(line >= 1 && line <= lineCount, "diagnostic line \(line) of \(lineCount)")
        }
        if let column = diagnostic.column {
            FuzzCheck.require(column >= 1 && column <= source.bytes.count + 1, "diagnostic column \(column)")
        }
        FuzzCheck.require(!diagnostic.message.isEmpty, "diagnostic without a message")
        FuzzCheck.require(
            !diagnostic.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
            "a diagnostic holds a raw control character (it must print on one line): \(diagnostic)"
        )
    }
}

private func checkRuleSet(_ ruleSet: RuleSet) {
    var targetNames: Set<[UInt8]> = []
    for (index, target) in ruleSet.targets.enumerated() {
        FuzzCheck.require(targetNames.insert(Array(target.name.utf8)).inserted, "duplicate target \(target.name)")
        FuzzCheck.require(ruleSet.targetIndex(named: target.name) == index, "targetIndex(named:) for \(target.name)")
        let scheme = target.url.prefix { $0 != ":" }.lowercased()
        FuzzCheck.require(scheme == "http" || scheme == "https", "target URL \(target.url)")
        FuzzCheck.require((1...1024).contains(target.maxInFlight), "maxInFlight \(target.maxInFlight)")
        FuzzCheck.require((1...1000).contains(target.retry.attempts), "retry.attempts \(target.retry.attempts)")
        FuzzCheck.require(target.timeout > .zero, "timeout \(target.timeout)")
        FuzzCheck.require(
            target.retry.initialBackoff > .zero && target.retry.initialBackoff <= target.retry.maxBackoff,
            "backoff \(target.retry)"
        )
        for header in target.headers {
            FuzzCheck.require(
                !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }),
                "header \(header.name) value holds CR, LF or NUL"
            )
        }
        FuzzCheck.require(target.signingSecrets.allSatisfy { !$0.isEmpty }, "empty signing secret")
    }
    var ruleNames: Set<[UInt8]> = []
    for rule in ruleSet.rules {
        FuzzCheck.require(ruleNames.insert(Array(rule.name.utf8)).inserted, "duplicate rule \(rule.name)")
        FuzzCheck.require(!rule.to.isEmpty, "rule \(rule.name) has no targets")
        for name in rule.to {
            FuzzCheck.require(ruleSet.targetIndex(named: name) != nil, "rule \(rule.name) names unknown \(name)")
        }
    }
}

/// The indexed matcher and the plain evaluation must agree on every rule.
private func checkMatch(_ ruleSet: RuleSet, _ record: EventRecord) {
    let explanations = ruleSet.explain(record)
    FuzzCheck.require(explanations.count == ruleSet.rules.count, "one explanation per rule")
    var plain: [Int] = []
    for (index, explanation) in explanations.enumerated() {
        let rule = ruleSet.rules[index]
        FuzzCheck.require(FuzzCheck.sameBytes(explanation.rule, rule.name), "explanation order")
        FuzzCheck.require(explanation.matched == (explanation.reason == nil), "reason iff not matched")
        FuzzCheck.require(
            rule.match.matches(record) == explanation.matched,
            "MatchSpec.matches and explain disagree on rule \(rule.name)"
        )
        _ = explanation.description
        if explanation.matched { plain.append(index) }
    }
    let indexed = ruleSet.matcher.matchingRules(record)
    FuzzCheck.require(
        indexed == plain,
        "indexed matcher picked rules \(indexed), plain evaluation \(plain) for \(record)"
    )
    var expected: [MatchedTarget] = []
    for index in plain {
        for name in ruleSet.rules[index].to {
            guard let target = ruleSet.targetIndex(named: name) else { continue }
            if !expected.contains(where: { $0.targetIndex == target }) {
                expected.append(MatchedTarget(targetIndex: target, rule: ruleSet.rules[index].name))
            }
        }
    }
    expected.sort { $0.targetIndex < $1.targetIndex }
    let matched = ruleSet.match(record)
    FuzzCheck.require(matched == expected, "match gave \(matched), expected \(expected)")
}

/// Records of every shape the decoder produces: MinIO, AWS and RGW sources, no size, unknown event names, content
/// type only in metadata, non-ASCII keys and buckets in composed and decomposed forms.
private let fixedRecords: [EventRecord] = [
    EventRecord(
        eventName: "s3:ObjectCreated:Put",
        eventSource: "minio:s3",
        bucket: "photos",
        key: "uploads/2026/cat.jpg",
        size: 48213,
        contentType: "image/jpeg",
        metadata: ["x-amz-meta-kind": "avatar", "content-type": "image/jpeg"]
    ),
    EventRecord(
        eventName: "s3:ObjectCreated:Put",
        eventSource: "minio:s3",
        bucket: "logs",
        key: "empty.marker",
        metadata: ["content-type": "Text/Plain; charset=utf-8"]
    ),
    EventRecord(eventName: "s3:ObjectRemoved:Delete", eventSource: "aws:s3", bucket: "photos", key: "uploads/tmp/x"),
    EventRecord(
        eventName: "s3:ObjectCreated:CompleteMultipartUpload",
        eventSource: "ceph:s3",
        bucket: "raw",
        key: "in/hello world ü.txt",
        size: 734_003_200,
        contentType: " video/MP4 ;codecs=avc1",
        metadata: ["x-amz-meta-demo": "1", "Kind": "Avatar"]
    ),
    EventRecord(eventName: "s3:ObjectCreated:Unknown", bucket: "photos", key: "a", size: 0),
    EventRecord(eventName: "s3:Custom:Thing", bucket: "b", key: "k", size: Int64.max),
    EventRecord(eventName: "s3:ObjectAccessed:Get", bucket: "caf\u{E9}", key: "caf\u{E9}/r\u{E9}sum\u{E9}.pdf"),
    EventRecord(
        eventName: "s3:ObjectCreated:Put",
        bucket: "cafe\u{301}",
        key: "cafe\u{301}/re\u{301}sume\u{301}.pdf",
        size: 1,
        contentType: "image/jpeg"
    ),
    EventRecord(eventName: "s3:ObjectCreated:Put", bucket: "\u{212A}", key: "\u{212A}", size: 1, contentType: "a/b"),
]

/// Up to 12 records built from the rules' own values, so that conditions hold often enough to reach `not`, size
/// bounds and metadata comparisons.
private func derivedRecords(_ ruleSet: RuleSet) -> [EventRecord] {
    var records: [EventRecord] = []
    for rule in ruleSet.rules.prefix(6) {
        records.append(record(from: rule.match))
        if let not = rule.match.not {
            var excluded = record(from: not)
            let base = records[records.count - 1]
            if rule.match.events != nil, not.events == nil { excluded.eventName = base.eventName }
            if rule.match.buckets != nil, not.buckets == nil { excluded.bucket = base.bucket }
            records.append(excluded)
        }
    }
    return Array(records.prefix(12))
}

private func record(from spec: MatchSpec) -> EventRecord {
    var eventName = spec.events?.first ?? "s3:ObjectCreated:Put"
    if eventName.hasSuffix("*") { eventName = String(eventName.dropLast()) + "Put" }
    let key = (spec.prefixes?.first ?? "") + (spec.suffixes?.first ?? "")
    var metadata: [String: String] = [:]
    for condition in spec.metadata ?? [] {
        metadata[condition.name] = condition.values.first
    }
    let contentType = spec.contentTypes?.first.map { pattern in
        pattern == "*/*" ? "x/y" : pattern.hasSuffix("/*") ? String(pattern.dropLast()) + "y" : pattern
    }
    return EventRecord(
        eventName: eventName,
        bucket: spec.buckets?.first ?? "photos",
        key: key.isEmpty ? "k" : key,
        size: spec.size.map { $0.min ?? $0.max ?? 0 },
        contentType: contentType,
        metadata: metadata
    )
}
