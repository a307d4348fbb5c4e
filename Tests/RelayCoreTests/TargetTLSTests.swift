import Synchronization
import Testing

@testable import RelayCore

/// The `tls` object of a target (docs/rules.md, "TLS to a target"): parsed, paths resolved against the rule file's
/// folder and checked through the loader's file check, refused when inconsistent, warned about when insecure.
@Suite struct TargetTLSTests {
    private static func compile(
        _ tls: String,
        url: String = "https://hook.internal/in",
        missing: Set<String> = []
    )
        -> (Result<RuleSet, RuleSetDiagnostics>, [String])
    {
        let checked = Mutex<[String]>([])
        let json = """
            {"targets": {"t": {"url": "\(url)", "tls": \(tls)}},
             "rules": [{"name": "r", "match": {}, "to": ["t"]}]}
            """
        let result = RuleSetCompiler.compile(
            [RuleSource(path: "conf/rules/a.json", text: json)],
            environment: ["PKI": "/etc/pki"],
            fileCheck: { path in
                checked.withLock { $0.append(path) }
                return missing.contains(path) ? "\(path): no such file" : nil
            }
        )
        return (result, checked.withLock { $0 })
    }

    @Test func pathsAreResolvedBesideTheRuleFileAndChecked() throws {
        let (result, checked) = Self.compile(
            #"{"caFile": "pki/ca.pem", "certFile": "${PKI}/client.pem", "keyFile": "/abs/client.key"}"#
        )
        let target = try #require(try result.get().target(named: "t"))
        #expect(
            target.tls
                == TargetTLS(
                    caFile: "conf/rules/pki/ca.pem",
                    certFile: "/etc/pki/client.pem",
                    keyFile: "/abs/client.key"
                )
        )
        #expect(checked == ["conf/rules/pki/ca.pem", "/etc/pki/client.pem", "/abs/client.key"])
        #expect(try result.get().warnings.isEmpty)
    }

    @Test func insecureSkipVerifyLoadsWithAWarning() throws {
        let (result, _) = Self.compile(#"{"insecureSkipVerify": true}"#)
        let ruleSet = try result.get()
        #expect(ruleSet.target(named: "t")?.tls?.insecureSkipVerify == true)
        #expect(ruleSet.warnings.map(\.code) == [.insecureTLS])
        #expect(ruleSet.warnings.first?.description.contains("tls.insecureSkipVerify") == true)
    }

    @Test(
        arguments: [
            (#"{"caFile": "ca.pem"}"#, "http://hook.internal/in", #"tls: the url is not https://"#),
            (#"{"keyFile": "k.pem"}"#, "https://h/", #"tls.certFile: "keyFile" needs "certFile""#),
            (#"{"caFile": 7}"#, "https://h/", "tls.caFile: expected a file path string, found number"),
            (#"{"caFile": ""}"#, "https://h/", "tls.caFile: empty path"),
            (#"{"caFile": "${NOPE}"}"#, "https://h/", "NOPE"),
            (#"{"insecureSkipVerify": "yes"}"#, "https://h/", "tls.insecureSkipVerify: expected true or false"),
            (#"{"cafile": "ca.pem"}"#, "https://h/", #"tls.cafile: unknown field; did you mean "caFile"?"#),
            (#""ca.pem""#, "https://h/", "tls: expected an object, found string"),
            (#"{"caFile": "gone.pem"}"#, "https://h/", "tls.caFile: conf/rules/gone.pem: no such file"),
        ]
    )
    func brokenSettingsAreRefused(tls: String, url: String, expected: String) {
        let (result, _) = Self.compile(tls, url: url, missing: ["conf/rules/gone.pem"])
        guard case .failure(let diagnostics) = result else {
            Issue.record("\(tls) loaded")
            return
        }
        let text = diagnostics.description
        #expect(text.contains(#"target "t": "#), "\(text)")
        #expect(text.contains(expected), "\(text)")
    }
}
