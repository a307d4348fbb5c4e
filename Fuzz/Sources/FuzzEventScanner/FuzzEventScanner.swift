import FuzzSupport
import RelayCore

/// The decoder's fast path against the full parse: every input is decoded by `EventDecoder.decode` (the scanner
/// first), by the scanner alone and by the full parse alone (`decodeByFullParse`), as raw memory and as an array.
/// All must give the same `DecodedBody` (accept/reject, syntax errors, every record field, every range, each record's
/// JSON tree) and every string field the same bytes, not only canonically equal ones.
///
/// The input is also decoded inside three records (as the object key's JSON text, as the `size` value's text, and as
/// the text of a member of `s3.object`), so that mutations reach the scanner's field readers rather than stop at the
/// body's first bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventScanner(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let input = Array(raw)
    compare(input, raw: raw)
    for (head, tail) in templates {
        compare(Array(head.utf8) + input + Array(tail.utf8), raw: nil)
    }
    return 0
}

/// A record around the input: before and after it.
private let templates: [(String, String)] = [
    (
        #"{"EventName":"s3:ObjectCreated:Put","Key":"b/k","Records":[{"eventSource":"minio:s3","#
            + #""eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":""#,
        #"","size":1}}}]}"#
    ),
    (
        #"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"#
            + #""object":{"key":"k","size":"#,
        #"}}}]}"#
    ),
    (
        #"{"Records":[{"eventSource":"ceph:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"#
            + #""object":{"key":"k","#,
        #"}}}]}"#
    ),
]

private func compare(_ body: [UInt8], raw: UnsafeRawBufferPointer?) {
    let full = EventDecoder.decodeByFullParse(body)
    let decoded = EventDecoder.decode(body)
    FuzzCheck.require(decoded == full, "decode and the full parse differ:\n\(decoded)\n\(full)")
    sameBytes(decoded, full)
    if let raw {
        let fromRaw = EventDecoder.decode(raw)
        FuzzCheck.require(fromRaw == full, "decode(raw) and the full parse differ")
        sameBytes(fromRaw, full)
    }
    guard let scanned = EventDecoder.decodeByScanner(body) else { return }
    FuzzCheck.require(scanned == full, "the scanner and the full parse differ:\n\(scanned)\n\(full)")
    sameBytes(scanned, full)
    guard case .events(let events) = scanned else {
        FuzzCheck.require(false, "the scanner answered \(scanned), not records")
        return
    }
    for record in events.decodedRecords {
        FuzzCheck.require(record.json?.range == record.recordRange, "a scanned record's tree is not its range")
    }
}

/// Every string of the records in `a` and `b` has the same bytes.
private func sameBytes(_ a: DecodedBody, _ b: DecodedBody) {
    guard case .events(let left) = a, case .events(let right) = b else { return }
    for (x, y) in zip(left.decodedRecords, right.decodedRecords) {
        let pairs: [(String?, String?, String)] = [
            (x.eventName, y.eventName, "eventName"), (x.eventSource, y.eventSource, "eventSource"),
            (x.bucket, y.bucket, "bucket"), (x.key, y.key, "key"), (x.rawKey, y.rawKey, "rawKey"),
            (x.contentType, y.contentType, "contentType"), (x.eventTime, y.eventTime, "eventTime"),
            (x.awsRegion, y.awsRegion, "awsRegion"), (x.requestID, y.requestID, "requestID"),
            (x.sequencer, y.sequencer, "sequencer"), (x.eventID, y.eventID, "eventID"),
            (x.versionID, y.versionID, "versionID"),
        ]
        for (first, second, field) in pairs {
            FuzzCheck.require(
                first?.utf8.elementsEqual(second?.utf8 ?? "".utf8) ?? (second == nil),
                "\(field) differs in its bytes: \(Array(first?.utf8 ?? "".utf8)) and \(Array(second?.utf8 ?? "".utf8))"
            )
        }
        for (name, value) in x.metadata {
            guard let other = y.metadata.first(where: { FuzzCheck.sameBytes($0.key, name) }) else {
                FuzzCheck.require(false, "metadata name \(Array(name.utf8)) only on one side")
                return
            }
            FuzzCheck.require(FuzzCheck.sameBytes(other.value, value), "metadata \(name) differs in its bytes")
        }
    }
}
