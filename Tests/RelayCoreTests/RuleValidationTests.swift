import Testing

@testable import RelayCore

@Suite struct RuleValidationTests {
    typealias R = RuleTesting

    @Test func loadsTheDesignExampleWithDefaultsFilledIn() throws {
        let ruleSet = R.ruleSet(
            #"""
            {
              "targets": {
                "thumbnailer": {
                  "url": "http://thumbnailer:8080/events",
                  "headers": { "Authorization": "Bearer ${THUMBNAILER_TOKEN}" },
                  "format": "minio",
                  "timeout": "5s",
                  "maxInFlight": 16,
                  "retry": { "attempts": 8, "initialBackoff": "200ms", "maxBackoff": "30s" },
                  "signingSecret": "${THUMBNAILER_SIGNING_SECRET}"
                },
                "audit": { "url": "https://audit.example/in?x=${Q}", "format": "cloudevents",
                           "signingSecret": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "old-raw-secret"] }
              },
              "rules": [
                {
                  "name": "new-images",
                  "match": {
                    "event": ["s3:ObjectCreated:*"],
                    "bucket": ["photos"],
                    "prefix": ["uploads/"],
                    "suffix": [".jpg", ".jpeg", ".png"],
                    "contentType": ["image/*"],
                    "size": { "min": 1, "max": 52428800 },
                    "metadata": { "x-amz-meta-kind": ["avatar"] },
                    "not": { "prefix": ["uploads/tmp/"] }
                  },
                  "to": ["thumbnailer"]
                },
                { "name": "audit-deletes", "match": { "event": "ObjectRemoved:*", "size": { "max": "1MiB" } },
                  "to": "audit" }
              ]
            }
            """#,
            environment: ["THUMBNAILER_TOKEN": "tok", "THUMBNAILER_SIGNING_SECRET": "whsec_c2VjcmV0", "Q": "$${1}"]
        )
        let thumbnailer = try #require(ruleSet.target(named: "thumbnailer"))
        #expect(thumbnailer.url == "http://thumbnailer:8080/events")
        #expect(thumbnailer.headers.map(\.name) == ["Authorization"])
        #expect(thumbnailer.headers.map(\.value) == ["Bearer tok"])
        #expect(thumbnailer.format == .minio)
        #expect(thumbnailer.timeout == .seconds(5))
        #expect(thumbnailer.maxInFlight == 16)
        #expect(
            thumbnailer.retry
                == RetryConfiguration(attempts: 8, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30))
        )
        #expect(thumbnailer.signingSecrets == ["whsec_c2VjcmV0"])
        #expect(thumbnailer.file == "rules/a.json")

        let audit = try #require(ruleSet.target(named: "audit"))
        // A variable's value is not expanded again.
        #expect(audit.url == "https://audit.example/in?x=$${1}")
        #expect(audit.format == .cloudevents)
        #expect(audit.timeout == .seconds(10))
        #expect(audit.maxInFlight == 16)
        #expect(audit.retry == RetryConfiguration(attempts: 10, initialBackoff: .seconds(1), maxBackoff: .seconds(300)))
        #expect(audit.signingSecrets == ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "old-raw-secret"])

        #expect(ruleSet.rules.map(\.name) == ["new-images", "audit-deletes"])
        #expect(ruleSet.warnings.isEmpty)
        let images = ruleSet.rules[0].match
        #expect(images.events == ["s3:ObjectCreated:*"])
        #expect(images.buckets == ["photos"])
        #expect(images.suffixes == [".jpg", ".jpeg", ".png"])
        #expect(images.contentTypes == ["image/*"])
        #expect(images.size == MatchSpec.SizeRange(min: 1, max: 52_428_800))
        #expect(images.metadata == [MatchSpec.MetadataCondition(name: "x-amz-meta-kind", values: ["avatar"])])
        #expect(images.not == MatchSpec(prefixes: ["uploads/tmp/"]))
        #expect(ruleSet.rules[1].match.events == ["s3:ObjectRemoved:*"])
        #expect(ruleSet.rules[1].match.size == MatchSpec.SizeRange(max: 1_048_576))
        #expect(ruleSet.rules[1].to == ["audit"])
    }

    @Test func expandsEscapedDollarBraceLiterally() throws {
        let ruleSet = R.ruleSet(
            #"{"targets": {"t": {"url": "http://t/$${X}/$Y", "headers": {"X-A": "a$${B}c"}}}, "rules": [{"name": "r", "to": "t"}]}"#
        )
        #expect(ruleSet.target(named: "t")?.url == "http://t/${X}/$Y")
        #expect(ruleSet.target(named: "t")?.headers.first?.value == "a${B}c")
    }

    @Test func rejectsUnknownFieldsWithASuggestion() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "http://t/", "timout": "5s"}},
             "rules": [{"name": "x", "match": {"sufix": ".jpg", "Bucket": "b", "zzz": 1}, "to": "t"}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:1:40: error: target "t": timout: unknown field; did you mean "timeout"?"#,
                #"rules/a.json:2:36: error: rule "x": match.sufix: unknown field; did you mean "suffix"?"#,
                #"rules/a.json:2:53: error: rule "x": match.Bucket: unknown field; did you mean "bucket"?"#,
                #"rules/a.json:2:68: error: rule "x": match.zzz: unknown field; expected one of "event", "bucket", "#
                    + #""prefix", "suffix", "contentType", "size", "metadata", "not""#,
            ]
        )
    }

    @Test func rejectsUnknownTargetsAndSuggestsCloseNames() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"thumbnailer": {"url": "http://t/"}},
             "rules": [{"name": "x", "to": ["thumbnailer", "thumbnailr", "nothing-like-it"]}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:2:48: error: rule "x": to[1]: unknown target "thumbnailr"; did you mean "thumbnailer"?"#,
                #"rules/a.json:2:62: error: rule "x": to[2]: unknown target "nothing-like-it"; declare it under "#
                    + #""targets" in any rule file"#,
            ]
        )
    }

    @Test func rejectsBadSizes() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "http://t/"}},
             "rules": [{"name": "x",
                        "match": {"size": {"min": -1, "max": 1.5}},
                        "to": "t"},
                       {"name": "y", "match": {"size": {"min": 10, "max": "5"}}, "to": "t"},
                       {"name": "z", "match": {"size": {"min": "5 potatoes", "max": true}}, "to": "t"},
                       {"name": "w", "match": {"size": {}}, "to": "t"}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:3:39: error: rule "x": match.size.min: must be >= 0"#,
                #"rules/a.json:3:50: error: rule "x": match.size.max: must be a whole number of bytes, or a size "#
                    + #"string like "50MiB""#,
                #"rules/a.json:5:63: error: rule "y": match.size.max: must be >= min (10), found 5"#,
                #"rules/a.json:6:52: error: rule "z": match.size.min: "5 potatoes" is not a byte size; write a whole "#
                    + #"number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB), e.g. "1048576", "512KiB", "10MB""#,
                #"rules/a.json:6:73: error: rule "z": match.size.max: expected a number of bytes or a size string "#
                    + #"like "50MiB", found boolean"#,
                #"rules/a.json:7:44: error: rule "w": match.size: empty; give "min", "max" or both (inclusive, in "#
                    + #"bytes)"#,
            ]
        )
    }

    @Test func rejectsMissingOrEmptyEnvironmentVariablesNamingVariableAndField() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "${BASE}/events", "headers": {"Authorization": "Bearer ${TOKEN}", "X-Empty": "${EMPTY}"},
                               "signingSecret": ["${SECRET}", "whsec_!!!"]},
                         "u": {"url": "http://${HOST/", "headers": {"X-B": "${1X}"}}},
             "rules": [{"name": "x", "to": ["t", "u"]}]}
            """#,
            environment: ["EMPTY": "", "BASE": "http://h:8080"]
        )
        let notSet = "set it before loading the rules (it is never replaced by an empty string)"
        #expect(
            lines == [
                #"rules/a.json:1:74: error: target "t": headers.Authorization: environment variable TOKEN is not set; "#
                    + notSet,
                #"rules/a.json:1:104: error: target "t": headers.X-Empty: environment variable EMPTY is set but empty; "#
                    + notSet,
                #"rules/a.json:2:38: error: target "t": signingSecret[0]: environment variable SECRET is not set; "#
                    + notSet,
                #"rules/a.json:2:51: error: target "t": signingSecret[1]: a "whsec_" secret must be followed by "#
                    + #"base64 (A-Z, a-z, 0-9, +, /, = padding); copy it whole, or drop the "whsec_" prefix to use "#
                    + #"the text as a raw secret"#,
                #"rules/a.json:3:27: error: target "u": url: unterminated "${"; write ${NAME} or ${NAME:-default}, or $${ for a literal ${"#,
                #"rules/a.json:3:64: error: target "u": headers.X-B: "${1X}" is not a variable reference; names are "#
                    + #"letters, digits and _, not starting with a digit (write $${ for a literal ${)"#,
            ]
        )
    }

    @Test func rejectsBadTargetSettings() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"a": {"url": "ftp://t/", "timeout": "5 sec", "retry": {"attempts": 0, "initialBackoff": "10m"}},
                         "b": {"url": "http:///x", "timeout": 5, "maxInFlight": 2000, "format": "cloudevent"},
                         "c": {"url": "http://h:99999/", "retry": {"initialBackoff": "2s", "maxBackoff": "1s"}, "headers": {"Content-Length": "5", "Bad Name": "x", "x-a": "1", "X-A": "2"}},
                         "d": {"headers": {}, "timeout": "0s"}},
             "rules": [{"name": "x", "to": ["a", "b", "c", "d"]}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:1:27: error: target "a": url: "ftp://t/" is not an http:// or https:// URL; write e.g. "#
                    + #""http://thumbnailer:8080/events""#,
                #"rules/a.json:1:50: error: target "a": timeout: "5 sec" is not a duration; write a number and a unit "#
                    + #"(ms, s, m, h), e.g. "200ms", "5s", "1h30m""#,
                #"rules/a.json:1:81: error: target "a": retry.attempts: must be between 1 and 1000, found 0"#,
                #"rules/a.json:1:102: error: target "a": retry.initialBackoff: must be <= retry.maxBackoff (5m, the "#
                    + #"default); lower it or set retry.maxBackoff"#,
                #"rules/a.json:2:27: error: target "b": url: "http:///x" has no host; write e.g. "#
                    + #""http://thumbnailer:8080/events""#,
                #"rules/a.json:2:51: error: target "b": timeout: expected a duration string such as "5s" or "200ms", "#
                    + #"found number"#,
                #"rules/a.json:2:69: error: target "b": maxInFlight: must be between 1 and 1024, found 2000"#,
                #"rules/a.json:2:85: error: target "b": format: unknown format "cloudevent"; did you mean "cloudevents"?"#,
                #"rules/a.json:3:27: error: target "c": url: "http://h:99999/" has an invalid port; use a number from "#
                    + #"1 to 65535"#,
                #"rules/a.json:3:94: error: target "c": retry.maxBackoff: must be >= retry.initialBackoff (2s), found 1s"#,
                #"rules/a.json:3:113: error: target "c": headers.Content-Length: set by the relay; remove it ("format" "#
                    + #"decides the content type, "signingSecret" the webhook-* headers)"#,
                #"rules/a.json:3:136: error: target "c": headers.Bad Name: not a valid header name; use letters, "#
                    + #"digits and !#$%&'*+-.^_`|~ only"#,
                #"rules/a.json:3:165: error: target "c": headers.X-A: header given twice (header names ignore case; "#
                    + #"first at line 3, column 153); remove one"#,
                #"rules/a.json:4:19: error: target "d": url: required; give the endpoint's http:// or https:// URL"#,
                #"rules/a.json:4:46: error: target "d": timeout: must be greater than 0, e.g. "5s""#,
            ]
        )
    }

    /// One rule for `*` in `prefix` and `suffix`: refused wherever it stands, the same statement first, then the fix.
    @Test(
        arguments: [
            (#"{"prefix": "uploads/*"}"#, #"2:46: error: rule "r": match.prefix: "uploads/*""#, #"write "uploads/""#),
            (#"{"prefix": "uploads**"}"#, #"2:46: error: rule "r": match.prefix: "uploads**""#, #"write "uploads""#),
            (#"{"prefix": "*"}"#, #"2:46: error: rule "r": match.prefix: "*""#, #"remove "prefix" to match every key"#),
            (
                #"{"prefix": "*/x"}"#, #"2:46: error: rule "r": match.prefix: "*/x""#,
                #"write the literal start of the key here, and its end in "suffix" if needed"#
            ),
            (
                #"{"prefix": "uploads/*/x"}"#, #"2:46: error: rule "r": match.prefix: "uploads/*/x""#,
                #"write the literal start of the key here, e.g. "uploads/", and its end in "suffix" if needed"#
            ),
            (
                #"{"prefix": ["a/", "b/*"]}"#, #"2:53: error: rule "r": match.prefix[1]: "b/*""#,
                #"write "b/" (a prefix matches every key that starts with it)"#
            ),
            (#"{"suffix": "*"}"#, #"2:46: error: rule "r": match.suffix: "*""#, #"remove "suffix" to match every key"#),
            (
                #"{"suffix": "*.jpg"}"#, #"2:46: error: rule "r": match.suffix: "*.jpg""#,
                #"write ".jpg" (a suffix matches every key that ends with it)"#
            ),
            (#"{"suffix": "**.jpg"}"#, #"2:46: error: rule "r": match.suffix: "**.jpg""#, #"write ".jpg""#),
            (
                #"{"suffix": "photos/*.jpg"}"#, #"2:46: error: rule "r": match.suffix: "photos/*.jpg""#,
                #"write the literal end of the key here, e.g. ".jpg", and its start in "prefix" if needed"#
            ),
            (
                #"{"suffix": ".jpg*"}"#, #"2:46: error: rule "r": match.suffix: ".jpg*""#,
                #"write the literal end of the key here, and its start in "prefix" if needed"#
            ),
            (
                #"{"not": {"suffix": "*.png"}}"#, #"2:54: error: rule "r": match.not.suffix: "*.png""#,
                #"write ".png""#
            ),
        ]
    )
    func refusesAStarAnywhereInPrefixOrSuffix(match: String, location: String, fix: String) throws {
        let lines = R.diagnostics(R.singleRule(match: match))
        try #require(lines.count == 1)
        let line = lines[0]
        #expect(line.hasPrefix("rules/a.json:" + location + #" holds "*", but prefix and suffix values are literal, "#))
        #expect(line.contains("not patterns; " + fix))
    }

    @Test func aStarWithACombiningMarkIsStillAStar() {
        // "*" + U+0301 is one Character; the hint must not offer a value that still holds "*".
        let lines = R.diagnostics(R.singleRule(match: #"{"suffix": "*\u0301.jpg"}"#))
        #expect(lines.count == 1)
        #expect(lines.first?.hasSuffix("write \"\u{301}.jpg\" (a suffix matches every key that ends with it)") == true)
    }

    @Test func prefixesAndSuffixesWithoutAStarStillLoad() {
        let ruleSet = R.ruleSet(R.singleRule(match: #"{"prefix": ["uploads/", "a?b["], "suffix": [".jpg", "~"]}"#))
        #expect(ruleSet.rules.first?.match.prefixes == ["uploads/", "a?b["])
        #expect(ruleSet.rules.first?.match.suffixes == [".jpg", "~"])
    }

    /// A rule file whose target `t` has the headers object `headers` (written as JSON).
    static func targetWithHeaders(_ headers: String) -> String {
        #"{"targets": {"t": {"url": "http://127.0.0.1:9/", "headers": "# + headers + "}},\n"
            + #" "rules": [{"name": "r", "to": ["t"]}]}"#
    }

    @Test(
        arguments: [
            (#""a\nb""#, "a line feed (0x0A)"),
            (#""a\r\nX-Evil: 1""#, "a carriage return (0x0D)"),
            (#""a\u0000b""#, "a NUL (0x00)"),
            (#""a\tb""#, "a tab (0x09)"),
            (#""\u001B[31m""#, "the control character 0x1B"),
            (#""a\u007Fb""#, "a DEL (0x7F)"),
        ]
    )
    func refusesHeaderValuesWithControlCharacters(value: String, named: String) {
        let lines = R.diagnostics(Self.targetWithHeaders(#"{"X-A": "# + value + "}"))
        #expect(
            lines == [
                #"rules/a.json:1:69: error: target "t": headers.X-A: the value holds "# + named
                    + "; header values may hold no control characters, remove it"
            ]
        )
    }

    @Test(arguments: ["abc\r\nX-Evil: 1", "abc\n", "\u{0}abc", "a\u{7F}"])
    func refusesHeaderValuesWhoseEnvironmentValueHoldsAControlCharacter(token: String) {
        let lines = R.diagnostics(
            Self.targetWithHeaders(#"{"Authorization": "Bearer ${TOKEN}"}"#),
            environment: ["TOKEN": token]
        )
        #expect(lines.count == 1)
        let line = lines.first ?? ""
        #expect(line.hasPrefix(#"rules/a.json:1:79: error: target "t": headers.Authorization: the value holds "#))
        #expect(line.contains("after ${...} expansion (an environment variable's value holds it)"))
        // The value (a secret, often) is never printed.
        #expect(!line.contains("abc") && !line.contains("X-Evil"))
    }

    @Test func refusesHeaderNamesWithControlCharacters() {
        let lines = R.diagnostics(Self.targetWithHeaders(#"{"X-A\n": "1", "X\u0000": "2"}"#))
        #expect(
            lines == [
                #"rules/a.json:1:62: error: target "t": headers.X-A\n: not a valid header name; use letters, digits "#
                    + "and !#$%&'*+-.^_`|~ only",
                #"rules/a.json:1:76: error: target "t": headers.X\u{0}: not a valid header name; use letters, digits "#
                    + "and !#$%&'*+-.^_`|~ only",
            ]
        )
    }

    @Test func keepsHeaderValuesWithSpacesAndNonASCIIText() {
        let ruleSet = R.ruleSet(
            Self.targetWithHeaders(#"{"X-A": "Bearer ${TOKEN}", "X-B": "café au lait"}"#),
            environment: ["TOKEN": "a b=c"]
        )
        #expect(ruleSet.target(named: "t")?.headers.map(\.value) == ["Bearer a b=c", "café au lait"])
    }

    @Test func rejectsEmptyListsBecauseTheyMatchNothing() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "http://t/", "signingSecret": []}},
             "rules": [{"name": "x", "match": {"event": [], "bucket": [], "prefix": [""], "suffix": [], "contentType": [], "metadata": {"kind": []}}, "to": []},
                       {"name": "y", "match": {"metadata": {}, "not": {}}, "to": "t"}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:1:57: error: target "t": signingSecret: empty list; give a secret, or remove "#
                    + #""signingSecret" to send unsigned requests"#,
                #"rules/a.json:2:45: error: rule "x": match.event: empty list matches no event; remove "event" to "#
                    + #"match every event, or list at least one"#,
                #"rules/a.json:2:59: error: rule "x": match.bucket: empty list matches no bucket; remove "bucket" to "#
                    + #"match every bucket, or list at least one"#,
                #"rules/a.json:2:74: error: rule "x": match.prefix[0]: an empty prefix matches every key; remove "#
                    + #""prefix" instead"#,
                #"rules/a.json:2:89: error: rule "x": match.suffix: empty list matches no key; remove "suffix" to "#
                    + #"match every key, or list at least one"#,
                #"rules/a.json:2:108: error: rule "x": match.contentType: empty list matches no content type; remove "#
                    + #""contentType" to match every content type, or list at least one"#,
                #"rules/a.json:2:133: error: rule "x": match.metadata.kind: empty list matches no value; list at "#
                    + #"least one value, or remove the entry"#,
                #"rules/a.json:2:145: error: rule "x": to: empty list sends matched events nowhere; name at least one "#
                    + #"target"#,
                #"rules/a.json:3:48: error: rule "y": match.metadata: empty; remove "metadata" or name at least one "#
                    + #"entry, e.g. {"x-amz-meta-kind": ["avatar"]}"#,
                #"rules/a.json:3:59: error: rule "y": match.not: an empty "not" excludes every event; add conditions "#
                    + #"or remove it"#,
            ]
        )
    }

    @Test func rejectsUnknownEventNamesAndBadContentTypes() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "http://t/"}},
             "rules": [{"name": "x", "match": {"event": ["s3:ObjectCreated:Putt", "ObjectCreate:*", "s3:objectcreated:put", "s3:TestEvent", "s3:ObjectCreated*", "Nope"]}, "to": "t"},
                       {"name": "y", "match": {"contentType": ["text/plain; charset=utf-8", "image", "*/png", "Image/*"], "bucket": "a/b"}, "to": "t"},
                       {"name": "z", "match": {"metadata": {"kind": "a", "X-Amz-Meta-Kind": "b", "x-amz-meta-": "c"}}, "to": "t"}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:2:46: error: rule "x": match.event[0]: unknown event "s3:ObjectCreated:Putt"; did you "#
                    + #"mean "s3:ObjectCreated:Put"?"#,
                #"rules/a.json:2:71: error: rule "x": match.event[1]: unknown event family "ObjectCreate:*"; did you "#
                    + #"mean "s3:ObjectCreated:*"?"#,
                #"rules/a.json:2:89: error: rule "x": match.event[2]: unknown event "s3:objectcreated:put"; did you "#
                    + #"mean "s3:ObjectCreated:Put"?"#,
                #"rules/a.json:2:113: error: rule "x": match.event[3]: s3:TestEvent is answered and never routed; "#
                    + #"remove it"#,
                #"rules/a.json:2:129: error: rule "x": match.event[4]: "s3:ObjectCreated*" is not an event family, "#
                    + #"which ends in ":*"; did you mean "s3:ObjectCreated:*"?"#,
                #"rules/a.json:2:150: error: rule "x": match.event[5]: unknown event "Nope"; use a MinIO or S3 event "#
                    + #"name such as "s3:ObjectCreated:Put", or a family such as "s3:ObjectCreated:*""#,
                #"rules/a.json:3:52: error: rule "y": match.contentType[0]: parameters cannot be matched (they are "#
                    + #"ignored on records); write only "type/subtype""#,
                #"rules/a.json:3:81: error: rule "y": match.contentType[1]: "image" is not a media type; write "#
                    + #""type/subtype" or "type/*", e.g. "image/*""#,
                #"rules/a.json:3:90: error: rule "y": match.contentType[2]: "*/subtype" is not allowed; write "#
                    + #""type/subtype", "type/*" or "*/*""#,
                #"rules/a.json:3:121: error: rule "y": match.bucket: a bucket name has no "/"; put the key part in "#
                    + #""prefix""#,
                #"rules/a.json:4:62: error: rule "z": match.metadata.X-Amz-Meta-Kind: x-amz-meta-kind given twice "#
                    + #"(names ignore case and "x-amz-meta-"; first at line 4, column 49); merge the values into one "#
                    + #"list"#,
                #"rules/a.json:4:86: error: rule "z": match.metadata.x-amz-meta-: not a metadata name; write the name "#
                    + #"with or without "x-amz-meta-", e.g. "kind""#,
            ]
        )
    }

    static let fileLevelCases: [(String, [String])] = [
        (
            "[1, 2]",
            [#"rules/a.json:1:1: error: the top level must be an object with "targets" and/or "rules", found array"#]
        ),
        (
            "{}",
            [
                #"rules/a.json:1:1: error: the file has neither "targets" nor "rules"; add one, or move the file out "#
                    + "of the rules directory"
            ]
        ),
        (
            #"{"targets": [], "rules": {}, "extra": 1}"#,
            [
                #"rules/a.json:1:13: error: targets: expected an object of named targets, found array"#,
                #"rules/a.json:1:26: error: rules: expected an array of rule objects, found object"#,
                #"rules/a.json:1:30: error: extra: unknown field; expected one of "targets", "rules""#,
            ]
        ),
    ]

    @Test(arguments: fileLevelCases)
    func rejectsFilesThatAreNotRuleFiles(_ text: String, _ expected: [String]) {
        #expect(R.diagnostics(text) == expected)
    }

    static let syntaxCases: [(text: String, line: Int, column: Int)] = [
        ("{\n  \"rules\": [\n    {\"name\": \"x\",}\n  ]\n}", 3, 18),
        ("", 1, 1),
        ("{\"rules\": [{\"name\": \"x\"}]\n\n  garbage", 3, 3),
    ]

    @Test(arguments: syntaxCases)
    func reportsNonJSONWithLineAndColumn(_ syntaxCase: (text: String, line: Int, column: Int)) {
        let lines = R.diagnostics(syntaxCase.text)
        var message = ""
        do {
            _ = try JSONParser.parse(syntaxCase.text)
        } catch {
            message = error.message
        }
        #expect(
            lines == [
                "rules/a.json:\(syntaxCase.line):\(syntaxCase.column): error: not valid JSON: \(message); fix the "
                    + "syntax here"
            ]
        )
    }

    @Test func namesTheRuleByIndexWhenItHasNoUsableName() {
        let lines = R.diagnostics(
            #"""
            {"targets": {"t": {"url": "http://t/"}, "u": {"url": "http://u/"}},
             "rules": [{"match": {}}, {"name": "", "to": "t"}, 5, {"name": "dup", "to": "t", "to": "t"}, {"name": "n", "name2": 1, "to": "t"}]}
            """#
        )
        #expect(
            lines == [
                #"rules/a.json:1:41: warning: target "u": not named by any rule; add it to a rule's "to" or remove it"#,
                #"rules/a.json:2:12: error: rules[0]: name: required; give the rule a unique name"#,
                #"rules/a.json:2:12: error: rules[0]: to: required; name the targets matched events go to, e.g. "#
                    + #""to": ["thumbnailer"]"#,
                #"rules/a.json:2:36: error: rules[1]: name: must be non-empty and free of control characters; give "#
                    + "the rule a unique name",
                #"rules/a.json:2:52: error: rules[2]: expected a rule object, found number"#,
                #"rules/a.json:2:82: error: rule "dup": to: duplicate field (first at line 2, column 71); remove one"#,
                #"rules/a.json:2:108: error: rule "n": name2: unknown field; did you mean "name"?"#,
            ]
        )
    }

    @Test func rejectsDuplicateNamesAcrossFilesNamingBothFiles() {
        let first = RuleSource(
            path: "rules/a.json",
            text: #"{"targets": {"t": {"url": "http://t/"}}, "rules": [{"name": "x", "to": "t"}]}"#
        )
        let second = RuleSource(
            path: "rules/b.json",
            text: #"{"targets": {"t": {"url": "http://t2/"}, "unused": {"url": "http://u/"}},"# + "\n"
                + #" "rules": [{"name": "x", "to": "t"}]}"#
        )
        let result = RuleSetCompiler.compile([first, second], environment: [:])
        guard case .failure(let diagnostics) = result else {
            Issue.record("duplicate names were accepted")
            return
        }
        #expect(
            diagnostics.description == """
                rules/b.json:1:14: error: target "t": duplicate target name, first declared at rules/a.json:1:14; \
                rename one
                rules/b.json:1:42: warning: target "unused": not named by any rule; add it to a rule's "to" or remove it
                rules/b.json:2:21: error: rule "x": name: duplicate rule name, first declared at rules/a.json:1:61; \
                rename one
                """
        )
        #expect(diagnostics.errors.map(\.code) == [.duplicateName, .duplicateName])
        #expect(diagnostics.diagnostics.map(\.severity) == [.error, .warning, .error])
    }

    @Test func collectsProblemsFromEveryFileInLoadOrder() {
        let sources = [
            RuleSource(path: "rules/10-targets.json", text: #"{"targets": {"t": {"url": "http://t/", "x": 1}}}"#),
            RuleSource(path: "rules/20-broken.json", text: "{"),
            RuleSource(path: "rules/30-rules.json", text: #"{"rules": [{"name": "r", "to": "t", "match": 1}]}"#),
        ]
        guard case .failure(let diagnostics) = RuleSetCompiler.compile(sources, environment: [:]) else {
            Issue.record("invalid files were accepted")
            return
        }
        let lines = diagnostics.diagnostics.map(\.description)
        #expect(lines.count == 3)
        #expect(
            lines.first
                == #"rules/10-targets.json:1:40: error: target "t": x: unknown field; expected one of "url", "headers", "#
                + #""format", "timeout", "maxInFlight", "retry", "signingSecret", "tls", "ordering", "batch""#
        )
        #expect(lines.dropFirst().first?.hasPrefix("rules/20-broken.json:1:2: error: not valid JSON: ") == true)
        #expect(lines.last == #"rules/30-rules.json:1:46: error: rule "r": match: expected an object, found number"#)
        #expect(diagnostics.diagnostics.map(\.code) == [.unknownField, .syntax, .wrongType])
    }

    @Test func warnsAboutUnusedTargetsWithoutFailing() throws {
        let ruleSet = try R.compile(
            #"{"targets": {"t": {"url": "http://t/"}, "spare": {"url": "http://s/"}}, "rules": [{"name": "r", "to": "t"}]}"#
        ).get()
        #expect(
            ruleSet.warnings.map(\.description) == [
                #"rules/a.json:1:41: warning: target "spare": not named by any rule; add it to a rule's "to" or "#
                    + "remove it"
            ]
        )
        #expect(ruleSet.warnings.map(\.code) == [.unusedTarget])
    }

    @Test func compilesNoSourcesIntoAnEmptyRuleSet() throws {
        let ruleSet = try RuleSetCompiler.compile([], environment: [:]).get()
        #expect(ruleSet.rules.isEmpty)
        #expect(ruleSet.match(R.record()).isEmpty)
    }

    static let descriptionCases: [(Diagnostic, String)] = [
        (
            Diagnostic(
                code: .invalidValue,
                file: "rules/a.json",
                line: 12,
                column: 9,
                subject: #"rule "x""#,
                field: "match.size.min",
                message: "must be >= 0"
            ),
            #"rules/a.json:12:9: error: rule "x": match.size.min: must be >= 0"#
        ),
        (
            Diagnostic(
                code: .invalidValue,
                file: "rules/a.json",
                subject: #"rule "x""#,
                field: "match.size.min",
                message: "must be >= 0"
            ),
            #"rules/a.json: error: rule "x": match.size.min: must be >= 0"#
        ),
        (
            Diagnostic(
                severity: .warning,
                code: .unusedTarget,
                file: "r.json",
                line: 1,
                column: 2,
                subject: #"target "y""#,
                message: "m"
            ),
            #"r.json:1:2: warning: target "y": m"#
        ),
        (Diagnostic(code: .syntax, file: "r.json", line: 3, message: "m"), "r.json:3: error: m"),
    ]

    @Test(arguments: descriptionCases)
    func printsDiagnosticsCompilerStyle(_ diagnostic: Diagnostic, _ expected: String) {
        #expect(diagnostic.description == expected)
    }
}
