import Foundation
import RelayCore

extension RelayRoutes {
    /// The challenge a 401 carries: SNS (and other HTTP clients with credentials in their URL) send Basic
    /// credentials only in answer to it.
    static let basicChallenge = #"Basic realm="bucket-relay", charset="UTF-8""#

    /// True when `header` is `Basic base64(user:password)` (the scheme case-insensitive, RFC 7617) and the password
    /// is the expected token, compared in constant time; any user name is accepted. This is how an SNS subscription
    /// authenticates: its endpoint URL is `https://relay:TOKEN@host/...` (docs/security.md).
    static func basicMatches(_ header: String, _ token: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ASCII.equalsIgnoringCase(parts[0], "basic") else { return false }
        let encoded = parts[1].trimmingCharacters(in: .whitespaces)
        guard encoded.utf8.count <= 4096, let decoded = Data(base64Encoded: encoded) else { return false }
        let credentials = Array(decoded)
        guard let colon = credentials.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let password = String(decoding: credentials[(colon + 1)...], as: UTF8.self)
        return constantTimeEqual(password, token)
    }
}
