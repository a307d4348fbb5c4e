/// Reads and writes sizes in bytes: a whole number with an optional unit, such as `1048576`, `512KiB`, `1MiB` or
/// `10MB`.
///
/// Units (case-insensitive, optionally after one space): `B`; decimal `KB`, `MB`, `GB`, `TB` (powers of 1000);
/// binary `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). Fractions and negative numbers are refused. Used by rule
/// files (`match.size`) and by the server's `--max-body` and `--spool-max` flags.
public enum ByteSize {
    /// Parses `text` into a number of bytes.
    /// - Throws: `UnitParseError` (`invalidByteSize`, or `outOfRange` above `Int64.max`).
    public static func parse(_ text: String) throws(UnitParseError) -> Int64 {
        let bytes = Array(text.utf8)
        var index = 0
        var value: Int64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = product.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow, !overflow2 else { throw tooLarge(text) }
            value = sum
            index += 1
        }
        guard index > 0 else { throw invalid(text) }
        var spaced = false
        if index < bytes.count, bytes[index] == UInt8(ascii: " ") {
            index += 1
            spaced = true
        }
        let unit = String(decoding: bytes[index...], as: UTF8.self).lowercased()
        guard let multiplier = multiplier(ofUnit: unit), !(spaced && unit.isEmpty) else {
            throw invalid(text)
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw tooLarge(text) }
        return result
    }

    /// Formats `bytes` with the largest unit that divides it exactly, binary first: `0B`, `512KiB`, `1MiB`, `10MB`,
    /// `1234B`. `parse` reads the result back to the same number.
    public static func format(_ bytes: Int64) -> String {
        guard bytes > 0 else { return "\(bytes)B" }
        let units: [(String, Int64)] = [
            ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000),
        ]
        for (name, size) in units where bytes % size == 0 {
            return "\(bytes / size)\(name)"
        }
        return "\(bytes)B"
    }

    private static func multiplier(ofUnit unit: String) -> Int64? {
        switch unit {
        case "", "b": 1
        case "kb": 1000
        case "mb": 1_000_000
        case "gb": 1_000_000_000
        case "tb": 1_000_000_000_000
        case "kib": 1 << 10
        case "mib": 1 << 20
        case "gib": 1 << 30
        case "tib": 1 << 40
        default: nil
        }
    }

    private static func invalid(_ text: String) -> UnitParseError {
        UnitParseError(
            code: .invalidByteSize,
            input: text,
            message: "\(text.quotedForMessage) is not a byte size; write a whole number with an optional unit "
                + "(B, KB, KiB, MB, MiB, GB, GiB), e.g. \"1048576\", \"512KiB\", \"10MB\""
        )
    }

    private static func tooLarge(_ text: String) -> UnitParseError {
        UnitParseError(
            code: .outOfRange,
            input: text,
            message: "\(text.quotedForMessage) is too large; the maximum is \(Int64.max) bytes (8EiB)"
        )
    }
}
