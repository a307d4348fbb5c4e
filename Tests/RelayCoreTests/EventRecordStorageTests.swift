import Testing

@testable import RelayCore

/// A record keeps its fields in one shared copy-on-write box, and a scanned record makes its raw key only when read:
/// copies stay independent, and changing a field never changes another.
@Suite("EventRecord: shared fields and the lazy raw key")
struct EventRecordStorageTests {
    /// The only record of `body`, decoded by the scanner.
    static func scanned(_ body: String) throws -> EventRecord {
        let decoded = try #require(EventDecoder.decodeByScanner(Array(body.utf8)))
        guard case .events(let events) = decoded else {
            Issue.record("not events: \(decoded)")
            throw CancellationError()
        }
        return try #require(events.decodedRecords.first)
    }

    static func body(key: String, source: String = "minio:s3") -> String {
        #"{"Records":[{"eventSource":"\#(source)","eventName":"s3:ObjectCreated:Put","#
            + #""s3":{"bucket":{"name":"photos"},"object":{"key":"\#(key)","size":1}}}]}"#
    }

    @Test("an escaped key: the raw key is the text as sent, and stays so when the key is changed")
    func escapedKey() throws {
        var record = try Self.scanned(Self.body(key: "uploads%2F2026%2Fcat+1.jpg"))
        #expect(record.key == "uploads/2026/cat 1.jpg")
        #expect(record.rawKey == "uploads%2F2026%2Fcat+1.jpg")
        record.key = "other"
        #expect(record.key == "other")
        #expect(record.rawKey == "uploads%2F2026%2Fcat+1.jpg")
    }

    @Test("a plain key: the raw key is the key, and keeps the old key when the key is changed")
    func plainKey() throws {
        var record = try Self.scanned(Self.body(key: "uploads/cat.jpg"))
        #expect(record.rawKey == "uploads/cat.jpg")
        record.key = "other"
        #expect(record.rawKey == "uploads/cat.jpg")
        record.rawKey = "raw"
        #expect(record.key == "other")
        #expect(record.rawKey == "raw")
    }

    @Test("ceph:s3 keys are not unescaped: key and raw key are the text as sent")
    func cephKey() throws {
        let record = try Self.scanned(Self.body(key: "a%20b+c", source: "ceph:s3"))
        #expect(record.key == "a%20b+c")
        #expect(record.rawKey == "a%20b+c")
    }

    @Test("a JSON-escaped key: unescaped first, then form-unescaped")
    func jsonEscapedKey() throws {
        let record = try Self.scanned(Self.body(key: #"caf\u00e9%2Fx\/y"#))
        #expect(record.rawKey == "café%2Fx/y")
        #expect(record.key == "café/x/y")
    }

    @Test("a copy changed does not change the original, and records compare by their fields")
    func copiesAreIndependent() throws {
        let original = try Self.scanned(Self.body(key: "uploads%2Fcat.jpg"))
        var copy = original
        #expect(copy == original)
        copy.key = "x"
        copy.bucket = "other"
        copy.size = 7
        copy.metadata = ["k": "v"]
        #expect(original.key == "uploads/cat.jpg")
        #expect(original.bucket == "photos")
        #expect(original.size == 1)
        #expect(original.metadata.isEmpty)
        #expect(copy.rawKey == "uploads%2Fcat.jpg")
        #expect(copy != original)
        var same = original
        same.bucket = "photos"
        #expect(same == original)
    }

    @Test("a changed event name drops the catalog id the scanner found, so matching reads the new name")
    func eventNameResetsCatalogID() throws {
        var record = try Self.scanned(Self.body(key: "k"))
        #expect(record.catalogID != nil)
        record.eventName = "s3:ObjectRemoved:Delete"
        #expect(record.catalogID == nil)
        let rules = RuleSet(
            targets: [],
            rules: [Rule(name: "r", to: [], match: MatchSpec(events: ["s3:ObjectRemoved:*"]))]
        )
        #expect(rules.matcher.matchingRules(record) == [0])
    }
}
