/// Writes JSON text fragments into a byte buffer.
public enum JSONWriter {
    /// Appends `s` as a JSON string literal, quotes included. Escapes `"`, `\`, control characters and
    /// U+2028/U+2029 (as Go's encoding/json does); other characters are written as raw UTF-8.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []
        while let b = utf8.next() {
            switch b {
            case 0x22:
                out.append(0x5C)
                out.append(0x22)
            case 0x5C:
                out.append(0x5C)
                out.append(0x5C)
            case 0x0A:
                out.append(0x5C)
                out.append(UInt8(ascii: "n"))
            case 0x0D:
                out.append(0x5C)
                out.append(UInt8(ascii: "r"))
            case 0x09:
                out.append(0x5C)
                out.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0x0F))
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
                pending.removeAll(keepingCapacity: true)
                pending.append(b)
                if let b1 = utf8.next() {
                    pending.append(b1)
                    if let b2 = utf8.next() {
                        pending.append(b2)
                    }
                }
                if pending.count == 3 && pending[1] == 0x80 && (pending[2] == 0xA8 || pending[2] == 0xA9) {
                    out.append(contentsOf: Array(pending[2] == 0xA8 ? "\\u2028".utf8 : "\\u2029".utf8))
                } else {
                    out.append(contentsOf: pending)
                }
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
