/// The bytes of one rule file and the path diagnostics show for it.
///
/// The caller reads the files (one file, or every `*.json` of a directory in name order) and passes them to
/// `RuleSetCompiler.compile(_:environment:)` in that order; the order decides which rule comes first.
public struct RuleSource: Sendable {
    /// The path as diagnostics show it, e.g. `rules/a.json`.
    public var path: String
    /// The file's contents: UTF-8 JSON.
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    /// A source whose contents are `text`'s UTF-8 bytes.
    public init(path: String, text: String) {
        self.path = path
        self.bytes = Array(text.utf8)
    }
}
