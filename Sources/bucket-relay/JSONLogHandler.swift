import Foundation
import Logging
import RelayCore

/// A swift-log handler writing one JSON object per line to standard error:
/// `{"time":"…","level":"info","label":"bucket-relay","message":"…", <metadata as string fields>}`.
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
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    private static func timestamp() -> String {
        Date().formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
    }
}
