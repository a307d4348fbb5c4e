import Foundation
import Logging
import RelayServer

#if canImport(Glibc)
import Glibc
#endif

/// The text log format, one line per event on standard error:
/// `2026-05-01T12:00:00+0000 info bucket-relay: key=value key2=value2 [module] message`.
///
/// Every value it prints (the message, metadata keys and values, the label) goes through `LogText.escaped`, here and
/// only here: a newline or an escape sequence in an event name, a bucket or a dead letter's detail can neither start
/// a forged line nor reach the terminal, whatever the call site logs.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged: Logger.Metadata
        if let extra = event.metadata, !extra.isEmpty {
            merged = metadata.isEmpty ? extra : metadata.merging(extra) { _, new in new }
        } else {
            merged = metadata
        }
        var line = Self.format(
            time: Self.timestamp(),
            level: event.level,
            label: label,
            metadata: merged,
            source: event.source,
            message: event.message.description
        )
        line.withUTF8 { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, base + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// One line, `\n` included; every field escaped.
    static func format(
        time: String,
        level: Logger.Level,
        label: String,
        metadata: Logger.Metadata,
        source: String,
        message: String
    ) -> String {
        var line = ""
        line.reserveCapacity(256)
        line += time
        line += " "
        line += level.rawValue
        line += " "
        line += LogText.escaped(label)
        line += ":"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += LogText.escaped(key)
            line += "="
            line += LogText.escaped(value.description)
        }
        line += " ["
        line += LogText.escaped(source)
        line += "] "
        line += LogText.escaped(message)
        line += "\n"
        return line
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
