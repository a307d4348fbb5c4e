import Foundation
import RelayCore
import Testing

/// `reason` of an `Undecodable` for a repeated member `name` (`firstName` when the first copy is spelled otherwise).
private func duplicateReason(_ name: String, firstName: String? = nil) -> String {
    let same =
        firstName.map { " (the same name as \"\($0)\" when letter case is ignored)" } ?? ""
    return "duplicate member \"\(name)\"\(same); the relay would route on the first value and a receiver could read "
        + "the other"
}

/// `fixture`'s text with `insert` written right before the one occurrence of `before`.
private func fixture(_ name: String, inserting insert: String, before: String) throws -> [UInt8] {
    let text = String(decoding: try DecoderFixture.bytes(name), as: UTF8.self)
    let parts = text.components(separatedBy: before)
    try #require(parts.count == 2, "\(before) is not once in \(name)")
    return Array((parts[0] + insert + before + parts[1]).utf8)
}

/// One repeated member: where it is inserted, and the field and names the decoder must report.
struct DuplicateCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var insert: String
    var before: String
    var field: String
    var name: String
    var firstName: String?

    var testDescription: String { field }
}

@Suite("EventDecoder: duplicate member names")
struct EventDecoderDuplicateMemberTests {
    /// The example of issue 7: routing would see `fail/ok.jpg`, a receiver `private/secret.jpg`.
    static let issueExample =
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/fail/ok.jpg","Records":[{"eventSource":"minio:s3","#
        + #""eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"photos"},"#
        + #""object":{"key":"fail/ok.jpg","key":"private/secret.jpg"}}}]}"#

    @Test func recordWithTwoKeysIsUndecodableNotRoutedOnTheFirst() throws {
        let body = Array(Self.issueExample.utf8)
        let events = try DecoderFixture.events(body)
        #expect(events.decodedRecords.isEmpty)
        #expect(
            events.records == [
                .undecodable(index: 0, Undecodable(field: "Records[0].s3.object.key", reason: duplicateReason("key")))
            ]
        )
        // With a rule that the first key would have matched, nothing is routed: the record never reaches the matcher.
        let ruleSet = try RuleSetCompiler.compile(
            [
                RuleSource(
                    path: "rules/a.json",
                    text: #"{"targets":{"t":{"url":"http://127.0.0.1:9/"}},"#
                        + #""rules":[{"name":"fail","match":{"prefix":"fail/"},"to":["t"]}]}"#
                )
            ],
            environment: [:]
        )
        .get()
        #expect(events.decodedRecords.flatMap { ruleSet.match($0) }.isEmpty)
    }

    static let recordCases: [DuplicateCase] = [
        // Every field the decoder reads, in a MinIO record...
        .init(
            fixture: "minio/put-image.json",
            insert: #""eventName":"s3:ObjectRemoved:Delete","#,
            before: #""eventName":"s3:ObjectCreated:Put","userIdentity""#,
            field: "Records[0].eventName",
            name: "eventName"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""eventSource":"ceph:s3","#,
            before: #""eventSource":"minio:s3""#,
            field: "Records[0].eventSource",
            name: "eventSource"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""eventTime":"2020-01-01T00:00:00Z","#,
            before: #""eventTime":"#,
            field: "Records[0].eventTime",
            name: "eventTime"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""awsRegion":"eu-west-1","#,
            before: #""awsRegion":"#,
            field: "Records[0].awsRegion",
            name: "awsRegion"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""responseElements":{},"#,
            before: #""responseElements":"#,
            field: "Records[0].responseElements",
            name: "responseElements"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""x-amz-request-id":"OTHER","#,
            before: #""x-amz-request-id":"#,
            field: "Records[0].responseElements.x-amz-request-id",
            name: "x-amz-request-id"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""s3":{},"#,
            before: #""s3":{"#,
            field: "Records[0].s3",
            name: "s3"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""bucket":{"name":"other"},"#,
            before: #""bucket":"#,
            field: "Records[0].s3.bucket",
            name: "bucket"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""name":"other","#,
            before: #""name":"photos""#,
            field: "Records[0].s3.bucket.name",
            name: "name"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""object":{"key":"a"},"#,
            before: #""object":"#,
            field: "Records[0].s3.object",
            name: "object"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""key":"fail%2Fok.jpg","#,
            before: #""key":"uploads"#,
            field: "Records[0].s3.object.key",
            name: "key"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""size":1,"#,
            before: #""size":"#,
            field: "Records[0].s3.object.size",
            name: "size"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""eTag":"0","#,
            before: #""eTag":"#,
            field: "Records[0].s3.object.eTag",
            name: "eTag"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""contentType":"text/plain","#,
            before: #""contentType":"#,
            field: "Records[0].s3.object.contentType",
            name: "contentType"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""userMetadata":{},"#,
            before: #""userMetadata":"#,
            field: "Records[0].s3.object.userMetadata",
            name: "userMetadata"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""sequencer":"0","#,
            before: #""sequencer":"#,
            field: "Records[0].s3.object.sequencer",
            name: "sequencer"
        ),
        // ...fields it does not read, since a receiver may...
        .init(
            fixture: "minio/put-image.json",
            insert: #""arn":"arn:aws:s3:::other","#,
            before: #""arn":"#,
            field: "Records[0].s3.bucket.arn",
            name: "arn"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""host":"10.0.0.1","#,
            before: #""host":"#,
            field: "Records[0].source.host",
            name: "host"
        ),
        // ...names that differ in letter case only, as Go's encoding/json takes them for one...
        .init(
            fixture: "minio/put-image.json",
            insert: #""KEY":"private%2Fsecret.jpg","#,
            before: #""key":"uploads"#,
            field: "Records[0].s3.object.key",
            name: "key",
            firstName: "KEY"
        ),
        .init(
            fixture: "minio/put-image.json",
            insert: #""x-amz-meta-kind":"public","#,
            before: #""X-Amz-Meta-Kind":"#,
            field: "Records[0].s3.object.userMetadata.X-Amz-Meta-Kind",
            name: "X-Amz-Meta-Kind",
            firstName: "x-amz-meta-kind"
        ),
        // (U+212A KELVIN SIGN folds to "k" in Go.)
        .init(
            fixture: "minio/put-image.json",
            insert: #""\u212Aey":"private%2Fsecret.jpg","#,
            before: #""key":"uploads"#,
            field: "Records[0].s3.object.key",
            name: "key",
            firstName: "\u{212A}ey"
        ),
        // ...and in RGW's records, inside arrays too.
        .init(
            fixture: "rgw/put.json",
            insert: #""eventId":"other","#,
            before: #""eventId":"#,
            field: "Records[0].eventId",
            name: "eventId"
        ),
        .init(
            fixture: "rgw/put.json",
            insert: #""versionId":"v1","#,
            before: #""versionId":"#,
            field: "Records[0].s3.object.versionId",
            name: "versionId"
        ),
        .init(
            fixture: "rgw/put.json",
            insert: #""metadata":[],"#,
            before: #""metadata":"#,
            field: "Records[0].s3.object.metadata",
            name: "metadata"
        ),
        .init(
            fixture: "rgw/put.json",
            insert: #""val":"2","#,
            before: #""val":"1""#,
            field: "Records[0].s3.object.metadata[0].val",
            name: "val"
        ),
        // A body that is itself one record: paths without `Records[0].`.
        .init(
            fixture: "minio/blog-record.json",
            insert: #""key":"other.md","#,
            before: #""key":"cmd.md""#,
            field: "s3.object.key",
            name: "key"
        ),
    ]

    @Test(arguments: recordCases)
    func recordWithARepeatedMemberIsUndecodableWithItsPath(_ duplicate: DuplicateCase) throws {
        let body = try fixture(duplicate.fixture, inserting: duplicate.insert, before: duplicate.before)
        let events = try DecoderFixture.events(body)
        let reason = duplicateReason(duplicate.name, firstName: duplicate.firstName)
        #expect(events.records == [.undecodable(index: 0, Undecodable(field: duplicate.field, reason: reason))])
    }

    @Test(
        arguments: [
            (#""Records":[],"#, #""Records":"#, "Records", nil),
            (#""EventName":"s3:ObjectRemoved:Delete","#, #""EventName":"#, "EventName", nil),
            (#""Key":"photos/private/secret.jpg","#, #""Key":"#, "Key", nil),
            (#""records":[],"#, #""Records":"#, "Records", "records"),
        ] as [(String, String, String, String?)]
    )
    func bodyWithARepeatedTopLevelMemberIsUndecodable(
        insert: String,
        before: String,
        name: String,
        firstName: String?
    ) throws {
        let body = try fixture("minio/put-image.json", inserting: insert, before: before)
        let reason = duplicateReason(name, firstName: firstName)
        #expect(EventDecoder.decode(body) == .undecodable(Undecodable(field: name, reason: reason)))
    }

    @Test func repeatedMemberInTheEnvelopeOutsideRecordsIsUndecodable() {
        let body =
            #"{"EventName":"s3:ObjectCreated:Put","Key":"b/k","Extra":{"a":1,"A":2},"Records":[{"eventName":"#
            + #""s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#
        #expect(
            EventDecoder.decode(Array(body.utf8))
                == .undecodable(Undecodable(field: "Extra.A", reason: duplicateReason("A", firstName: "a")))
        )
    }

    @Test func rgwMetadataNamedTwiceIsUndecodable() throws {
        let original = String(decoding: try DecoderFixture.bytes("rgw/put.json"), as: UTF8.self)
        let text = original.replacingOccurrences(
            of: #"[{"key":"x-amz-meta-demo","val":"1"}]"#,
            with: #"[{"key":"x-amz-meta-demo","val":"1"},{"key":"X-Amz-Meta-Demo","val":"2"}]"#
        )
        try #require(text != original)
        let events = try DecoderFixture.events(Array(text.utf8))
        #expect(
            events.records == [
                .undecodable(
                    index: 0,
                    Undecodable(
                        field: "Records[0].s3.object.metadata[1].key",
                        reason: "duplicate metadata name \"X-Amz-Meta-Demo\" (names ignore case); a receiver could "
                            + "read the other value"
                    )
                )
            ]
        )
    }

    @Test func userMetadataAndRGWMetadataNamingTheSameEntryAreUndecodable() throws {
        let body =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","#
            + #""userMetadata":{"X-Amz-Meta-Kind":"avatar"},"metadata":[{"key":"x-amz-meta-kind","val":"public"}]}}}]}"#
        let result = try DecoderFixture.recordResult(body)
        guard case .undecodable(_, let problem) = result else {
            Issue.record("decoded: \(result)")
            return
        }
        #expect(problem.field == "Records[0].s3.object.metadata[0].key")
    }

    @Test func oneRecordWithARepeatedMemberDoesNotSpoilTheOthers() throws {
        let text = String(decoding: try DecoderFixture.bytes("aws/two-records.json"), as: UTF8.self)
        let second = try #require(text.range(of: #""eventSource":"aws:s3""#, options: .backwards))
        let body = text.replacingCharacters(in: second, with: #""eventSource":"aws:s3","eventSource":"minio:s3""#)
        let events = try DecoderFixture.events(Array(body.utf8))
        try #require(events.records.count == 2)
        guard case .record = events.records[0] else {
            Issue.record("the first record did not decode: \(events.records[0])")
            return
        }
        #expect(
            events.records[1]
                == .undecodable(
                    index: 1,
                    Undecodable(field: "Records[1].eventSource", reason: duplicateReason("eventSource"))
                )
        )
    }

    /// More members than are compared pair by pair: the set-based check finds the same repeats.
    @Test(arguments: [0, 7, 18])
    func largeObjectsAreCheckedToo(position: Int) throws {
        var entries = (0..<20).map { #""X-Amz-Meta-M\#($0)":"v\#($0)""# }
        let clean =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","#
            + #""userMetadata":{"# + entries.joined(separator: ",") + "}}}}]}"
        let decoded = try DecoderFixture.recordResult(clean)
        guard case .record(let record) = decoded else {
            Issue.record("twenty distinct names did not decode: \(decoded)")
            return
        }
        #expect(record.metadata.count == 20)

        entries.insert(#""x-amz-meta-m\#(position)":"other""#, at: 19)
        let repeated =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","#
            + #""userMetadata":{"# + entries.joined(separator: ",") + "}}}}]}"
        // The later copy is reported: the inserted one, unless it comes after the original.
        let expectedName = position < 19 ? "x-amz-meta-m\(position)" : "X-Amz-Meta-M\(position)"
        let expectedFirst = position < 19 ? "X-Amz-Meta-M\(position)" : "x-amz-meta-m\(position)"
        #expect(
            try DecoderFixture.recordResult(repeated)
                == .undecodable(
                    index: 0,
                    Undecodable(
                        field: "Records[0].s3.object.userMetadata.\(expectedName)",
                        reason: duplicateReason(expectedName, firstName: expectedFirst)
                    )
                )
        )
    }

    @Test func nonASCIINamesThatDifferInCaseAreRepeats() throws {
        let body =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","#
            + #""userMetadata":{"X-Amz-Meta-Ä":"1","x-amz-meta-ä":"2"}}}}]}"#
        #expect(
            try DecoderFixture.recordResult(body)
                == .undecodable(
                    index: 0,
                    Undecodable(
                        field: "Records[0].s3.object.userMetadata.x-amz-meta-ä",
                        reason: duplicateReason("x-amz-meta-ä", firstName: "X-Amz-Meta-Ä")
                    )
                )
        )
    }

    @Test func theSameNameInDifferentObjectsIsNoRepeat() throws {
        // (`principalId` stands in three objects of every MinIO record: the fixtures decode.)
        let body =
            #"{"Records":[{"eventName":"s3:ObjectCreated:Put","name":"n","key":"top","s3":{"name":"s","#
            + #""bucket":{"name":"b","key":"bk"},"object":{"key":"k","keys":"plural","name":"o"}}}]}"#
        guard case .record(let record) = try DecoderFixture.recordResult(body) else {
            Issue.record("did not decode")
            return
        }
        #expect(record.key == "k")
    }

    // MARK: The envelope and its record

    @Test(arguments: DecoderFixture.minioEnvelopes)
    func minioEnvelopeMatchesItsRecord(fixture: String) throws {
        let events = try DecoderFixture.events(try DecoderFixture.bytes(fixture))
        #expect(events.envelope == .minio)
        #expect(events.envelopeMatchesRecord)
    }

    static let disagreeingEnvelopes = [
        // The EventName of another event.
        #"{"EventName":"s3:ObjectRemoved:Delete","Key":"photos/a b.jpg","Records":[RECORD]}"#,
        // Not the normalised form.
        #"{"EventName":"ObjectCreated:Put","Key":"photos/a b.jpg","Records":[RECORD]}"#,
        // Another object's key, in the form of the issue.
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/fail/ok.jpg","Records":[RECORD]}"#,
        // The raw (escaped) key instead of the decoded one.
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/a+b.jpg","Records":[RECORD]}"#,
        // Another bucket.
        #"{"EventName":"s3:ObjectCreated:Put","Key":"other/a b.jpg","Records":[RECORD]}"#,
        // Bucket and key joined differently.
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photosa b.jpg/","Records":[RECORD]}"#,
        // No Key, or not strings.
        #"{"EventName":"s3:ObjectCreated:Put","Records":[RECORD]}"#,
        #"{"EventName":"s3:ObjectCreated:Put","Key":null,"Records":[RECORD]}"#,
        #"{"EventName":7,"Key":"photos/a b.jpg","Records":[RECORD]}"#,
    ]

    static let record =
        #"{"eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","#
        + #""s3":{"bucket":{"name":"photos"},"object":{"key":"a+b.jpg","size":3}}}"#

    @Test(arguments: disagreeingEnvelopes)
    func envelopeThatDisagreesWithItsRecordDoesNotMatch(envelope: String) throws {
        let body = envelope.replacingOccurrences(of: "RECORD", with: Self.record)
        let events = try DecoderFixture.events(Array(body.utf8))
        #expect(events.envelope == .minio)
        #expect(events.decodedRecords.count == 1)
        #expect(!events.envelopeMatchesRecord)
    }

    @Test func onlyAOneRecordMinioEnvelopeCanMatch() throws {
        let agreeing = #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/a b.jpg","Records":[RECORD]}"#
        let one = try DecoderFixture.events(Array(agreeing.replacingOccurrences(of: "RECORD", with: Self.record).utf8))
        #expect(one.envelopeMatchesRecord)
        let two = agreeing.replacingOccurrences(of: "RECORD", with: Self.record + "," + Self.record)
        #expect(!(try DecoderFixture.events(Array(two.utf8))).envelopeMatchesRecord)
        let bare = #"{"Records":[RECORD]}"#.replacingOccurrences(of: "RECORD", with: Self.record)
        #expect(!(try DecoderFixture.events(Array(bare.utf8))).envelopeMatchesRecord)
    }
}
