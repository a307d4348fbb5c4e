/// Loads rule files into a `RuleSet`: parse, validate strictly, resolve names across files, compile the matcher.
///
/// Stages: bytes → JSON (`JSONParser`, which keeps byte ranges so diagnostics carry line and column) → validated
/// `Target`s and `Rule`s per file (`RuleFileReader`) → cross-file checks → `RuleSet` with its `RuleMatcher`. Every
/// problem is collected; nothing is half applied.
public enum RuleSetCompiler {
    /// Compiles `sources`, in the given order (the order decides which rule comes first), expanding `${NAME}` in
    /// target URLs, header values and signing secrets from `environment`.
    ///
    /// - Returns: the rule set, with warnings in `RuleSet.warnings`; or every error and warning found, ordered by
    ///   file and position, printed compiler-style by `RuleSetDiagnostics.description`. An empty `sources` gives an
    ///   empty rule set (the caller decides whether a rules directory without files is an error).
    /// Checks a file that a rule file names (a target's `tls` files), given its resolved path: nil when it can be
    /// used, otherwise the problem (`cannot read: no such file`). This module does no I/O; the loader passes one.
    public typealias FileCheck = @Sendable (String) -> String?

    /// - Parameter fileCheck: checks the files rule files name; nil skips the check (the files are then only read
    ///   when a delivery needs them).
    public static func compile(
        _ sources: [RuleSource],
        environment: [String: String],
        fileCheck: FileCheck? = nil
    ) -> Result<RuleSet, RuleSetDiagnostics> {
        var readers: [RuleFileReader] = []
        for source in sources {
            var reader = RuleFileReader(source: source, environment: environment, fileCheck: fileCheck)
            reader.read()
            readers.append(reader)
        }
        // Cross-file diagnostics, keyed by file index.
        var extra: [(file: Int, entry: RuleFileReader.Entry)] = []
        func add(
            _ file: Int,
            _ code: Diagnostic.Code,
            at offset: Int,
            subject: String?,
            field: String?,
            _ message: String,
            severity: Diagnostic.Severity = .error
        ) {
            let (line, column) = readers[file].location(of: offset)
            let diagnostic = Diagnostic(
                severity: severity,
                code: code,
                file: readers[file].source.path,
                line: line,
                column: column,
                subject: subject,
                field: field,
                message: message
            )
            extra.append((file, RuleFileReader.Entry(offset: offset, diagnostic: diagnostic)))
        }
        func place(_ file: Int, _ offset: Int) -> String {
            let (line, column) = readers[file].location(of: offset)
            return "\(readers[file].source.path):\(line):\(column)"
        }

        // Targets: unique names, in order of appearance.
        var targetOrigin: [String: (file: Int, offset: Int)] = [:]
        var targets: [Target] = []
        var allValid = true
        for (file, reader) in readers.enumerated() {
            for parsed in reader.targets {
                if let first = targetOrigin[parsed.name] {
                    add(
                        file,
                        .duplicateName,
                        at: parsed.offset,
                        subject: "target \(parsed.name.quotedForMessage)",
                        field: nil,
                        "duplicate target name, first declared at \(place(first.file, first.offset)); rename one"
                    )
                    allValid = false
                    continue
                }
                targetOrigin[parsed.name] = (file, parsed.offset)
                if let target = parsed.target {
                    targets.append(target)
                } else {
                    allValid = false
                }
            }
        }
        let targetNames = readers.flatMap { $0.targets.map(\.name) }

        // Rules: unique names, known targets.
        var ruleOrigin: [String: (file: Int, offset: Int)] = [:]
        var usedTargets: Set<String> = []
        var rules: [Rule] = []
        for (file, reader) in readers.enumerated() {
            for parsed in reader.rules {
                if let name = parsed.name {
                    if let first = ruleOrigin[name] {
                        add(
                            file,
                            .duplicateName,
                            at: parsed.offset,
                            subject: parsed.subject,
                            field: "name",
                            "duplicate rule name, first declared at \(place(first.file, first.offset)); rename one"
                        )
                        allValid = false
                    } else {
                        ruleOrigin[name] = (file, parsed.offset)
                    }
                }
                for reference in parsed.references {
                    usedTargets.insert(reference.name)
                    if targetOrigin[reference.name] == nil {
                        let hint =
                            Suggestion.closest(to: reference.name, among: targetNames).map {
                                "; did you mean \($0.quotedForMessage)?"
                            } ?? "; declare it under \"targets\" in any rule file"
                        add(
                            file,
                            .unknownTarget,
                            at: reference.offset,
                            subject: parsed.subject,
                            field: reference.field,
                            "unknown target \(reference.name.quotedForMessage)" + hint
                        )
                        allValid = false
                    }
                }
                if let rule = parsed.rule {
                    rules.append(rule)
                } else {
                    allValid = false
                }
            }
        }

        // Warnings: targets no rule names.
        for (file, reader) in readers.enumerated() {
            for parsed in reader.targets where !usedTargets.contains(parsed.name) {
                if targetOrigin[parsed.name]?.file != file || targetOrigin[parsed.name]?.offset != parsed.offset {
                    continue
                }
                add(
                    file,
                    .unusedTarget,
                    at: parsed.offset,
                    subject: "target \(parsed.name.quotedForMessage)",
                    field: nil,
                    "not named by any rule; add it to a rule's \"to\" or remove it",
                    severity: .warning
                )
            }
        }

        var all: [(file: Int, order: Int, entry: RuleFileReader.Entry)] = []
        for (file, reader) in readers.enumerated() {
            for entry in reader.entries { all.append((file, all.count, entry)) }
        }
        for (file, entry) in extra { all.append((file, all.count, entry)) }
        all.sort { ($0.file, $0.entry.offset, $0.order) < ($1.file, $1.entry.offset, $1.order) }
        let diagnostics = all.map(\.entry.diagnostic)

        let failed = !allValid || readers.contains { $0.errorCount > 0 }
        if failed {
            return .failure(RuleSetDiagnostics(diagnostics: diagnostics))
        }
        return .success(RuleSet(targets: targets, rules: rules, warnings: diagnostics))
    }
}
