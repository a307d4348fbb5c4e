import Foundation
import RelayCore
import Testing

/// `${NAME:-default}` in target fields: the default written in the rule file stands in for an unset variable.
struct RuleEnvironmentDefaultTests {
    static let text = #"""
        { "targets": { "t": { "url": "${BASE:-http://127.0.0.1:9000}/hook" } },
          "rules": [ { "name": "r", "match": {}, "to": ["t"] } ] }
        """#

    @Test(arguments: [
        ([:], "http://127.0.0.1:9000/hook"),
        (["BASE": ""], "http://127.0.0.1:9000/hook"),
        (["BASE": "http://receiver:9000"], "http://receiver:9000/hook"),
    ])
    func usesTheVariableOrElseTheDefault(environment: [String: String], url: String) throws {
        let ruleSet = try RuleSetCompiler.compile(
            [RuleSource(path: "r.json", text: Self.text)],
            environment: environment
        )
        .get()
        #expect(ruleSet.target(named: "t")?.url == url)
    }

    @Test func anEmptyDefaultIsStillAMissingVariable() {
        let text = Self.text.replacingOccurrences(of: "${BASE:-http://127.0.0.1:9000}", with: "${BASE:-}")
        let result = RuleSetCompiler.compile([RuleSource(path: "r.json", text: text)], environment: [:])
        guard case .failure(let diagnostics) = result else {
            Issue.record("an empty default must not expand to an empty string")
            return
        }
        #expect(diagnostics.diagnostics.contains { $0.code == .missingVariable })
    }
}
