import Foundation
import RelayCore

/// Reads rule files from disk: one file, or every `*.json` of a directory in name order (docs/rules.md, "A rule file").
public enum RuleFiles {
    /// Reads the rule sources at `path`.
    /// - Returns: the sources, or one diagnostic naming the path when it is missing, unreadable or holds no rule file.
    public static func read(path: String) -> Result<[RuleSource], RuleSetDiagnostics> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(single(path, "no such file or directory; pass --rules FILE|DIR (env RELAY_RULES)"))
        }
        var files: [String] = []
        if isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                return .failure(single(path, "cannot list directory: \(error.localizedDescription)"))
            }
            let base = path.hasSuffix("/") ? String(path.dropLast()) : path
            files = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().map { "\(base)/\($0)" }
            if files.isEmpty {
                return .failure(single(path, "directory holds no *.json rule file"))
            }
        } else {
            files = [path]
        }
        var sources: [RuleSource] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                return .failure(single(file, "cannot read file"))
            }
            sources.append(RuleSource(path: file, bytes: [UInt8](data)))
        }
        return .success(sources)
    }

    /// Reads and compiles the rule set at `path` with `environment` for `${NAME}` expansion.
    public static func load(path: String, environment: [String: String]) -> Result<RuleSet, RuleSetDiagnostics> {
        switch read(path: path) {
        case .failure(let diagnostics):
            return .failure(diagnostics)
        case .success(let sources):
            return RuleSetCompiler.compile(sources, environment: environment, fileCheck: checkReadable)
        }
    }

    /// A file a rule file names (a target's TLS files) must be a readable regular file.
    @Sendable static func checkReadable(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return "\(path.quotedForMessage): no such file"
        }
        if isDirectory.boolValue { return "\(path.quotedForMessage): a directory, expected a PEM file" }
        guard FileManager.default.isReadableFile(atPath: path) else {
            return "\(path.quotedForMessage): not readable by the relay"
        }
        return nil
    }

    private static func single(_ file: String, _ message: String) -> RuleSetDiagnostics {
        RuleSetDiagnostics(diagnostics: [
            Diagnostic(code: .invalidValue, file: file, subject: nil, field: nil, message: message)
        ])
    }
}
