import Foundation
import Testing

@testable import RelayCore

/// The decoder's two paths on one body: the scanner's fast path (`EventDecoder.decodeByScanner`, with the full
/// parse behind it in `decode`) and the full parse alone (`decodeByFullParse`). They must give the same
/// `DecodedBody`, records' JSON trees included.
enum ScannerCheck {
    /// Records an issue when the paths disagree; returns whether the scanner took the body itself.
    @discardableResult
    static func agree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let full = EventDecoder.decodeByFullParse(bytes)
        let decoded = EventDecoder.decode(bytes)
        let raw = bytes.withUnsafeBytes { EventDecoder.decode($0) }
        #expect(decoded == full, "decode and the full parse differ", sourceLocation: sourceLocation)
        #expect(raw == full, "decode of raw memory and the full parse differ", sourceLocation: sourceLocation)
        guard let scanned = EventDecoder.decodeByScanner(bytes) else { return false }
        #expect(scanned == full, "the scanner and the full parse differ", sourceLocation: sourceLocation)
        if case .events(let events) = scanned {
            for record in events.decodedRecords {
                #expect(!record.jsonSource.isParsed, "a scanned record holds a tree", sourceLocation: sourceLocation)
                #expect(record.json?.range == record.recordRange, sourceLocation: sourceLocation)
            }
        }
        return true
    }

    /// Every file under `directory` (recursively), by path relative to it.
    static func files(under directory: URL) -> [(String, [UInt8])] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            return []
        }
        var out: [(String, [UInt8])] = []
        for case let url as URL in enumerator where !url.hasDirectoryPath && url.pathExtension != "md" {
            guard let data = try? Data(contentsOf: url) else { continue }
            out.append((String(url.path.dropFirst(directory.path.count + 1)), [UInt8](data)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The project's fixtures, the fuzz seeds and, in a checkout beside it, the shared fixtures.
    static let fixtures: [(String, [UInt8])] = {
        let checkout = DecoderFixture.directory.deletingLastPathComponent().deletingLastPathComponent()
        let shared = checkout.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        let seeds = checkout.appendingPathComponent("Fuzz/seeds/events")
        return files(under: DecoderFixture.directory) + files(under: seeds).map { ("seeds/" + $0.0, $0.1) }
            + files(under: shared).map { ("shared/" + $0.0, $0.1) }
    }()

    static let putImage =
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/uploads/2026/cat.jpg","Records":[{"#
        + #""eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-01-12T17:58:12.011Z","#
        + #""eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minioadmin"},"#
        + #""responseElements":{"x-amz-request-id":"188A0D8A74A2F2BF"},"s3":{"bucket":{"name":"photos"},"#
        + #""object":{"key":"uploads%2F2026%2Fcat.jpg","size":48213,"contentType":"image/jpeg","#
        + #""userMetadata":{"X-Amz-Meta-Kind":"avatar","content-type":"image/jpeg"},"#
        + #""sequencer":"188A0D8A74975E28"}}}]}"#

    /// `putImage` with `old` (once in it) replaced by `new`.
    static func putImage(replacing old: String, with new: String) -> [UInt8] {
        Array(putImage.replacingOccurrences(of: old, with: new).utf8)
    }

    /// `text` with whitespace written around every structural character outside strings.
    static func spaced(_ text: String, _ space: String = " \n\t\r ") -> String {
        var out = ""
        var inString = false
        var escaped = false
        for character in text {
            if inString {
                out.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
                continue
            }
            switch character {
            case "\"":
                inString = true
                out.append(character)
            case "{", "}", "[", "]", ",", ":":
                out += space + String(character) + space
            default:
                out.append(character)
            }
        }
        return space + out + space
    }
}

@Suite("EventDecoder: the scanner's fast path and the full parse agree")
struct EventScannerTests {
    @Test("every fixture decodes the same both ways")
    func fixtures() throws {
        #expect(ScannerCheck.fixtures.count >= 30)
        for (name, bytes) in ScannerCheck.fixtures {
            let scanned = ScannerCheck.agree(bytes)
            // The common shapes take the fast path; the others fall back.
            let expected: Bool
            switch name {
            case "minio/blog-record.json", "shared/minio/blog-record.json": expected = false
            case _ where name.hasPrefix("minio/") || name.hasPrefix("shared/minio/"): expected = true
            case _ where name.hasPrefix("rgw/") || name.hasPrefix("shared/rgw/"): expected = true
            case "aws/two-records.json", "shared/aws/two-records.json": expected = true
            // versitygw's records look like AWS's (`eventSource` `aws:s3`) but read keys as they are: the scanner
            // leaves bodies with `"PrincipalId"` to the full parse, which tells them apart (`VersityGateway`).
            case "shared/other/versitygw-delete.json": expected = false
            case "seeds/scanner-escapes.json", "seeds/scanner-rgw-two-records.json": expected = true
            // The other seeds: either way, as long as both paths agree.
            case _ where name.hasPrefix("seeds/"): expected = scanned
            default: expected = false
            }
            #expect(scanned == expected, "\(name): scanned \(scanned)")
        }
    }

    @Test("every fixture spaced out with whitespace everywhere, and with a BOM")
    func whitespace() throws {
        for (name, bytes) in ScannerCheck.fixtures {
            guard let text = String(validating: bytes, as: UTF8.self) else { continue }
            let spaced = Array(ScannerCheck.spaced(text).utf8)
            let scanned = ScannerCheck.agree(spaced)
            #expect(scanned == (EventDecoder.decodeByScanner(bytes) != nil), "\(name)")
            ScannerCheck.agree([0xEF, 0xBB, 0xBF] + bytes)
        }
    }

    @Test("every prefix of a body (truncated) is refused alike")
    func truncated() throws {
        let bytes = Array(ScannerCheck.putImage.utf8)
        for end in 0..<bytes.count {
            let prefix = Array(bytes[..<end])
            #expect(EventDecoder.decodeByScanner(prefix) == nil)
            ScannerCheck.agree(prefix)
        }
        ScannerCheck.agree(bytes + Array(" x".utf8))
        ScannerCheck.agree(bytes + Array("}".utf8))
        ScannerCheck.agree(bytes + Array("\n\t ".utf8))
    }

    @Test("every single byte changed to a byte that matters to JSON")
    func mutated() throws {
        let bytes = Array(ScannerCheck.putImage.utf8)
        let replacements: [UInt8] = [
            0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x00, 0x0A, 0x20, 0x80, 0xC3, 0xFF,
        ]
        for position in bytes.indices {
            for replacement in replacements where bytes[position] != replacement {
                var changed = bytes
                changed[position] = replacement
                ScannerCheck.agree(changed)
            }
        }
    }

    @Test("escaped and unicode keys, names and values")
    func escapes() throws {
        let cases = [
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"uploads\/2026\/cat.jpg""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"caf\u00e9 \ud83d\ude00 \"q\" \\ \b\f\n\r\t""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"caf\u00E9+%C3%A9""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"\ud83d""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"\udc00x""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"\ud83d\u0041""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"\u12G4""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"\x""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"100%""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"%C3""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""k\u0065y":"a""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, "\"key\":\"\u{00E9}t\u{00E9} \u{1F600}\""),
            (#""name":"photos""#, #""name":"ph\u006ftos""#),
            (#""name":"photos""#, #""name":"""#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":"s3:ObjectCreated:P\u0075t","u"#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":"ObjectCreated:Put","u"#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":"Something:New","u"#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":"s3:Something:New","u"#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":"","u"#),
            (#""EventName":"s3:ObjectCreated:Put""#, #""EventName":"s3:ObjectCreated:P\u0075t""#),
            (#""Key":"photos/uploads/2026/cat.jpg""#, #""Key":"photos\/uploads\/2026\/cat.jpg""#),
            (#""Key":"photos/uploads/2026/cat.jpg""#, #""Key":"photos/uploads/2026/dog.jpg""#),
            (#""Key":"photos/uploads/2026/cat.jpg""#, #""Key":7"#),
            (#""Key":"photos/uploads/2026/cat.jpg""#, #""Key":null"#),
            (#""EventName":"s3:ObjectCreated:Put""#, #""EventName":null"#),
            (#""X-Amz-Meta-Kind":"avatar""#, #""X-Amz-Meta-K\u0069nd":"av\u0061tar""#),
            (#""X-Amz-Meta-Kind":"avatar""#, "\"X-Amz-Meta-\u{00DC}ber\":\"\u{00FC}\""),
            (#""X-Amz-Meta-Kind":"avatar""#, "\"X-Amz-Meta-\u{212A}\":\"1\",\"x-amz-meta-k\":\"2\""),
            (#""188A0D8A74A2F2BF""#, #""188A0D8A\u0037\u0034A2F2BF""#),
            (#""minio:s3""#, #""minio\u003as3""#),
            (#""minio:s3""#, #""ceph:s3""#),
            (#""minio:s3""#, #""aws:s3""#),
            (#""minio:s3""#, #""rustfs:s3""#),
            (#""minio:s3""#, #"null"#),
            (#""minio:s3""#, #"7"#),
        ]
        for (old, new) in cases {
            ScannerCheck.agree(ScannerCheck.putImage(replacing: old, with: new))
        }
        // A ceph record's key is taken as it is; others are form-unescaped.
        let ceph = ScannerCheck.putImage(replacing: #""minio:s3""#, with: #""ceph:s3""#)
        #expect(ScannerCheck.agree(ceph))
        let record = try DecoderFixture.record(ceph)
        #expect(record.key == "uploads%2F2026%2Fcat.jpg")
    }

    @Test("invalid UTF-8 and control characters, in read and in skipped strings")
    func invalidUTF8() throws {
        let sequences: [[UInt8]] = [
            [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0x80], [0xE0, 0xA0], [0xED, 0xA0, 0x80],
            [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xBF], [0xFE],
            [0x01], [0x1F], [0x7F], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80],
        ]
        let text = ScannerCheck.putImage
        for marker in ["cat.jpg\"", "minioadmin\"", "avatar\"", "2026-01-12", "188A0D8A74975E28\""] {
            let parts = text.components(separatedBy: marker)
            try #require(parts.count >= 2)
            for sequence in sequences {
                let body =
                    Array(parts[0].utf8) + sequence + Array((marker + parts.dropFirst().joined(separator: marker)).utf8)
                ScannerCheck.agree(body)
                // Just before a closing quote, and eight bytes on (the word-at-a-time loop's boundaries).
                for padding in 1...9 {
                    let padded =
                        Array(parts[0].utf8) + Array(repeating: UInt8(ascii: "a"), count: padding) + sequence
                        + Array((marker + parts.dropFirst().joined(separator: marker)).utf8)
                    ScannerCheck.agree(padded)
                }
            }
        }
    }

    @Test("duplicate member names anywhere are refused alike")
    func duplicates() throws {
        let cases = [
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"a","KEY":"b""#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":"a","key":"b""#),
            (#""principalId":"minioadmin""#, #""principalId":"a","PrincipalID":"b""#),
            (#""x-amz-request-id":"188A0D8A74A2F2BF""#, #""x-amz-request-id":"1","X-Amz-Request-Id":"2""#),
            (#""X-Amz-Meta-Kind":"avatar""#, #""X-Amz-Meta-Kind":"avatar","x-amz-meta-kind":"other""#),
            (#""Records":["#, #""records":1,"Records":["#),
            (#""Records":["#, #""EventName":1,"Records":["#),
            (#""bucket":{"name":"photos"}"#, #""bucket":{"name":"photos","NAME":"other"}"#),
            (#""s3":{"#, #""s3":{"a":{"b":[{"c":1,"c":2}]},"#),
            (#""s3":{"#, #""s3":{"a":{"b":[{"c":1},{"c":2}]},"#),
        ]
        for (old, new) in cases {
            ScannerCheck.agree(ScannerCheck.putImage(replacing: old, with: new))
        }
        // Many members in one object (beyond the pairwise check of the full parse), one repeated at the end.
        let many = (0..<40).map { #""m\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(ScannerCheck.agree(ScannerCheck.putImage(replacing: #""s3":{"#, with: #""s3":{\#(many),"#)))
        ScannerCheck.agree(ScannerCheck.putImage(replacing: #""s3":{"#, with: #""s3":{\#(many),"M3":0,"#))
        // More names open at once than the scanner keeps: the full parse decides.
        let wide = (0..<600).map { #""w\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(!ScannerCheck.agree(ScannerCheck.putImage(replacing: #""s3":{"#, with: #""s3":{\#(wide),"#)))
    }

    @Test("deep nesting: up to the parser's limit, and beyond it")
    func nesting() throws {
        // The record is at depth 3 (body, Records, record); `extra` levels below it.
        for extra in [1, 100, 508, 509, 510, 600] {
            let nested = String(repeating: "[", count: extra) + String(repeating: "]", count: extra)
            let body = ScannerCheck.putImage(replacing: #""s3":{"#, with: #""deep":\#(nested),"s3":{"#)
            let scanned = ScannerCheck.agree(body)
            #expect(scanned == (extra <= 509), "\(extra) levels")
            let objects = String(repeating: #"{"a":"#, count: extra) + "1" + String(repeating: "}", count: extra)
            ScannerCheck.agree(ScannerCheck.putImage(replacing: #""s3":{"#, with: #""deep":\#(objects),"s3":{"#))
        }
    }

    @Test("size in every spelling")
    func sizes() throws {
        let spellings = [
            "0", "1", "48213", "9223372036854775807", "9223372036854775808", "99999999999999999999", "-0", "-1",
            "1.0", "1.5", "1e3", "1E3", "1e+3", "1e-3", "0.0", "01", "-", "1.", "1e", ".5", "+1", "0x10", "\"48213\"",
            "null", "true", "false", "[]", "{}", "[1]", "1 ", " 1",
        ]
        for spelling in spellings {
            ScannerCheck.agree(ScannerCheck.putImage(replacing: #""size":48213"#, with: #""size":\#(spelling)"#))
        }
        #expect(ScannerCheck.agree(ScannerCheck.putImage(replacing: #""size":48213,"#, with: "")))
    }

    @Test("null and wrong-typed fields")
    func nulls() throws {
        let cases = [
            (#""contentType":"image/jpeg""#, #""contentType":null"#),
            (#""contentType":"image/jpeg""#, #""contentType":1"#),
            (#""userMetadata":{"#, #""userMetadata":null,"u":{"#),
            (#""userMetadata":{"#, #""userMetadata":[],"u":{"#),
            (#""X-Amz-Meta-Kind":"avatar""#, #""X-Amz-Meta-Kind":null"#),
            (#""X-Amz-Meta-Kind":"avatar""#, #""X-Amz-Meta-Kind":1"#),
            (#""eventTime":"2026-01-12T17:58:12.011Z""#, #""eventTime":null"#),
            (#""eventTime":"2026-01-12T17:58:12.011Z""#, #""eventTime":{"a":[1,2]}"#),
            (#""awsRegion":"""#, #""awsRegion":false"#),
            (#""responseElements":{"x-amz-request-id":"188A0D8A74A2F2BF"}"#, #""responseElements":null"#),
            (#""responseElements":{"x-amz-request-id":"188A0D8A74A2F2BF"}"#, #""responseElements":[1]"#),
            (#""x-amz-request-id":"188A0D8A74A2F2BF""#, #""x-amz-request-id":null"#),
            (#""sequencer":"188A0D8A74975E28""#, #""sequencer":null,"versionId":"""#),
            (#""sequencer":"188A0D8A74975E28""#, #""sequencer":1,"versionId":"v1""#),
            (#""sequencer":"188A0D8A74975E28""#, #""versionId":null,"eventId":"x""#),
            (#""userIdentity":"#, #""eventId":"e1","userIdentity":"#),
            (#""userIdentity":"#, #""eventId":7,"userIdentity":"#),
            (#""bucket":{"name":"photos"}"#, #""bucket":{"name":null}"#),
            (#""bucket":{"name":"photos"}"#, #""bucket":null"#),
            (#""bucket":{"name":"photos"}"#, #""bucket":{}"#),
            (#""key":"uploads%2F2026%2Fcat.jpg""#, #""key":null"#),
            (#""eventName":"s3:ObjectCreated:Put","u"#, #""eventName":null,"u"#),
            (#""Records":[{"#, #""Records":[1,{"#),
            (#"}}}]}"#, #"}}},{"eventSource":"aws:s3"}]}"#),
            (#"}}}]}"#, #"}}},[]]}"#),
            (#""Records":[{"#, #""Records":[],"x":[{"#),
            (#""Records":["#, #""Event":"s3:TestEvent","Records":["#),
            (#""Records":["#, #""source":"aws.s3","Records":["#),
        ]
        for (old, new) in cases {
            ScannerCheck.agree(ScannerCheck.putImage(replacing: old, with: new))
        }
        for body in [#"{"Records":[]}"#, #"{"Records":{}}"#, #"{"Records":null}"#, #"[]"#, #"{}"#, "7", #""s""#] {
            ScannerCheck.agree(Array(body.utf8))
        }
    }

    @Test("RGW metadata lists")
    func rgwMetadata() throws {
        let base = String(decoding: try DecoderFixture.bytes("rgw/put.json"), as: UTF8.self)
        let old = #""metadata":[{"key":"x-amz-meta-demo","val":"1"}]"#
        #expect(base.contains(old))
        let lists = [
            #"[]"#, "null", "{}", "1", #"[{"key":"x-amz-meta-demo","val":"1"},{"key":"X-AMZ-META-DEMO","val":"2"}]"#,
            #"[{"key":"x-amz-meta-demo","val":null},{"key":"X-AMZ-META-DEMO","val":"2"}]"#,
            #"[{"key":"x-amz-meta-demo"}]"#, #"[{"val":"1"}]"#, #"[{"key":1,"val":"1"}]"#,
            #"[{"key":"x-amz-meta-demo","val":1}]"#, #"[1]"#, #"[{"key":"x-amz-meta-\u00dc","val":"\u00fc"}]"#,
            #"[{"key":"x-amz-meta-ü","val":"1"},{"key":"X-AMZ-META-Ü","val":"2"}]"#,
            #"[{"key":"a","val":"1","other":[{}]},{"key":"b","val":"2"}]"#,
        ]
        for list in lists {
            ScannerCheck.agree(Array(base.replacingOccurrences(of: old, with: #""metadata":\#(list)"#).utf8))
        }
        // RGW's list and MinIO's map in one record, naming one entry twice or not.
        for user in [#"{"X-Amz-Meta-Demo":"9"}"#, #"{"other":"9"}"#] {
            let both = base.replacingOccurrences(of: old, with: old + #","userMetadata":\#(user)"#)
            ScannerCheck.agree(Array(both.utf8))
        }
    }

    @Test("records that patterns read: the tree is parsed from the record's text, with the body's ranges")
    func tree() throws {
        let bytes = try DecoderFixture.bytes("aws/two-records.json")
        let events = try DecoderFixture.events(bytes)
        #expect(events.decodedRecords.count == 2)
        for record in events.decodedRecords {
            let json = try #require(record.json)
            #expect(json.range == record.recordRange)
            #expect(json["s3"]?["bucket"]?["name"]?.stringValue == record.bucket)
        }
        // Set by code, the tree is held as given.
        var record = try #require(events.decodedRecords.first)
        record.json = nil
        #expect(record.json == nil)
        #expect(record.jsonSource.isParsed)
    }
}

@Suite("EventScanner.isValidUTF8")
struct EventScannerUTF8Tests {
    static func agrees(_ bytes: [UInt8]) -> Bool {
        let fast = bytes.withUnsafeBufferPointer { EventScanner.isValidUTF8($0) }
        return fast == (String(validating: bytes, as: UTF8.self) != nil)
    }

    @Test("agrees with String(validating:) on every one- and two-byte text and on the edges of longer sequences")
    func agreesWithTheStandardLibrary() {
        var disagreements: [[UInt8]] = []
        for first in UInt8.min...UInt8.max {
            if !Self.agrees([first]) { disagreements.append([first]) }
            for second in UInt8.min...UInt8.max where !Self.agrees([first, second]) {
                disagreements.append([first, second])
            }
        }
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        for lead in UInt8(0xC0)...UInt8(0xFF) {
            for second in UInt8.min...UInt8.max {
                for third in edges where !Self.agrees([lead, second, third]) {
                    disagreements.append([lead, second, third])
                }
                for third in edges {
                    for fourth in edges where !Self.agrees([lead, second, third, fourth]) {
                        disagreements.append([lead, second, third, fourth])
                    }
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }
}
