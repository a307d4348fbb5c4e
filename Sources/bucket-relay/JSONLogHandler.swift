import Foundation
import Logging
import RelayCore

/// A swift-log handler writing one JSON object per line to standard error:
/// `{"time":"…","level":"info","label":"bucket-relay","message":"…", <metadata as string fields>}`.
///
/// JSON's string escaping keeps every value on its line (a newline is `\n`, an escape `\u001b`); the controls it
/// would leave raw are escaped too (``escapingTerminalControls(_:)``).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line: [UInt8] = Array(#"{"time":"#.utf8)
        JSONWriter.appendString(Self.timestamp(), to: &line)
        line.append(contentsOf: Array(#","level":"#.utf8))
        JSONWriter.appendString(event.level.rawValue, to: &line)
        line.append(contentsOf: Array(#","label":"#.utf8))
        JSONWriter.appendString(label, to: &line)
        line.append(contentsOf: Array(#","message":"#.utf8))
        JSONWriter.appendString(event.message.description, to: &line)
        var merged = metadata
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: ","))
            JSONWriter.appendString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            JSONWriter.appendString(value.description, to: &line)
        }
        line.append(contentsOf: Array("}\n".utf8))
        line = Self.escapingTerminalControls(line)
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// `line` with DEL, the C1 controls (U+0080-U+009F, e.g. U+009B, a CSI to some terminals) and the bidirectional
    /// overrides (U+202A-U+202E, U+2066-U+2069) written as JSON `\u` escapes, which JSON's own escaping leaves raw:
    /// the decoded values are the same, and `tail -f` of the log drives no terminal. Every one of them is inside a
    /// string, since the rest of a line is ASCII.
    static func escapingTerminalControls(_ line: [UInt8]) -> [UInt8] {
        guard line.contains(where: { $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(line.count + 16)
        func escape(_ scalar: UInt32) {
            let hex = String(scalar, radix: 16)
            out.append(contentsOf: Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8))
        }
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0x7F {
                escape(0x7F)
                index += 1
            } else if byte == 0xC2, index + 1 < line.count, (0x80...0x9F).contains(line[index + 1]) {
                escape(UInt32(line[index + 1]))
                index += 2
            } else if byte == 0xE2, index + 2 < line.count,
                line[index + 1] == 0x80 && (0xAA...0xAE).contains(line[index + 2])
                    || line[index + 1] == 0x81 && (0xA6...0xA9).contains(line[index + 2])
            {
                escape(0x2000 | UInt32(line[index + 1] & 0x3F) << 6 | UInt32(line[index + 2] & 0x3F))
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    private static func timestamp() -> String {
        Date().formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
    }
}
