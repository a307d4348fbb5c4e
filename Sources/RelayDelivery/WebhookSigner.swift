import Crypto
import Foundation

/// Signs deliveries the Standard Webhooks way (https://www.standardwebhooks.com):
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`, one `v1,` entry per
/// secret (space-separated) so that a receiver can rotate secrets.
public struct WebhookSigner: Sendable {
    /// The HMAC keys' bytes (`SymmetricKey` is not `Sendable`).
    private let keys: [[UInt8]]

    /// - Parameter secrets: `whsec_<base64>` secrets (the key is the decoded bytes), or raw secrets (the key is their
    ///   UTF-8 bytes). A `whsec_` secret that is not base64 is used raw (the rule loader refuses those already).
    public init(secrets: [String]) {
        keys = secrets.map { secret in
            if secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst(6))) {
                return [UInt8](data)
            }
            return Array(secret.utf8)
        }
    }

    /// True when there is no secret to sign with.
    public var isEmpty: Bool { keys.isEmpty }

    /// The `webhook-signature` value for one attempt.
    /// - Parameters:
    ///   - id: the `webhook-id` (the delivery id).
    ///   - timestamp: the `webhook-timestamp`, seconds since the epoch.
    ///   - body: the exact bytes sent.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var message: [UInt8] = []
        message.reserveCapacity(id.utf8.count + 24 + body.count)
        message.append(contentsOf: id.utf8)
        message.append(UInt8(ascii: "."))
        message.append(contentsOf: String(timestamp).utf8)
        message.append(UInt8(ascii: "."))
        message.append(contentsOf: body)
        return keys.map { key in
            let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }
}
