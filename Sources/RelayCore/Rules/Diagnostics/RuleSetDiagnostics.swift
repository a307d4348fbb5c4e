/// Every problem found while loading a rule set: the failure of `RuleSetCompiler.compile(_:environment:)`.
///
/// Holds at least one error; warnings found along the way are included. Ordered by file (in the order given), then
/// by position in the file.
public struct RuleSetDiagnostics: Error, Sendable, Equatable, CustomStringConvertible {
    /// Errors and warnings, by file (in load order), then by position.
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    /// The diagnostics of severity `.error`.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// One diagnostic per line, compiler-style (see `Diagnostic`).
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
