import Foundation

/// The process environment, for `RELAY_*` twins of flags and `${NAME}` expansion in rules.
enum ProcessEnvironment {
    static var values: [String: String] { ProcessInfo.processInfo.environment }

    /// The flag's value, else its `RELAY_<NAME>` twin, else nil. A flag beats its twin (docs/interface.md, "`serve`").
    static func twin(_ flag: String?, _ name: String) -> String? {
        if let flag { return flag }
        if let value = values["RELAY_\(name)"], !value.isEmpty { return value }
        return nil
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
