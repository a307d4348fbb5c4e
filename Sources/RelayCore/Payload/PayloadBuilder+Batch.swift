extension PayloadBuilder {
    /// The body of a batch (docs/delivery.md, "Batches"): `{"Records":[` + each member's record bytes, joined by
    /// `,` + `]}`. Members are the stored payloads of a `records` target, in batch order; each record's bytes are
    /// spliced in as stored (as received), never re-encoded.
    ///
    /// A member that is a `{"Records":[…]}` or MinIO envelope contributes its records; a member that is no such
    /// envelope (a delivery spooled under another format before the rules changed) is spliced in whole, so the body
    /// stays valid JSON and nothing is dropped.
    /// - Returns: JSON bytes; the same members give the same bytes.
    public static func batchBody(_ members: [[UInt8]]) -> [UInt8] {
        var total = 14
        for member in members { total += member.count + 1 }
        var out: [UInt8] = []
        out.reserveCapacity(total)
        append(#"{"Records":["#, to: &out)
        var first = true
        for member in members {
            if let ranges = batchRecordRanges(member) {
                for range in ranges {
                    if !first { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: member[range])
                    first = false
                }
            } else {
                if !first { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: member)
                first = false
            }
        }
        append("]}", to: &out)
        return out
    }

    /// The byte ranges of the records in a stored payload: the one record of `{"Records":[record]}` as
    /// ``recordsEnvelope(body:record:)`` writes it, found by a scan without a parse; otherwise the records of any
    /// `{"Records":[…]}` or MinIO envelope, found by the decoder; nil for anything else.
    public static func batchRecordRanges(_ payload: [UInt8]) -> [Range<Int>]? {
        let prefix: [UInt8] = Array(#"{"Records":["#.utf8)
        if payload.count > prefix.count + 2, payload.starts(with: prefix),
            let end = endOfContainer(payload, from: prefix.count),
            end == payload.count - 2, payload[end] == UInt8(ascii: "]"), payload[end + 1] == UInt8(ascii: "}")
        {
            return [prefix.count..<end]
        }
        guard case .events(let events) = EventDecoder.decode(payload), events.translatedBody == nil else { return nil }
        var ranges: [Range<Int>] = []
        for result in events.records {
            guard case .record(let record) = result else { return nil }
            ranges.append(record.recordRange)
        }
        return ranges.isEmpty ? nil : ranges
    }

    /// The index just past the JSON object or array that starts at `start`, scanning brackets and strings only
    /// (the payload was valid JSON when it was spooled); nil when `start` holds no `{` or `[`, or it never closes.
    private static func endOfContainer(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "{") || bytes[start] == UInt8(ascii: "[") else {
            return nil
        }
        var depth = 0
        var index = start
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default: break
                }
            }
            index += 1
        }
        return nil
    }
}
