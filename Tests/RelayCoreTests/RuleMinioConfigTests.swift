import Foundation
import RelayTestSupport
import Testing

@testable import RelayCore

@Suite struct RuleMinioConfigTests {
    typealias R = RuleTesting

    @Test func writesOneCommandPerBucketAndFilterNeverNarrowerThanTheRules() {
        let ruleSet = R.ruleSet(
            #"""
            {"targets": {"t": {"url": "http://t/"}},
             "rules": [
               {"name": "images", "to": "t",
                "match": {"event": "ObjectCreated:*", "bucket": "photos", "prefix": "uploads/", "suffix": [".jpg", ".png"]}},
               {"name": "deletes", "to": "t", "match": {"event": "s3:ObjectRemoved:*", "bucket": "photos"}},
               {"name": "all-docs", "to": "t", "match": {"bucket": "docs", "contentType": "text/*"}},
               {"name": "no-bucket", "to": "t", "match": {"event": "s3:ObjectCreated:Put", "prefix": "in/"}},
               {"name": "overlap", "to": "t", "match": {"event": "s3:ObjectAccessed:Get", "bucket": "logs", "prefix": "ab", "suffix": "bc"}},
               {"name": "scanner-only", "to": "t", "match": {"event": "s3:Scanner:*", "bucket": "photos"}},
               {"name": "covered", "to": "t",
                "match": {"event": "s3:ObjectCreated:Put", "bucket": "photos", "prefix": "uploads/2026/", "suffix": ".jpg", "size": {"min": 1}}},
               {"name": "merged", "to": "t",
                "match": {"event": "s3:ObjectRemoved:Delete", "bucket": "photos", "prefix": "uploads/", "suffix": ".jpg"}},
               {"name": "many", "to": "t",
                "match": {"event": ["s3:Replication:*", "s3:ObjectRestore:Completed"], "bucket": "media",
                          "prefix": ["a/", "b/", "c/", "d/", "e/", "a/x/"], "suffix": [".1", ".2", ".3", ".4"]}},
               {"name": "quoted", "to": "t", "match": {"event": "s3:ObjectCreated:Copy", "bucket": "photos", "prefix": "it's here/"}},
               {"name": "refused", "to": "t", "match": {"event": "s3:ObjectCreated:Copy", "bucket": "media", "prefix": ["ok/", "../up/"]}}
             ]}
            """#
        )
        let lines = MinioConfigGenerator.lines(for: ruleSet, alias: "myminio", arn: "arn:minio:sqs::relay:webhook")
        let add = "mc event add"
        let arn = "arn:minio:sqs::relay:webhook"
        #expect(
            lines == [
                #"# rule "all-docs" (rules/a.json): mc event add cannot select s3:Scanner:ManyVersions, "#
                    + "s3:Scanner:LargeVersions, s3:Scanner:BigPrefix, s3:LifecycleDelMarkerExpiration:Delete; "
                    + "MinIO will not send these to the relay",
                #"# rule "all-docs" (rules/a.json): MinIO cannot pre-filter contentType; the relay drops what they "#
                    + "exclude",
                #"# rule "scanner-only" (rules/a.json): mc event add cannot select its events "#
                    + "(s3:Scanner:ManyVersions, s3:Scanner:LargeVersions, s3:Scanner:BigPrefix); nothing to add",
                #"# rule "covered" (rules/a.json): MinIO cannot pre-filter size; the relay drops what they exclude"#,
                #"# every bucket: rules "no-bucket" (no bucket condition; pass --bucket B to name the buckets "#
                    + "instead)",
                #"for bucket in $(mc ls --json myminio | sed -n 's/.*"key":"\([^"]*\)\/".*/\1/p'); "#
                    + #"do mc event add myminio/"$bucket" \#(arn) --event put --prefix in/; done"#,
                #"# bucket "photos": rules "images", "deletes", "covered", "merged", "quoted""#,
                "\(add) myminio/photos \(arn) --event put,delete --prefix uploads/ --suffix .jpg",
                "\(add) myminio/photos \(arn) --event put --prefix uploads/ --suffix .png",
                "\(add) myminio/photos \(arn) --event delete",
                "\(add) myminio/photos \(arn) --event put --prefix 'it'\\''s here/'",
                #"# bucket "docs": rules "all-docs""#,
                "\(add) myminio/docs \(arn) --event put,delete,get,replica,ilm",
                #"# bucket "logs": rules "overlap""#,
                "\(add) myminio/logs \(arn) --event get --prefix ab",
                #"# bucket "media": rules "many", "refused""#,
                "\(add) myminio/media \(arn) --event replica,ilm --prefix a/",
                "\(add) myminio/media \(arn) --event replica,ilm --prefix b/",
                "\(add) myminio/media \(arn) --event replica,ilm --prefix c/",
                "\(add) myminio/media \(arn) --event replica,ilm --prefix d/",
                "\(add) myminio/media \(arn) --event replica,ilm --prefix e/",
                "\(add) myminio/media \(arn) --event put",
            ]
        )
    }

    /// The loop for rules without a bucket condition, run by a real shell against a stand-in `mc` that lists two
    /// buckets the way `mc ls --json` does: one `mc event add` per bucket, with the filter of the rules; a bucket
    /// whose own lines the loop covers gets none of them.
    @Test func theEveryBucketLoopRunsInAShellAndAddsEachBucket() async throws {
        let ruleSet = R.ruleSet(
            #"""
            {"targets": {"t": {"url": "http://t/"}},
             "rules": [
               {"name": "everywhere", "to": "t", "match": {"event": "s3:ObjectCreated:*", "suffix": ".jpg"}},
               {"name": "photos-jpg", "to": "t", "match": {"event": "s3:ObjectCreated:Put", "bucket": "photos", "suffix": ".jpg"}}
             ]}
            """#
        )
        let lines = MinioConfigGenerator.lines(for: ruleSet, alias: "my minio", arn: "arn:minio:sqs::relay:webhook")
        #expect(lines.contains(#"# bucket "photos": rules "photos-jpg": covered by the lines for every bucket"#))
        let loop = try #require(lines.first { $0.hasPrefix("for bucket in") })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let calls = directory.appendingPathComponent("calls").path
        let mc = directory.appendingPathComponent("mc")
        try Data(
            #"""
            #!/bin/sh
            if [ "$1" = ls ]; then
              echo '{"status":"success","type":"folder","lastModified":"2026-12-01T10:00:00Z","size":0,"key":"photos/","etag":"","url":"http://127.0.0.1:9000/","versionOrdinal":1}'
              echo '{"status":"success","type":"folder","lastModified":"2026-12-01T10:00:00Z","size":0,"key":"my-docs.2026/","etag":"","url":"http://127.0.0.1:9000/","versionOrdinal":1}'
              exit 0
            fi
            printf '%s|' "$@" >> "$MC_CALLS"; echo >> "$MC_CALLS"
            """#.utf8
        ).write(to: mc)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: mc.path)
        let shell = try ChildProcess.spawn(
            "/bin/sh",
            ["-c", loop],
            environment: ["PATH": directory.path + ":/usr/bin:/bin", "MC_CALLS": calls]
        )
        await shell.finished()
        #expect(shell.terminationStatus == 0, "\(shell.outputText)")
        let recorded = try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(
            recorded == [
                "event|add|my minio/photos|arn:minio:sqs::relay:webhook|--event|put|--suffix|.jpg|",
                "event|add|my minio/my-docs.2026|arn:minio:sqs::relay:webhook|--event|put|--suffix|.jpg|",
            ]
        )
    }

    @Test func rulesWithoutABucketGetTheBucketsGiven() {
        let ruleSet = R.ruleSet(
            #"{"targets": {"t": {"url": "http://t/"}}, "rules": [{"name": "r", "to": "t", "match": {"event": "s3:ObjectRemoved:*"}}]}"#
        )
        let lines = MinioConfigGenerator.lines(for: ruleSet, buckets: ["a", "b"])
        #expect(
            lines == [
                #"# bucket "a": rules "r""#, "mc event add myminio/a arn:minio:sqs::relay:webhook --event delete",
                #"# bucket "b": rules "r""#, "mc event add myminio/b arn:minio:sqs::relay:webhook --event delete",
            ]
        )
    }

    /// MinIO's side, simulated: a command passes an event when the bucket matches, the event is in one of the
    /// command's mc event types, and the key matches the pattern `prefix*suffix` (MinIO's `NewPattern`).
    struct Command {
        var bucket: String
        var families: [String]
        var prefix: String
        var suffix: String

        init?(_ line: String) {
            guard line.hasPrefix("mc event add ") else { return nil }
            let words = line.split(separator: " ").map { word in
                word.hasPrefix("'") ? String(word.dropFirst().dropLast()) : String(word)
            }
            bucket = String(words[3].split(separator: "/", maxSplits: 1)[1])
            let types = words[6].split(separator: ",").map(String.init)
            families = EventNameCatalog.mcEventTypes.filter { types.contains($0.name) }.flatMap(\.families)
            prefix = words.firstIndex(of: "--prefix").map { words[$0 + 1] } ?? ""
            suffix = words.firstIndex(of: "--suffix").map { words[$0 + 1] } ?? ""
        }

        func passes(_ record: EventRecord) -> Bool {
            guard record.bucket == bucket, families.contains(where: { record.eventName.hasPrefix($0) }) else {
                return false
            }
            let key = Array(record.key.utf8)
            let p = Array(prefix.utf8)
            let s = Array(suffix.utf8)
            return key.count >= p.count + s.count && key.starts(with: p) && key.reversed().starts(with: s.reversed())
        }
    }

    @Test(arguments: [UInt64(7), 8, 9])
    func letsMinIOSendEveryEventARuleWithABucketWants(seed: UInt64) {
        var random = RuleTestRandom(seed: seed)
        let generator = RuleMatcherTests()
        let minioEvents = EventNameCatalog.minioNames.filter { name in
            EventNameCatalog.mcEventTypes.contains { $0.families.contains { name.hasPrefix($0) } }
        }
        var checked = 0
        for index in 0..<100 {
            var spec = generator.randomSpec(&random, depth: 0)
            if spec.buckets == nil { spec.buckets = [random.element(of: RuleMatcherTests.vocabulary.buckets)] }
            // Each rule on its own, so that a wider command of another rule cannot hide a narrow one.
            let ruleSet = RuleSet(
                targets: [Target(name: "t", url: "http://t/")],
                rules: [Rule(name: "r\(index)", to: ["t"], match: spec)]
            )
            let commands = MinioConfigGenerator.lines(for: ruleSet, alias: "m", arn: "arn:minio:sqs::relay:webhook")
                .compactMap(Command.init)
            for _ in 0..<300 {
                var record = generator.randomRecord(&random)
                record.eventName = random.element(of: minioEvents)
                guard !ruleSet.match(record).isEmpty else { continue }
                checked += 1
                #expect(commands.contains { $0.passes(record) }, "MinIO would drop \(record) for \(spec)")
            }
        }
        #expect(checked > 100)
    }

    static let keyFilterCases: [([String]?, [String]?, [String])] = [
        (nil, nil, ["-|-"]),
        (["a/"], nil, ["a/|-"]),
        (["a/", "a/b/"], [".jpg", "x.jpg"], ["a/|.jpg"]),
        (["ab"], ["bc"], ["ab|-"]),
        (["ab"], ["b"], ["ab|-"]),
        (["abc"], ["bc"], ["abc|-"]),
        (["a"], ["abc"], ["a|-"]),
        (["ab/"], [".c"], ["ab/|.c"]),
        (["x/./y"], [".c"], ["-|.c"]),
        (Array((0..<17).map { "p\($0)/" }), [".c"], ["-|.c"]),
        (Array((0..<17).map { "p\($0)/" }), Array((0..<17).map { ".s\($0)" }), ["-|-"]),
    ]

    @Test(arguments: keyFilterCases)
    func widensKeyFiltersMinIOCannotExpress(_ prefixes: [String]?, _ suffixes: [String]?, _ expected: [String]) {
        let pairs = MinioConfigGenerator.keyFilters(prefixes: prefixes, suffixes: suffixes)
        #expect(pairs.map { "\($0.0 ?? "-")|\($0.1 ?? "-")" } == expected)
    }

    @Test func defaultsAreTheREADMEsAliasAndWebhookTarget() {
        #expect(MinioConfigGenerator.defaultAlias == "myminio")
        #expect(MinioConfigGenerator.defaultTargetID == "relay")
        #expect(MinioConfigGenerator.defaultARN == "arn:minio:sqs::relay:webhook")
        #expect(
            MinioConfigGenerator.webhookARN(targetID: "PRIMARY", region: "us-east-1")
                == "arn:minio:sqs:us-east-1:PRIMARY:webhook"
        )
        let ruleSet = R.ruleSet(
            #"{"targets": {"t": {"url": "http://t/"}}, "rules": [{"name": "r", "to": "t", "match": "#
                + #"{"event": "s3:ObjectCreated:Put", "bucket": "photos"}}]}"#
        )
        #expect(
            MinioConfigGenerator.lines(for: ruleSet) == [
                #"# bucket "photos": rules "r""#,
                "mc event add myminio/photos arn:minio:sqs::relay:webhook --event put",
            ]
        )
    }

    /// The README configures MinIO with `mc admin config set myminio notify_webhook:relay`: the lines printed with
    /// the defaults must fit that setup as written.
    @Test func readmeUsesTheDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let alias = MinioConfigGenerator.defaultAlias
        #expect(readme.contains("mc admin config set \(alias) notify_webhook:\(MinioConfigGenerator.defaultTargetID) "))
        #expect(readme.contains("mc event add \(alias)/photos \(MinioConfigGenerator.defaultARN) "))
    }

    @Test func quotesShellWordsThatNeedIt() {
        #expect(MinioConfigGenerator.shellQuoted("uploads/2026/") == "uploads/2026/")
        #expect(MinioConfigGenerator.shellQuoted("summer trip/") == "'summer trip/'")
        #expect(MinioConfigGenerator.shellQuoted("a'b") == #"'a'\''b'"#)
        #expect(MinioConfigGenerator.shellQuoted("$HOME*") == "'$HOME*'")
        #expect(MinioConfigGenerator.shellQuoted("") == "''")
    }
}
