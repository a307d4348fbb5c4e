import Crypto

/// Checks Backblaze B2's `X-Bz-Event-Notification-Signature` (docs/security.md, "Backblaze B2 signatures").
///
/// B2 signs each webhook request with its notification rule's signing secret: the header is `v1=` followed by the
/// lower-case hex of HMAC-SHA256 over the raw request body, keyed with the secret string's UTF-8 bytes as they are
/// (not base64-decoded). B2's own SDK accepts a comma-separated list of such values, any one of which may match; so
/// does this. The comparison is swift-crypto's, in constant time.
public struct B2Signature: Sendable {
    /// The header B2 puts the signature in.
    public static let headerName = "X-Bz-Event-Notification-Signature"

    /// The secret's UTF-8 bytes (a `SymmetricKey` is made per check: it is not `Sendable`).
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    /// - Parameter secret: the rule's signing secret (`serve --b2-signing-secret`), used as its UTF-8 bytes.
    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    /// Whether `header` (the signature header's value) holds a `v1=` signature of `body` under the secret.
    public func verifies(header: String, body: [UInt8]) -> Bool {
        var valid = false
        let key = self.key
        for part in header.split(separator: ",") {
            let value = part.trimmingSpaces
            guard value.utf8.starts(with: "v1=".utf8), let mac = Self.bytes(hex: value.utf8.dropFirst(3)) else {
                continue
            }
            // Every part is checked (no early exit), so the time taken does not depend on which part matched.
            if HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) { valid = true }
        }
        return valid
    }

    /// The header value B2 would send for `body`: `v1=<hex>` (for tests and stand-ins).
    public func header(for body: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("v1=".utf8)
        for byte in mac {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The 32 bytes of 64 hex digits (either case); nil otherwise.
    static func bytes(hex: some Collection<UInt8>) -> [UInt8]? {
        guard hex.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var high: UInt8?
        for digit in hex {
            guard let value = hexValue(digit) else { return nil }
            if let first = high {
                out.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return out
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
