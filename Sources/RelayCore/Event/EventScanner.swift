/// The decoder's fast path: one walk over the raw bytes of a body in the common records shape, validating the JSON
/// as `JSONParser` does and reading only the fields an `EventRecord` holds, with no tree.
///
/// It takes a body only when it is sure of the answer and the answer is `.events` with every record decoded: a
/// top-level object of `Records` (and MinIO's `EventName` and `Key`) and nothing else, each record an object whose
/// `eventSource` is `minio:s3`, `aws:s3` or `ceph:s3`, every field the decoder reads of the type it wants, and no
/// object anywhere that repeats a member name (member names compared as the decoder compares them, or more
/// strictly: a name with an escape or a non-ASCII byte sends the body to the full parse). Anything else, a syntax
/// error included, returns nil and `EventDecoder` decodes the body by the full parse, which gives the answer and its
/// wording. So a body the scanner takes decodes to the same `DecodedBody` either way; the records hold their text
/// (`EventRecord.JSONSource.text`) rather than a tree, parsed only when a rule pattern reads the record.
enum EventScanner {
    /// The well-formed UTF-8 sequences a lead byte starts (RFC 3629): their length, and the range of their second
    /// byte (narrower after E0, ED, F0, F4: no overlong forms, surrogates or scalars past U+10FFFF); nil for a byte
    /// that starts none. Bytes after the second are 80...BF.
    @inline(__always)
    static func utf8Sequence(_ lead: UInt8) -> (length: Int, low: UInt8, high: UInt8)? {
        switch lead {
        case 0xC2...0xDF: (2, 0x80, 0xBF)
        case 0xE0: (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
        case 0xED: (3, 0x80, 0x9F)
        case 0xF0: (4, 0x90, 0xBF)
        case 0xF1...0xF3: (4, 0x80, 0xBF)
        case 0xF4: (4, 0x80, 0x8F)
        default: nil
        }
    }

    /// Member names held at once for the duplicate check (all open objects together); more sends the body to the
    /// full parse. 128 hashes are 1 KiB, which Swift's temporary allocation keeps on the stack (a larger one may go
    /// to the heap: a malloc and a free per body).
    static let maximumNames = 128

    /// The decoded body, or nil when the full parse must decide. `backing`, when given, holds the same bytes as
    /// `body` and is what the records' text refers to (no copy); otherwise the body is copied once.
    static func scan(_ body: UnsafeRawBufferPointer, backing: [UInt8]?) -> DecodedBody? {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: maximumNames) { names in
            var scanner = Scanner(bytes: body, names: names)
            do throws(Fallback) {
                return try scanner.scanBody(backing: backing)
            } catch {
                return nil
            }
        }
    }

    /// The known sources: other `eventSource`s go to the full parse (other decoders may claim them).
    static let minioSource = "minio:s3"
    static let awsSource = "aws:s3"
    static let cephSource = "ceph:s3"

    /// The string literal `token` of `body` (a record's lazy field, `EventRecord.LazyString`).
    static func string(_ body: [UInt8], _ token: StringToken) -> String {
        body.withUnsafeBytes { raw in
            guard token.start >= 0, token.start <= token.end, token.end <= raw.count else { return "" }
            return Scanner(bytes: raw, names: UnsafeMutableBufferPointer(start: nil, count: 0)).string(token)
        }
    }

    /// MinIO's `userMetadata` object at `start` of `body`, which the scan checked (a record's lazy metadata,
    /// `EventRecord.LazyMetadata`): names lower-cased, null values left out.
    static func userMetadata(_ body: [UInt8], at start: Int) -> [String: String] {
        body.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: maximumNames) { names in
                var scanner = Scanner(bytes: raw, names: names)
                scanner.index = start
                var metadata: [String: String] = [:]
                do throws(Fallback) {
                    try scanner.scanUserMetadata(&metadata)
                } catch {
                    return [:]
                }
                return metadata
            }
        }
    }

    /// Whether `bytes` are well-formed UTF-8 (Unicode's table 3-7, what `String(validating:)` accepts), checked
    /// without the generic validation's cost.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            guard let (length, low, high) = EventScanner.utf8Sequence(lead) else { return false }
            guard index + length <= bytes.count, bytes[index + 1] >= low, bytes[index + 1] <= high else { return false }
            for offset in 2..<max(2, length) where bytes[index + offset] < 0x80 || bytes[index + offset] > 0xBF {
                return false
            }
            index += length
        }
        return true
    }

    /// `EventNameCatalog.allNames` as bytes, so that a record's event name is the catalog's string (no allocation).
    static let catalogNames: [(bytes: [UInt8], name: String)] = EventNameCatalog.allNames.map { (Array($0.utf8), $0) }
}

/// The scanner cannot decide: the full parse does.
struct Fallback: Error {}

/// A string literal's content, between its quotes: `start..<end` indexes the body.
struct StringToken: Sendable, Equatable {
    var start: Int
    var end: Int
    /// Whether the content holds a `\` escape (the bytes are then not the string's UTF-8).
    var escaped: Bool
}

/// One object being read: where its member names start in the name buffer, and whether a member was read.
struct ObjectCursor {
    var mark: Int
    var first = true
}

private let ones: UInt64 = 0x0101_0101_0101_0101
private let highBits: UInt64 = 0x8080_8080_8080_8080
/// Bit 5 of every byte: set, it folds ASCII letters (see `remember(_:since:)`).
private let fold: UInt64 = 0x2020_2020_2020_2020

/// The high bit of each byte of `word` that ends a plain run of string bytes: a quote, a backslash, a control
/// character or a non-ASCII byte. A borrow only runs upwards, so the lowest flagged byte is always a real one.
@inline(__always)
private func specialBytes(_ word: UInt64) -> UInt64 {
    let quote = word ^ 0x2222_2222_2222_2222
    let backslash = word ^ 0x5C5C_5C5C_5C5C_5C5C
    return (word | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- fold) & ~word))
        & highBits
}

private struct Scanner {
    let bytes: UnsafeRawBufferPointer
    /// Folded hashes of the member names of the open objects, innermost last.
    let names: UnsafeMutableBufferPointer<UInt64>
    var nameCount = 0
    var index = 0
    var depth = 0

    init(bytes: UnsafeRawBufferPointer, names: UnsafeMutableBufferPointer<UInt64>) {
        self.bytes = bytes
        self.names = names
    }

    // MARK: - The body

    mutating func scanBody(backing: [UInt8]?) throws(Fallback) -> DecodedBody {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        let owner = backing ?? Array(bytes)
        var results: [RecordResult] = []
        var sawRecords = false
        var hasEnvelopeEventName = false
        var envelopeEventName: StringToken?
        var envelopeKey: StringToken?
        var firstMatchesEnvelope: Bool?
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            if equals(name, "Records") {
                sawRecords = true
                guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { throw Fallback() }
                var first = true
                try openArray()
                while try nextElement(&first) {
                    let record = try scanRecord(owner)
                    // MinIO sends `EventName` and `Key` first: compared now, the record is not copied out again.
                    if results.isEmpty, hasEnvelopeEventName, let envelopeEventName, let envelopeKey {
                        firstMatchesEnvelope = envelope(envelopeEventName, envelopeKey, matches: record)
                    }
                    results.append(.record(record))
                }
            } else if equals(name, "EventName") {
                hasEnvelopeEventName = true
                envelopeEventName = try optionalStringValue()
            } else if equals(name, "Key") {
                envelopeKey = try optionalStringValue()
            } else {
                // Another decoder's shape (EventBridge, a test event, a bare record, ...): the full parse decides.
                throw Fallback()
            }
        }
        skipWhitespace()
        guard index == bytes.count, sawRecords, !results.isEmpty else { throw Fallback() }
        guard hasEnvelopeEventName else { return .events(DecodedEvents(envelope: .records, records: results)) }
        var matchesRecord = false
        if results.count == 1, let envelopeEventName, let envelopeKey {
            if let firstMatchesEnvelope {
                matchesRecord = firstMatchesEnvelope
            } else if case .record(let record) = results[0] {
                matchesRecord = envelope(envelopeEventName, envelopeKey, matches: record)
            }
        }
        return .events(DecodedEvents(envelope: .minio, records: results, envelopeMatchesRecord: matchesRecord))
    }

    /// `EventDecoder.envelope(eventName:key:matches:)` on the tokens' bytes.
    func envelope(_ eventName: StringToken, _ key: StringToken, matches record: EventRecord) -> Bool {
        if eventName.escaped || key.escaped {
            return EventDecoder.envelope(
                eventName: JSONValue(kind: .string(string(eventName)), range: 0..<0),
                key: JSONValue(kind: .string(string(key)), range: 0..<0),
                matches: record
            )
        }
        let bucketCount = record.bucket.utf8.count
        guard key.end - key.start == bucketCount + 1 + record.key.utf8.count,
            bytes[key.start + bucketCount] == UInt8(ascii: "/")
        else { return false }
        return equals(eventName.start..<eventName.end, record.eventName)
            && equals(key.start..<(key.start + bucketCount), record.bucket)
            && equals((key.start + bucketCount + 1)..<key.end, record.key)
    }

    /// Whether `bytes[range]` are `text`'s UTF-8.
    func equals(_ range: Range<Int>, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { utf8 -> Bool in
            guard utf8.count == range.count else { return false }
            var position = range.lowerBound
            for byte in utf8 {
                if bytes[position] != byte { return false }
                position += 1
            }
            return true
        }
    }

    // MARK: - One record

    /// The record's fields as tokens; strings are made once the record is read.
    mutating func scanRecord(_ owner: [UInt8]) throws(Fallback) -> EventRecord {
        let start = index
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        var eventName: StringToken?
        var eventSource: String?
        var eventTime: StringToken?
        var awsRegion: StringToken?
        var requestID: StringToken?
        var eventID: StringToken?
        var object = ObjectFields()
        var bucket: StringToken?
        var sawS3 = false
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            switch name.end - name.start {
            case 9 where equals(name, "eventName"):
                eventName = try requiredString()
            case 11 where equals(name, "eventSource"):
                let token = try requiredString()
                eventSource = try knownSource(token)
            case 9 where equals(name, "eventTime"):
                eventTime = try informationalString()
            case 9 where equals(name, "awsRegion"):
                awsRegion = try informationalString()
            case 7 where equals(name, "eventId"):
                eventID = try informationalString()
            case 16 where equals(name, "responseElements"):
                requestID = try scanResponseElements()
            case 2 where equals(name, "s3"):
                sawS3 = true
                try scanS3(bucket: &bucket, object: &object)
            default:
                try skipValue()
            }
        }
        let range = start..<index
        guard sawS3, let eventName, let eventSource, let bucket, let keyToken = object.key else { throw Fallback() }
        guard eventName.end > eventName.start, bucket.end > bucket.start, keyToken.end > keyToken.start else {
            throw Fallback()
        }
        // The key's string is made once; `rawKey` only when it differs and is read (resend identities).
        let key: String
        let rawKey: EventRecord.LazyString
        let isCeph = eventSource == EventScanner.cephSource
        if keyToken.escaped {
            let raw = string(keyToken)
            if isCeph {
                key = raw
            } else {
                guard case .unescaped(let decoded) = EventDecoder.formUnescape(raw) else { throw Fallback() }
                key = decoded
            }
            rawKey = .value(raw)
        } else {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[keyToken.start..<keyToken.end])
            if isCeph || !raw.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) {
                key = String(decoding: raw, as: UTF8.self)
                rawKey = .value(nil)
            } else {
                let result = raw.withMemoryRebound(to: UInt8.self) { EventDecoder.formUnescape(bytes: $0) }
                guard case .unescaped(let decoded) = result else { throw Fallback() }
                key = decoded
                rawKey = .token(keyToken)
            }
        }
        // MinIO's map alone is made when read; with RGW's list the two are merged now (a name in both refuses the
        // record, which the full parse then words).
        var metadata: EventRecord.LazyMetadata = .value([:])
        if !object.rgwMetadata.isEmpty {
            var merged: [String: String] = [:]
            if let start = object.userMetadataStart { merged = EventScanner.userMetadata(owner, at: start) }
            merged.reserveCapacity(merged.count + object.rgwMetadata.count)
            for (name, value) in object.rgwMetadata where merged.updateValue(value, forKey: name) != nil {
                throw Fallback()
            }
            metadata = .value(merged)
        } else if let start = object.userMetadataStart {
            metadata = .userMetadata(start: start)
        }
        let (name, catalogID) = self.eventName(eventName)
        return EventRecord(
            scannedEventName: name,
            catalogID: catalogID,
            eventSource: eventSource,
            bucket: string(bucket),
            key: key,
            rawKey: rawKey,
            size: object.size,
            contentType: object.contentType.map { string($0) },
            body: owner,
            metadata: metadata,
            eventTime: Self.lazy(eventTime),
            awsRegion: Self.lazy(awsRegion),
            requestID: Self.lazy(requestID),
            sequencer: Self.lazy(object.sequencer),
            eventID: Self.lazy(eventID),
            versionID: Self.lazy(object.versionID),
            recordRange: range,
            jsonDepth: 2
        )
    }

    /// A field read later from the body, or absent.
    static func lazy(_ token: StringToken?) -> EventRecord.LazyString {
        token.map { .token($0) } ?? .value(nil)
    }

    /// What the record's `s3.object` holds for the decoder.
    struct ObjectFields {
        var key: StringToken?
        var size: Int64?
        var contentType: StringToken?
        var sequencer: StringToken?
        var versionID: StringToken?
        /// Where MinIO's `userMetadata` object starts, when it is one (checked: values are strings or null).
        var userMetadataStart: Int?
        /// RGW's entries with a value, in order, names lower-cased.
        var rgwMetadata: [(String, String)] = []
    }

    /// `eventSource`: one of the known sources; anything else goes to the full parse.
    func knownSource(_ token: StringToken) throws(Fallback) -> String {
        if equals(token, "minio:s3") { return EventScanner.minioSource }
        if equals(token, "aws:s3") { return EventScanner.awsSource }
        if equals(token, "ceph:s3") { return EventScanner.cephSource }
        throw Fallback()
    }

    /// The `s3:` form of the event name, the catalog's own string and id when it is a known name.
    func eventName(_ token: StringToken) -> (String, Int?) {
        if token.escaped {
            let raw = string(token)
            return (raw.utf8.starts(with: "s3:".utf8) ? raw : "s3:" + raw, nil)
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
        let prefixed =
            raw.count >= 3 && raw[0] == UInt8(ascii: "s") && raw[1] == UInt8(ascii: "3") && raw[2] == UInt8(ascii: ":")
        let length = prefixed ? raw.count : raw.count + 3
        let skipped = prefixed ? 0 : 3
        for (id, entry) in EventScanner.catalogNames.enumerated() where entry.bytes.count == length {
            let same = entry.bytes.withUnsafeBufferPointer { name in
                for offset in 0..<raw.count where raw[offset] != name[offset + skipped] { return false }
                return true
            }
            if same { return (entry.name, id) }
        }
        let text = String(decoding: raw, as: UTF8.self)
        return (prefixed ? text : "s3:" + text, nil)
    }

    /// `responseElements`: its `x-amz-request-id` when it is an object holding that string.
    mutating func scanResponseElements() throws(Fallback) -> StringToken? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            try skipValue()
            return nil
        }
        var requestID: StringToken?
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            if equals(name, "x-amz-request-id") {
                requestID = try informationalString()
            } else {
                try skipValue()
            }
        }
        return requestID
    }

    mutating func scanS3(bucket: inout StringToken?, object: inout ObjectFields) throws(Fallback) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        var sawBucket = false
        var sawObject = false
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            if equals(name, "bucket") {
                sawBucket = true
                guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
                var inner = try openObject()
                while let member = try nextMember(&inner) {
                    if equals(member, "name") {
                        bucket = try requiredString()
                    } else {
                        try skipValue()
                    }
                }
            } else if equals(name, "object") {
                sawObject = true
                try scanObject(&object)
            } else {
                try skipValue()
            }
        }
        guard sawBucket, sawObject else { throw Fallback() }
    }

    mutating func scanObject(_ fields: inout ObjectFields) throws(Fallback) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            switch name.end - name.start {
            case 3 where equals(name, "key"):
                fields.key = try requiredString()
            case 4 where equals(name, "size"):
                fields.size = try scanSize()
            case 11 where equals(name, "contentType"):
                fields.contentType = try optionalStringValue(strict: true)
            case 9 where equals(name, "sequencer"):
                fields.sequencer = try informationalString()
            case 9 where equals(name, "versionId"):
                fields.versionID = try informationalString()
            case 12 where equals(name, "userMetadata"):
                fields.userMetadataStart = try checkUserMetadata()
            case 8 where equals(name, "metadata"):
                try scanRGWMetadata(&fields.rgwMetadata)
            default:
                try skipValue()
            }
        }
    }

    /// `size`: null, or an integer in 0...Int64.max written without a sign, fraction or exponent.
    mutating func scanSize() throws(Fallback) -> Int64? {
        guard index < bytes.count else { throw Fallback() }
        if bytes[index] == UInt8(ascii: "n") {
            try expectLiteral("null")
            return nil
        }
        guard ASCII.isDigit(bytes[index]) else { throw Fallback() }
        let start = index
        try scanNumber()
        var value: Int64 = 0
        for position in start..<index {
            let byte = bytes[position]
            guard ASCII.isDigit(byte) else { throw Fallback() }
            let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflowA, !overflowB else { throw Fallback() }
            value = sum
        }
        return value
    }

    /// `userMetadata`: null (nil), or an object of strings and nulls, whose start is returned.
    mutating func checkUserMetadata() throws(Fallback) -> Int? {
        guard index < bytes.count else { throw Fallback() }
        if bytes[index] == UInt8(ascii: "n") {
            try expectLiteral("null")
            return nil
        }
        guard bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        let start = index
        var cursor = try openObject()
        while try nextMember(&cursor) != nil {
            _ = try optionalStringValue(strict: true)
        }
        return start
    }

    mutating func scanUserMetadata(_ metadata: inout [String: String]) throws(Fallback) {
        guard index < bytes.count else { throw Fallback() }
        if bytes[index] == UInt8(ascii: "n") {
            try expectLiteral("null")
            return
        }
        guard bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
        var cursor = try openObject()
        while let name = try nextMember(&cursor) {
            guard let value = try optionalStringValue(strict: true) else { continue }
            metadata[lowercasedName(name)] = string(value)
        }
    }

    mutating func scanRGWMetadata(_ entries: inout [(String, String)]) throws(Fallback) {
        guard index < bytes.count else { throw Fallback() }
        if bytes[index] == UInt8(ascii: "n") {
            try expectLiteral("null")
            return
        }
        guard bytes[index] == UInt8(ascii: "[") else { throw Fallback() }
        var first = true
        try openArray()
        while try nextElement(&first) {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Fallback() }
            var key: StringToken?
            var value: StringToken?
            var cursor = try openObject()
            while let name = try nextMember(&cursor) {
                if equals(name, "key") {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Fallback() }
                    key = try scanString()
                } else if equals(name, "val") {
                    value = try optionalStringValue(strict: true)
                } else {
                    try skipValue()
                }
            }
            guard let key else { throw Fallback() }
            guard let value else { continue }
            let name = EventDecoder.lowercasedName(string(key))
            // Two entries of one name: the full parse names the fault.
            if entries.contains(where: { $0.0 == name }) { throw Fallback() }
            entries.append((name, string(value)))
        }
    }

    // MARK: - Field values

    /// A string; any other type goes to the full parse.
    @inline(__always)
    mutating func requiredString() throws(Fallback) -> StringToken {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Fallback() }
        return try scanString()
    }

    /// A string, or nil for any other value (read and checked).
    @inline(__always)
    mutating func informationalString() throws(Fallback) -> StringToken? {
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") { return try scanString() }
        try skipValue()
        return nil
    }

    /// A string, or nil for null; with `strict`, any other type goes to the full parse, otherwise it is nil.
    mutating func optionalStringValue(strict: Bool = false) throws(Fallback) -> StringToken? {
        guard index < bytes.count else { throw Fallback() }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return try scanString()
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return nil
        default:
            if strict { throw Fallback() }
            try skipValue()
            return nil
        }
    }

    /// `EventDecoder.lowercasedName` of a member name (ASCII without escapes, `remember(_:since:)` made sure),
    /// made from its bytes in one step.
    func lowercasedName(_ name: StringToken) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[name.start..<name.end])
        if !raw.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return String(decoding: raw, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: raw.count) { out in
            for (offset, byte) in raw.enumerated() { out[offset] = ASCII.lowercased(byte) }
            return raw.count
        }
    }

    /// The token's string: its bytes as they are, or unescaped.
    func string(_ token: StringToken) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
        if !token.escaped { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var position = 0
        while position < raw.count {
            let byte = raw[position]
            guard byte == UInt8(ascii: "\\"), position + 1 < raw.count else {
                out.append(byte)
                position += 1
                continue
            }
            let escape = raw[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var value = Self.hexValue4(raw, position)
                position += 4
                if value >= 0xD800, value < 0xDC00, position + 6 <= raw.count {
                    let low = Self.hexValue4(raw, position + 2)
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                }
                JSONParser.appendUTF8(value, to: &out)
            default: out.append(escape)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Four hex digits the scan already checked.
    static func hexValue4(_ raw: UnsafeRawBufferPointer, _ position: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 where position + offset < raw.count {
            value = value << 4 | UInt32(ASCII.hexValue(raw[position + offset]) ?? 0)
        }
        return value
    }

    /// Whether the token's bytes are `literal` (a name or value without escapes).
    @inline(__always)
    func equals(_ token: StringToken, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard !token.escaped, token.end - token.start == count else { return false }
        let base = UnsafeRawPointer(literal.utf8Start)
        // Eight bytes at a time, then the rest (both sides are read within their bounds).
        var offset = 0
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: token.start + offset, as: UInt64.self)
            if word != base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
            offset += 8
        }
        while offset < count {
            if bytes[token.start + offset] != base.load(fromByteOffset: offset, as: UInt8.self) { return false }
            offset += 1
        }
        return true
    }

    // MARK: - Containers

    /// At `{`: enters the object.
    @inline(__always)
    mutating func openObject() throws(Fallback) -> ObjectCursor {
        depth += 1
        if depth > JSONParser.maximumDepth { throw Fallback() }
        index += 1
        return ObjectCursor(mark: nameCount)
    }

    /// The next member's name, with `index` at its value; nil (and the object left) at its `}`.
    @inline(__always)
    mutating func nextMember(_ cursor: inout ObjectCursor) throws(Fallback) -> StringToken? {
        skipWhitespace()
        guard index < bytes.count else { throw Fallback() }
        if cursor.first {
            cursor.first = false
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return nil
            }
        } else {
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                nameCount = cursor.mark
                return nil
            default:
                throw Fallback()
            }
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Fallback() }
        let name = try scanName(since: cursor.mark)
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Fallback() }
        index += 1
        skipWhitespace()
        return name
    }

    /// Adds a member name to the open object's names; a name it already has (ASCII letters folded, or a hash
    /// collision), or one with an escape or a non-ASCII byte, goes to the full parse.
    ///
    /// The names are hashed eight bytes at a time with bit 5 of every byte set, which folds ASCII letters (and also
    /// `@` with a backquote, `[` with `{`, `_` with DEL, ...: more names taken for one than the decoder takes, which
    /// only sends a body to the full parse).
    @inline(__always)
    mutating func remember(_ name: StringToken, since mark: Int) throws(Fallback) {
        guard !name.escaped else { throw Fallback() }
        var hash: UInt64 = 0
        var seen: UInt64 = 0
        var position = name.start
        while position + 8 <= name.end {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            seen |= word
            hash = Self.mix(hash, word | fold)
            position += 8
        }
        let rest = name.end - position
        if rest > 0 {
            var word: UInt64
            if position + 8 <= bytes.count {
                word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            } else {
                word = 0
                for offset in 0..<rest { word |= UInt64(bytes[position + offset]) &<< UInt64(offset &* 8) }
            }
            // 1 to 7 bytes are left: keep those.
            let mask = (1 &<< UInt64(truncatingIfNeeded: rest &* 8)) &- 1
            word &= mask
            seen |= word
            hash = Self.mix(hash, word | (fold & mask))
        }
        guard seen & highBits == 0 else { throw Fallback() }
        try add(Self.mix(hash, UInt64(truncatingIfNeeded: name.end - name.start)), since: mark)
    }

    /// Adds a name's hash to the open object's, unless it is there already.
    @inline(__always)
    mutating func add(_ hash: UInt64, since mark: Int) throws(Fallback) {
        for position in mark..<nameCount where names[position] == hash { throw Fallback() }
        guard nameCount < names.count else { throw Fallback() }
        names[nameCount] = hash
        nameCount += 1
    }

    /// At `"`: a member name, read and hashed in one pass (as `remember(_:since:)` hashes it) for a plain ASCII
    /// name with eight readable bytes past each word; any other name through `scanString()` and `remember`.
    @inline(__always)
    mutating func scanName(since mark: Int) throws(Fallback) -> StringToken {
        let open = index
        index += 1
        let start = index
        let count = bytes.count
        var hash: UInt64 = 0
        while index + 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let special = specialBytes(word)
            if special == 0 {
                hash = Self.mix(hash, word | fold)
                index += 8
                continue
            }
            let plain = special.trailingZeroBitCount >> 3
            guard bytes[index + plain] == UInt8(ascii: "\"") else { break }
            if plain > 0 {
                let mask = (1 &<< UInt64(truncatingIfNeeded: plain &* 8)) &- 1
                hash = Self.mix(hash, (word & mask) | (fold & mask))
            }
            let end = index + plain
            index = end + 1
            try add(Self.mix(hash, UInt64(truncatingIfNeeded: end - start)), since: mark)
            return StringToken(start: start, end: end, escaped: false)
        }
        index = open
        let name = try scanString()
        try remember(name, since: mark)
        return name
    }

    @inline(__always)
    static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        let mixed = (hash ^ word) &* 0x9E37_79B9_7F4A_7C15
        return mixed ^ (mixed >> 29)
    }

    /// At `[`: enters the array.
    @inline(__always)
    mutating func openArray() throws(Fallback) {
        depth += 1
        if depth > JSONParser.maximumDepth { throw Fallback() }
        index += 1
    }

    /// True with `index` at the next element; false (and the array left) at its `]`.
    @inline(__always)
    mutating func nextElement(_ first: inout Bool) throws(Fallback) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw Fallback() }
        if first {
            first = false
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return false
            }
            return true
        }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            skipWhitespace()
            return true
        case UInt8(ascii: "]"):
            index += 1
            depth -= 1
            return false
        default:
            throw Fallback()
        }
    }

    // MARK: - Values

    @inline(__always)
    mutating func skipWhitespace() {
        if index < bytes.count, bytes[index] > 0x20 { return }
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Reads and checks one value of any type.
    mutating func skipValue() throws(Fallback) {
        guard index < bytes.count else { throw Fallback() }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            var cursor = try openObject()
            while try nextMember(&cursor) != nil { try skipValue() }
        case UInt8(ascii: "["):
            var first = true
            try openArray()
            while try nextElement(&first) { try skipValue() }
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
        case UInt8(ascii: "f"):
            try expectLiteral("false")
        case UInt8(ascii: "n"):
            try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
        default:
            throw Fallback()
        }
    }

    @inline(__always)
    mutating func expectLiteral(_ literal: StaticString) throws(Fallback) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Fallback() }
        let base = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != base[offset] { throw Fallback() }
        index += count
    }

    /// RFC 8259's number grammar, as `JSONParser` reads it.
    mutating func scanNumber() throws(Fallback) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw Fallback() }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if ASCII.isDigit(bytes[index]) {
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        } else {
            throw Fallback()
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count && ASCII.isDigit(bytes[index]) else { throw Fallback() }
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard index < bytes.count && ASCII.isDigit(bytes[index]) else { throw Fallback() }
            while index < bytes.count && ASCII.isDigit(bytes[index]) { index += 1 }
        }
    }

    /// At `"`: reads a string literal, checking its escapes and its UTF-8; `index` ends after the closing quote.
    mutating func scanString() throws(Fallback) -> StringToken {
        index += 1
        let start = index
        var escaped = false
        let count = bytes.count
        while true {
            // Eight bytes at a time: on to the first that is a quote, a backslash, a control character or non-ASCII.
            // In each test the lowest flagged byte is a real one (a borrow only runs upwards), and the bytes are
            // loaded little-endian first, so the trailing zero bits count the plain bytes before it.
            if index + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let special = specialBytes(word)
                if special == 0 {
                    index += 8
                    continue
                }
                index += special.trailingZeroBitCount >> 3
            }
            guard index < count else { throw Fallback() }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let token = StringToken(start: start, end: index, escaped: escaped)
                index += 1
                return token
            case UInt8(ascii: "\\"):
                escaped = true
                try scanEscape()
            case 0..<0x20:
                throw Fallback()
            case 0x80...:
                try scanUTF8Sequence(byte)
            default:
                index += 1
            }
        }
    }

    /// At `\`: one escape, a `\u` surrogate pair as one.
    mutating func scanEscape() throws(Fallback) {
        guard index + 1 < bytes.count else { throw Fallback() }
        let escape = bytes[index + 1]
        index += 2
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let high = try hex4()
            if high >= 0xD800 && high < 0xDC00 {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else { throw Fallback() }
                index += 2
                let low = try hex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw Fallback() }
            } else if high >= 0xDC00 && high < 0xE000 {
                throw Fallback()
            }
        default:
            throw Fallback()
        }
    }

    mutating func hex4() throws(Fallback) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Fallback() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = ASCII.hexValue(bytes[index]) else { throw Fallback() }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// At a byte of 0x80 or more: one well-formed UTF-8 sequence (Unicode's table 3-7), or the full parse.
    mutating func scanUTF8Sequence(_ lead: UInt8) throws(Fallback) {
        guard let (length, low, high) = EventScanner.utf8Sequence(lead) else { throw Fallback() }
        guard index + length <= bytes.count else { throw Fallback() }
        let second = bytes[index + 1]
        guard second >= low, second <= high else { throw Fallback() }
        for offset in 2..<max(2, length) {
            let byte = bytes[index + offset]
            guard byte >= 0x80, byte <= 0xBF else { throw Fallback() }
        }
        index += length
    }
}
