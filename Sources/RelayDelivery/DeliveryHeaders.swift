import RelayCore

/// The headers of a delivery request, the same for the delivery service and `replay`.
public enum DeliveryHeaders {
    /// The target's own headers, then `Content-Type` (by format), `User-Agent`, `webhook-id` (the delivery id, stable
    /// across attempts), `X-Relay-Rule`, `X-Relay-Attempt` (when given), and with signing secrets the Standard
    /// Webhooks `webhook-timestamp` and `webhook-signature`.
    /// - Parameters:
    ///   - now: the current time; its whole seconds are `webhook-timestamp`.
    public static func make(
        target: Target,
        deliveryID: String,
        rule: String?,
        attempt: Int?,
        body: [UInt8],
        now: Timestamp
    ) -> [(name: String, value: String)] {
        var headers = target.headers
        headers.append((name: "Content-Type", value: target.format.contentType))
        headers.append((name: "User-Agent", value: "bucket-relay/1"))
        headers.append((name: "webhook-id", value: deliveryID))
        if let attempt { headers.append((name: "X-Relay-Attempt", value: String(attempt))) }
        if let rule { headers.append((name: "X-Relay-Rule", value: rule)) }
        if !target.signingSecrets.isEmpty {
            let signer = WebhookSigner(secrets: target.signingSecrets)
            headers.append((name: "webhook-timestamp", value: String(now.secondsSince1970)))
            headers.append(
                (
                    name: "webhook-signature",
                    value: signer.signature(id: deliveryID, timestamp: now.secondsSince1970, body: body)
                )
            )
        }
        return headers
    }
}
